// `npm run bench:monitor`: one full Monitor pass over 1,000 local relays (BENCH_RELAYS to change)
// through the real stack: Temporal dev server, the production worker entry
// (workers/start-workers.ts) in its own process, PostgreSQL, and the relays in another process
// (bench/local-relays.ts): 80% good (NIP-11 document, a few events), 20% dead, silent or slow.
// Every check runs, the write probe included (a monitor key is set). Prints wall time, relays/s,
// outcomes, the worker's peak RSS and CPU, the largest coordinator run's history and the rows
// stored in relay_metadata.
//
// Settings (environment): BENCH_TIMEOUT (networks.clearnet.timeout, default 5s), BENCH_SLOW_MS
// (the slow relays' delay, default 80% of the timeout), BENCH_CONCURRENCY
// (networks.clearnet.concurrency, default 100), BENCH_MAX_IN_FLIGHT (monitor.max_in_flight,
// default 100), BENCH_PAGE (monitor.page_size, default 1000), BENCH_WORKER_NODE_ARGS (extra node
// flags for the worker, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
//
// Measured on the 2-core machine (PostgreSQL 15, 1,000 relays, timeout 5s), wall time by
// clearnet concurrency / max_in_flight / page_size: 50/50/200 (the defaults) 85 s; 50/50/1000
// 50 s; 100/100/500 53 s; 100/100/1000 39-41 s; 200/200/1000 40-43 s; 500/500/1000 42-44 s;
// 1000/1000/1000 56 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import type { WorkflowHandle } from '@temporalio/client';
import { generateSecretKey } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { insertRelays } from '../activities/store.js';
import { durationMs, type CoordinatorPass, type CoordinatorStatus } from '../common/index.js';
import { coordinatorStatus } from '../workflows/coordinator.js';
import { busiestThreads, cpuOfAll, cpuSeconds, machineBusy, memory, processes, threadCpu } from './proc.js';
import { benchStack } from './stack.js';

