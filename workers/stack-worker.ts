// The local stack's workers, as a child process of the launcher (workers/worker-child.ts) with the
// worker heap cap (heap.ts): a worker killed by its heap or a hostile relay takes only itself down,
// and stack-supervisor.ts starts it again. Its lines go to the launcher's output.
import { spawn } from 'node:child_process';
import { PROJECT_DIR } from './config.js';
import { freePort } from './embedded-postgres.js';
import { StartupError } from './errors.js';
import { workerNodeFlags } from './heap.js';

const ENTRY = new URL('./worker-child.ts', import.meta.url).pathname;
/** Long enough for a first start on a slow machine: the workflow bundle and the schema. */
const READY_WITHIN_MS = 5 * 60_000;

export interface RunningWorker {
  pid: number;
  logFile: string;
  /** Where it serves its /metrics (host:port on loopback); undefined with metrics off. */
  metrics?: string;
  /** Settles when it exits, with how ("exit 1", "signal SIGKILL"). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** Starts the worker process; resolves once its workers are built (the schema applied), or says why not. */
export async function startWorkerProcess(o: { databaseUrl: string; temporalAddress: string; metrics: boolean }): Promise<RunningWorker> {
  const metricsPort = o.metrics ? await freePort() : 0;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    BIGBROTR__metrics__host: '127.0.0.1',
    BIGBROTR__metrics__port: String(metricsPort),
  };
  // The launcher's values already include these; left in, they would override the two above.
  delete env.BIGBROTR__database__url;
  delete env.BIGBROTR__temporal__address;
  // The IPC channel carries `ready`, and its closing tells the child that the launcher is gone.
  const child = spawn(process.execPath, [...workerNodeFlags(), '--import', 'tsx', ENTRY], { cwd: PROJECT_DIR, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.once('error', () => {}); // a spawn failure also ends in 'exit'
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // the SDK's graceful shutdown: running activities are cancelled and end
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: { ready?: boolean }) => m?.ready && resolve());
      void exited.then((how) => reject(new StartupError(`the worker process (pid ${child.pid}) ended before it was ready (${how}); its output is above`)));
      timer = setTimeout(() => reject(new StartupError(`the worker process (pid ${child.pid}) was not ready within ${READY_WITHIN_MS / 60_000} minutes; its output is above`)), READY_WITHIN_MS);
    });
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { pid: child.pid as number, logFile: "the launcher's output", metrics: metricsPort ? `127.0.0.1:${metricsPort}` : undefined, exited, stop };
}
