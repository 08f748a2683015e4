// Driving `npm start` from the end-to-end tests as a user at a terminal would: start it in its own
// process group, wait for lines in its output, press Ctrl-C; and looking at processes through /proc.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A running `npm start`: its process, all it has printed so far, and how it ended (a signal's name or `exit <code>`). */
export interface Launch {
  child: ChildProcess;
  output: () => string;
  exited: Promise<string>;
}

/** Starts `npm start` in `cwd` (the project by default) with exactly `env`, in its own process group so that a signal reaches npm and everything under it, as Ctrl-C does. */
export function npmStart(env: NodeJS.ProcessEnv, cwd = ROOT): Launch {
  const child = spawn('npm', ['start'], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  return { child, output: () => out, exited };
}

/** The first match of `pattern` in the output from character `from` on, within `ms`; fails naming `what` if npm start exits or time runs out first. */
export async function waitFor(launch: Launch, pattern: RegExp, ms: number, what?: string, from = 0): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = launch.output().slice(from).match(pattern);
    if (m) return m;
    if (launch.child.exitCode !== null) assert.fail(`npm start exited (${launch.child.exitCode})${what ? ` before ${what}` : ''}:\n${launch.output()}`);
    if (Date.now() > deadline) assert.fail(`no ${what ? `${what} (${pattern})` : pattern} within ${ms / 1000} s:\n${launch.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls `check` until it holds; fails with "`what` within N s" once `ms` have passed. */
export async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How npm start ended (as `Launch.exited`), or `still running after N s` if it has not within `ms`. */
export async function exitOf(launch: Launch, ms: number): Promise<string> {
  return Promise.race([launch.exited, new Promise<string>((r) => setTimeout(() => r(`still running after ${ms / 1000} s`), ms).unref())]);
}

/** Ctrl-C on a running npm start (a no-op once it has exited): it must exit cleanly within 120 s, saying it stopped. */
export async function ctrlC(launch: Launch): Promise<void> {
  if (launch.child.exitCode !== null) return;
  process.kill(-(launch.child.pid as number), 'SIGINT');
  const how = await exitOf(launch, 120_000);
  // npm re-raises the SIGINT it forwarded once its child is done, as it does in a terminal.
  assert.ok(how === 'exit 0' || how === 'SIGINT', `npm start should exit cleanly on Ctrl-C, not ${how}:\n${launch.output()}`);
  assert.match(launch.output(), /\[bigbrotr\] stopped/);
}

/** Whether process `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Process `pid`'s command line, its arguments joined by spaces ('' once it is gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Pids under `pid` (the process tree, from /proc). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}