const RELAYS = Number(process.env.BENCH_RELAYS ?? 1000);
const TIMEOUT = process.env.BENCH_TIMEOUT ?? '5s';
const TIMEOUT_MS = /^\d+$/.test(TIMEOUT) ? Number(TIMEOUT) : durationMs(TIMEOUT);
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? Math.round(TIMEOUT_MS * 0.8));
// Best wall time on the 2-core machine (figures in the header): one page for the whole
// pass (each page ends with a tail of waiting for its slowest relays), 100 relays at once (more
// only adds contention: the pass is CPU-bound).
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const MAX_IN_FLIGHT = Number(process.env.BENCH_MAX_IN_FLIGHT ?? 100);
const PAGE = Number(process.env.BENCH_PAGE ?? 1000);
const DEADLINE_MS = 15 * 60_000;
const say = (m: string) => console.log(`[bench:monitor] ${m}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { t, env, stop } = await benchStack();
let relaysProcess: ChildProcess | undefined;
let worker: ChildProcess | undefined;
try {
  // The relays, in their own process; their URLs come back as one line of JSON.
  say(`starting ${RELAYS.toLocaleString()} local relays (slow ones answer after ${SLOW_MS} ms; timeout ${TIMEOUT})`);
  relaysProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/local-relays.ts'], {
    env: { ...process.env, BENCH_RELAYS: String(RELAYS), BENCH_SLOW_MS: String(SLOW_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const urls = await new Promise<{ good: string[]; slow: string[]; silent: string[]; dead: string[] }>((resolve, reject) => {
    createInterface({ input: relaysProcess!.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    relaysProcess!.once('exit', (c) => reject(new Error(`the relays' process exited (${c})`)));
  });
  const kinds = Object.entries(urls).map(([k, v]) => `${v.length} ${k}`).join(', ');
  say(`relays up: ${kinds}`);

  const all = Object.values(urls).flat();
  const ins = await insertRelays(t.db, all.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
  if (ins.inserted !== RELAYS) throw new Error(`inserted ${ins.inserted} relays of ${RELAYS}: ${JSON.stringify(ins.rejected.slice(0, 3))}`);

  const taskQueue = 'bench-monitor';
  const settings = {
    BIGBROTR__networks__clearnet__timeout: TIMEOUT,
    BIGBROTR__networks__clearnet__concurrency: String(CONCURRENCY),
    BIGBROTR__monitor__max_in_flight: String(MAX_IN_FLIGHT),
    BIGBROTR__monitor__page_size: String(PAGE),
  };
  // as `npm run start-workers` does: the bundle is built first, in its own process
  await new Promise((r) => spawn(process.execPath, ['--import', 'tsx', 'workers/bundle-workflows.ts'], { stdio: 'ignore' }).on('exit', r));
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  worker = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'workers/start-workers.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: t.url,
      TEMPORAL_ADDRESS: env.address,
      BIGBROTR__temporal__task_queue: taskQueue,
      BIGBROTR__relay_url__allow_local: 'true',
      BIGBROTR__monitor__private_key: bytesToHex(generateSecretKey()),
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    worker!.stdout?.on('data', (d: Buffer) => String(d).includes('worker on ') && resolve());
    worker!.once('exit', (c) => reject(new Error(`worker exited (${c})`)));
  });
  const workerPid = worker.pid!;
  const relaysPid = relaysProcess.pid!;
  const idleRss = memory(workerPid).peak;
  // The Temporal dev server is this process's child (createLocal starts it).
  const temporalPid = processes().find((p) => p.ppid === process.pid && p.name.startsWith('temporal'))?.pid;
  const serverCpu = () => (temporalPid ? cpuSeconds(temporalPid) : 0);
  const threads0 = threadCpu(workerPid);
  const cpu0 = { worker: cpuSeconds(workerPid), relays: cpuSeconds(relaysPid), temporal: serverCpu(), postgres: cpuOfAll('postgres'), machine: machineBusy() };
  say(`settings: ${Object.entries(settings).map(([k, v]) => `${k.replace('BIGBROTR__', '').replaceAll('__', '.')}=${v}`).join(' ')}`);

  const t0 = Date.now();
  const first = await env.client.workflow.start('monitor', { taskQueue, workflowId: 'monitor', args: [{ interval: '1h' }] });
  // The coordinator continues as new after every page: the handle without a run id follows the latest run.
  const h = env.client.workflow.getHandle('monitor');
  const seenRuns = new Set<string>([first.firstExecutionRunId]);
  let status: CoordinatorStatus | undefined;
  let maxInFlight = 0;
  let lastReport = t0;
  for (;;) {
    await sleep(250);
    if (worker.exitCode !== null || worker.signalCode !== null) throw new Error(`the worker exited (${worker.exitCode ?? worker.signalCode})`);
    if (Date.now() - t0 > DEADLINE_MS) throw new Error(`no finished pass after ${DEADLINE_MS / 60_000} minutes (status: ${JSON.stringify(status)})`);
    try {
      status = await h.query(coordinatorStatus);
      seenRuns.add((await h.describe()).runId);
    } catch {
      continue; // between two runs of continue-as-new
    }
    maxInFlight = Math.max(maxInFlight, status.inFlight);
    if (status.last) break;
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      say(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${status.current?.done ?? 0} done, ${status.inFlight} in flight`);
    }
  }
  const wall = (Date.now() - t0) / 1000;
  const cpu = {
    worker: cpuSeconds(workerPid) - cpu0.worker,
    relays: cpuSeconds(relaysPid) - cpu0.relays,
    temporal: serverCpu() - cpu0.temporal,
    postgres: cpuOfAll('postgres') - cpu0.postgres,
    machine: machineBusy() - cpu0.machine,
  };
  const pass: CoordinatorPass = status.last;
  const threads = busiestThreads(workerPid, threads0, threadCpu(workerPid));
  // Every run of the chain, from the first: each closed run's last event names the next.
  const runs: Array<{ runId: string; historyLength: number }> = [];
  for (let runId: string | undefined = first.firstExecutionRunId; runId; ) {
    const run: WorkflowHandle = env.client.workflow.getHandle('monitor', runId);
    runs.push({ runId, historyLength: (await run.describe()).historyLength });
    const { events } = await run.fetchHistory();
    runId = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  for (const r of runs) seenRuns.add(r.runId);
  const largest = runs.reduce((a, b) => (b.historyLength > a.historyLength ? b : a));
  const stored = Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM relay_metadata')).rows[0]?.n);
  const byType = (await t.db.query<{ t: string; n: string }>('SELECT metadata_type AS t, count(*) AS n FROM relay_metadata GROUP BY 1 ORDER BY 1')).rows;
  // A sample of each kind's child workflows: how long one relay's check took, and its history.
  const childFigures = await Promise.all(
    Object.entries(urls).map(async ([kind, list]) => {
      const ds = await Promise.all(list.slice(0, 20).map((url) => env.client.workflow.getHandle(`monitor/${url}`).describe()));
      const secs = ds.map((d) => ((d.closeTime?.getTime() ?? NaN) - d.startTime.getTime()) / 1000).sort((a, b) => a - b);
      return `${kind} ${secs[Math.floor(secs.length / 2)]?.toFixed(1)}-${secs.at(-1)?.toFixed(1)} s (${Math.max(...ds.map((d) => d.historyLength))} events)`;
    }),
  );
  const o = pass.outcomes;
  const expected = { healthy: urls.good.length + urls.slow.length, partial: urls.silent.length, down: urls.dead.length };

  say(`relays monitored    ${pass.done.toLocaleString()} of ${RELAYS.toLocaleString()} in ${pass.pages} pages of ${PAGE}`);
  say(`wall time           ${wall.toFixed(1)} s (target <= 60 s)`);
  say(`throughput          ${(pass.done / wall).toFixed(1)} relays/s`);
  say(`outcomes            healthy ${o.healthy ?? 0}, partial ${o.partial ?? 0}, down ${o.down ?? 0}${o.error ? `, error ${o.error}` : ''} ` +
    `(expected ${expected.healthy}, ${expected.partial}, ${expected.down})`);
  say(`failure reasons     ${Object.entries(pass.reasons).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  say(`worker peak RSS     ${memory(workerPid).peak.toFixed(0)} MB (idle after start-up ${idleRss.toFixed(0)} MB)`);
  const pct = (x: number) => `${((100 * x) / wall).toFixed(0)}%`;
  say(`CPU during the pass worker ${cpu.worker.toFixed(1)} s (${pct(cpu.worker)} of a core), Temporal server ${cpu.temporal.toFixed(1)} s (${pct(cpu.temporal)}), ` +
    `PostgreSQL ${cpu.postgres.toFixed(1)} s (${pct(cpu.postgres)}), relays ${cpu.relays.toFixed(1)} s (${pct(cpu.relays)}); ` +
    `whole machine ${cpu.machine.toFixed(1)} s of ${(wall * cpus().length).toFixed(0)} (${cpus().length} cores)`);
  say(`worker threads      ${threads}`);
  say(`children in flight  at most ${maxInFlight} seen`);
  say(`child workflows     median-max duration of 20 of each kind: ${childFigures.join(', ')}`);
  say(`coordinator runs    ${runs.length} (${seenRuns.size} run ids seen); largest history ${largest.historyLength} events (run ${largest.runId}); ` +
    `all: ${runs.map((r) => r.historyLength).join(', ')}`);
  say(`relay_metadata      ${stored.toLocaleString()} rows (${byType.map((r) => `${r.t} ${r.n}`).join(', ')})`);
  await h.cancel();
} finally {
  await stop(worker, relaysProcess);
}
