// A worker process as production runs it (`npm run start-workers`: the prebuilt workflow bundle,
// then workers/start-workers.ts) on a test's database and Temporal server, in its own process
// group so that a SIGKILL takes npm and node down together, as a crashed machine would.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** 'SIGKILL', 'SIGINT', or `exit <code>`. */
  exited: Promise<string>;
  /** The whole process group (npm and its node). */
  kill(signal: NodeJS.Signals): void;
  /** The ids of the processes in its group (npm, the shell, node): a worker's identity is `<node pid>@<host>`. */
  pids(): number[];
}

/** Starts `npm run start-workers` with `env` on top of this process's environment; resolves once it serves its queues. */
export async function startWorkerProcess(env: NodeJS.ProcessEnv, opts: { timeoutMs?: number } = {}): Promise<WorkerProcess> {
  const child = spawn('npm', ['run', '--silent', 'start-workers'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: kill(-pid) reaches npm's node too
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  const w: WorkerProcess = {
    child,
    output: () => out,
    exited,
    kill(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    },
    pids() {
      return execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter(([, pgid]) => pgid === child.pid)
        .map(([pid]) => pid!);
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (!out.includes('worker on ')) {
    if (child.exitCode !== null) assert.fail(`the worker exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      w.kill('SIGKILL');
      assert.fail(`the worker did not start within ${(opts.timeoutMs ?? 120_000) / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return w;
}
