// `npm run bench:monitor`: the Monitor's first round over 1,000 local relays (BENCH_RELAYS to change)
// through the real stack: Temporal dev server, the production worker entry
// (workers/start-workers.ts) in its own process, PostgreSQL, and the relays in another process
// (bench/local-relays.ts): 80% good (NIP-11 document, a few events), 20% dead, silent or slow.
// Every check runs, the write probe included (a monitor key is set). The coordinator starts one
// workflow per relay, which checks it; the round is over when every relay has its outcomes stored.
// Prints wall time, relays/s, outcomes, the failures stored, the worker's peak RSS and CPU, the
// histories, and the rows in relay_check, relay_metadata, metadata and relay_backoff.
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
import { insertRelays } from '../activities/db/store.js';
import { durationMs } from '../common/index.js';
import { busiestThreads, cpuOfAll, cpuSeconds, machineBusy, memory, processes, threadCpu } from './proc.js';
import { benchStack } from './stack.js';
import { workerNodeFlags } from '../workers/heap.js';

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
    // Each relay's workflow checks it again 3 minutes later: the second round is
    // the steady state, every relay's workflow woken by its own timer.
    BIGBROTR__monitor__interval: '3m',
  };
  // as `npm run start-workers` does: the bundle is built first, in its own process
  await new Promise((r) => spawn(process.execPath, ['--import', 'tsx', 'workers/bundle-workflows.ts'], { stdio: 'ignore' }).on('exit', r));
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  worker = spawn(process.execPath, [...workerNodeFlags(), ...nodeArgs, '--import', 'tsx', 'workers/start-workers.ts'], {
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
  // The coordinator starts one workflow per relay (monitor/<url>), which checks its relay and
  // stores every outcome: the first round is over when every relay has outcomes in relay_check.
  const h = env.client.workflow.getHandle('monitor');
  const checkedRelays = async () => Number((await t.db.query<{ n: string }>('SELECT count(DISTINCT relay_url) AS n FROM relay_check')).rows[0]?.n);
  let checked = 0;
  let lastReport = t0;
  for (;;) {
    await sleep(250);
    if (worker.exitCode !== null || worker.signalCode !== null) throw new Error(`the worker exited (${worker.exitCode ?? worker.signalCode})`);
    if (Date.now() - t0 > DEADLINE_MS) throw new Error(`not every relay checked after ${DEADLINE_MS / 60_000} minutes (${checked} of ${RELAYS})`);
    checked = await checkedRelays();
    if (checked >= RELAYS) break;
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      say(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${checked} relays checked`);
    }
  }
  const wall = (Date.now() - t0) / 1000;
  const cpuRound1 = { worker: cpuSeconds(workerPid) - cpu0.worker, temporal: serverCpu() - cpu0.temporal };
  // The second round: from the first check of a relay's second to the last.
  const secondChecks = async () => Number((await t.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT relay_url FROM relay_check GROUP BY relay_url HAVING count(DISTINCT generated_at) >= 2) r`,
  )).rows[0]?.n);
  let round2Start = 0;
  for (let n = 0; n < RELAYS; n = await secondChecks()) {
    if (n > 0 && !round2Start) round2Start = Date.now();
    if (Date.now() - t0 > DEADLINE_MS) throw new Error(`no second round after ${DEADLINE_MS / 60_000} minutes (${n} of ${RELAYS})`);
    await sleep(250);
  }
  const round2 = (Date.now() - round2Start) / 1000;
  const cpu2 = { worker: cpuSeconds(workerPid) - cpu0.worker - cpuRound1.worker, temporal: serverCpu() - cpu0.temporal - cpuRound1.temporal };
  const cpu = {
    worker: cpuRound1.worker,
    relays: cpuSeconds(relaysPid) - cpu0.relays,
    temporal: cpuRound1.temporal,
    postgres: cpuOfAll('postgres') - cpu0.postgres,
    machine: machineBusy() - cpu0.machine,
  };
  const threads = busiestThreads(workerPid, threads0, threadCpu(workerPid));
  // Every run of the coordinator's chain, from the first: each closed run's last event names the next.
  const runs: Array<{ runId: string; historyLength: number }> = [];
  for (let runId: string | undefined = first.firstExecutionRunId; runId; ) {
    const run: WorkflowHandle = env.client.workflow.getHandle('monitor', runId);
    runs.push({ runId, historyLength: (await run.describe()).historyLength });
    const { events } = await run.fetchHistory();
    runId = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  const largest = runs.reduce((a, b) => (b.historyLength > a.historyLength ? b : a));
  const count = async (sql: string) => Number((await t.db.query<{ n: string }>(sql)).rows[0]?.n);
  const grouped = async (sql: string) => (await t.db.query<{ k: string; n: string }>(sql)).rows.map((r) => `${r.k} ${r.n}`).join(', ');
  // Per relay: down (its WebSocket did not open), partial (another check failed), healthy.
  const outcomes = Object.fromEntries((await t.db.query<{ k: string; n: string }>(
    `SELECT k, count(*) AS n FROM (
       SELECT relay_url, CASE WHEN bool_or(check_name = 'open' AND outcome = 'failed') THEN 'down'
                              WHEN bool_or(outcome = 'failed') THEN 'partial' ELSE 'healthy' END AS k
       FROM relay_check GROUP BY relay_url) r GROUP BY k`,
  )).rows.map((r) => [r.k, Number(r.n)]));
  // A sample of each kind's relay workflows, waiting after their first check: their history.
  const childFigures = await Promise.all(
    Object.entries(urls).map(async ([kind, list]) => {
      const ds = await Promise.all(list.slice(0, 20).map((url) => env.client.workflow.getHandle(`monitor/${url}`).describe()));
      return `${kind} ${Math.max(...ds.map((d) => d.historyLength))} events`;
    }),
  );
  const expected = { healthy: urls.good.length + urls.slow.length, partial: urls.silent.length, down: urls.dead.length };

  say(`relays checked      ${checked.toLocaleString()} of ${RELAYS.toLocaleString()} (each by its own workflow, monitor/<url>)`);
  say(`wall time           ${wall.toFixed(1)} s (target <= 60 s)`);
  say(`throughput          ${(checked / wall).toFixed(1)} relays/s`);
  say(`second round         ${round2.toFixed(1)} s from its first check to its last (each relay's own timer, 3 min after its first check); ` +
    `CPU worker ${cpu2.worker.toFixed(1)} s, Temporal server ${cpu2.temporal.toFixed(1)} s`);
  say(`outcomes            healthy ${outcomes.healthy ?? 0}, partial ${outcomes.partial ?? 0}, down ${outcomes.down ?? 0} ` +
    `(expected ${expected.healthy}, ${expected.partial}, ${expected.down})`);
  say(`failures stored     ${await grouped(`SELECT check_name || ' ' || code AS k, count(*) AS n FROM relay_check WHERE outcome = 'failed' GROUP BY 1 ORDER BY 2 DESC`) || 'none'}`);
  say(`worker peak RSS     ${memory(workerPid).peak.toFixed(0)} MB (idle after start-up ${idleRss.toFixed(0)} MB)`);
  const pct = (x: number) => `${((100 * x) / wall).toFixed(0)}%`;
  say(`CPU, first round  worker ${cpu.worker.toFixed(1)} s (${pct(cpu.worker)} of a core), Temporal server ${cpu.temporal.toFixed(1)} s (${pct(cpu.temporal)}), ` +
    `PostgreSQL ${cpu.postgres.toFixed(1)} s (${pct(cpu.postgres)}), relays ${cpu.relays.toFixed(1)} s (${pct(cpu.relays)}); ` +
    `whole machine ${cpu.machine.toFixed(1)} s of ${(wall * cpus().length).toFixed(0)} (${cpus().length} cores)`);
  say(`worker threads      ${threads}`);
  say(`relay workflows     largest history of 20 of each kind: ${childFigures.join(', ')}`);
  say(`coordinator runs    ${runs.length}; largest history ${largest.historyLength} events; all: ${runs.map((r) => r.historyLength).join(', ')}`);
  say(`relay_check (2 rounds) ${(await count('SELECT count(*) AS n FROM relay_check')).toLocaleString()} rows (${await grouped('SELECT outcome AS k, count(*) AS n FROM relay_check GROUP BY 1 ORDER BY 1')})`);
  say(`relay_metadata (2 rounds) ${(await count('SELECT count(*) AS n FROM relay_metadata')).toLocaleString()} rows (${await grouped('SELECT metadata_type AS k, count(*) AS n FROM relay_metadata GROUP BY 1 ORDER BY 1')})`);
  say(`metadata            ${(await count('SELECT count(*) AS n FROM metadata')).toLocaleString()} documents (content-addressed: failures that repeat share one)`);
  say(`relay_backoff       ${(await count('SELECT count(*) AS n FROM relay_backoff')).toLocaleString()} rows (${await grouped('SELECT failures || \' failure(s), step \' || step AS k, count(*) AS n FROM relay_backoff GROUP BY 1 ORDER BY 1')})`);
  await cancelMonitor(h);
} finally {
  await stop(worker, relaysProcess);
}

/** Cancels the coordinator, which cancels every relay's workflow; waits until they have ended. */
async function cancelMonitor(h: WorkflowHandle): Promise<void> {
  await h.cancel();
  await h.result().catch(() => {});
}
