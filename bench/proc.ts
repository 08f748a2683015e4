// What the benchmarks read of their processes on Linux, from /proc: memory, CPU time (of a
// process, its threads, every process of a name, the whole machine), and how they stop the
// processes they started.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A process's memory in MB: resident now (VmRSS) and its peak (VmHWM). */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: mb('VmRSS'), peak: mb('VmHWM') };
}

/** CPU seconds (user + system) a process has used so far; with `reaped`, its ended children's too. */
export function cpuSeconds(pid: number, reaped = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  // utime, stime, cutime, cstime in clock ticks (USER_HZ = 100)
  return ((f[11] ?? 0) + (f[12] ?? 0) + (reaped ? (f[13] ?? 0) + (f[14] ?? 0) : 0)) / 100;
}

/** Processes (pid, parent, name) from /proc. */
export function processes(): Array<{ pid: number; ppid: number; name: string }> {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(st.replace(/^.*\) /, '').split(' ')[1]);
      return [{ pid: Number(pid), ppid, name: /\((.*)\)/.exec(st)?.[1] ?? '' }];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/**
 * CPU seconds of every process named `name` and of its exited children (PostgreSQL: the
 * postmaster, its backends, and the backends that have ended; the server may serve others too).
 */
export function cpuOfAll(name: string): number {
  const all = processes().filter((p) => p.name === name);
  return all.reduce((sum, p) => {
    try {
      return sum + cpuSeconds(p.pid, !all.some((q) => q.pid === p.ppid));
    } catch {
      return sum;
    }
  }, 0);
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusy(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

/** CPU seconds of each thread of a process, by thread id, with its name. */
export function threadCpu(pid: number): Map<number, { name: string; cpu: number }> {
  return new Map(readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.replace(/^.*\) /, '').split(' ');
      return [[Number(tid), { name: /\((.*)\)/.exec(st)?.[1] ?? '?', cpu: (Number(f[11]) + Number(f[12])) / 100 }] as const];
    } catch {
      return []; // ended meanwhile
    }
  }));
}

/**
 * The threads of process `pid` that used the most CPU between two readings of threadCpu (in a
 * worker: `main` runs the activities, a node worker thread the workflows, tokio the SDK's core).
 */
export function busiestThreads(pid: number, before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>, n = 6): string {
  return [...after]
    .map(([tid, t]) => ({ tid, name: tid === pid ? 'main' : t.name, cpu: t.cpu - (before.get(tid)?.cpu ?? 0) }))
    .filter((t) => t.cpu >= 0.5)
    .sort((a, b) => b.cpu - a.cpu)
    .slice(0, n)
    .map((t) => `${t.name}[${t.tid}] ${t.cpu.toFixed(1)} s`)
    .join(', ');
}

export const exited = (p: ChildProcess): Promise<void> =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r()));

/** Stops the worker gracefully (SIGINT, as Ctrl-C) and the relays' process, waiting for both. */
export async function stopProcesses(worker: ChildProcess | undefined, relays: ChildProcess | undefined): Promise<void> {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGINT');
    await exited(worker);
  }
  if (relays && relays.exitCode === null) {
    relays.kill('SIGTERM');
    await exited(relays);
  }
}
