// `npm run bench:sync`: the Synchronizer archiving 1,000,000 events (BENCH_EVENTS to change)
// through the real stack: Temporal dev server, the production worker entry
// (workers/start-workers.ts) in its own process, PostgreSQL, and local relays in another process
// (bench/sync-relays.ts). Two passes, each one `syncRelay` workflow per relay started with the
// client: first BENCH_RELAYS relays (default 4) holding disjoint shares of the events (new-event
// throughput: every event verified and stored), then as many holding the same events moved by
// one relay (known-event throughput: every event seen again on another relay, id-checked and
// linked). A pass ends when every workflow's cursor is past the last event; the archive's counts
// are then checked. Prints wall time and events/s per pass, the worker's RSS (peak, and at each
// quarter of each pass), CPU by process and by worker thread, the largest workflow history
// among the sync workflows, the verifier the worker used, and this machine's speed (bench/calibrate.ts).
//
// Also prints the relay traffic per stored event: events received per event stored, REQs per
// 1,000 events stored, pages (REQs beyond a window's first, spent proving it complete) and gaps.
//
// Settings (environment): BENCH_LIMIT (synchronizer.limit, default 500: the shipped config's),
// BENCH_RELAY_CAP (the relays' silent cap per REQ, default 500; 0: none), BENCH_MAX_WINDOW
// (synchronizer.max_window, default: the shipped config's), BENCH_SPAN (seconds the events spread over, default one
// per event), BENCH_VERIFY_THREADS (the worker's BIGBROTR_VERIFY_THREADS; unset: its default),
// BENCH_VERIFIER=wasm (the fallback verifier), BENCH_WORKER_NODE_ARGS (extra node flags for the
// worker, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import type { WorkflowHandle } from '@temporalio/client';
import { insertRelays } from '../activities/db/store.js';
import type { SyncStatus } from '../common/index.js';
import { workerNodeFlags } from '../workers/heap.js';
import type { TestDatabase } from '../test/helpers/db.js';
import { busiestThreads, cpuOfAll, cpuSeconds, machineBusy, memory, processes, threadCpu } from './proc.js';
import { nativeVerifyRate } from './calibrate.js';
import { benchStack } from './stack.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const LIMIT = process.env.BENCH_LIMIT ?? '500';
const RELAY_CAP = process.env.BENCH_RELAY_CAP ?? '500';
const MAX_WINDOW = process.env.BENCH_MAX_WINDOW;
const DEADLINE_MS = 30 * 60_000;
const say = (m: string) => console.log(`[bench:sync] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const count = async (t: TestDatabase, table: string) => Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

// Read first, with the machine idle: the speed this run's figures should be read against.
const verifyRate = await nativeVerifyRate();
const { t, env, stop } = await benchStack();
let relaysProcess: ChildProcess | undefined;
let worker: ChildProcess | undefined;
try {
  say(`starting the relays (${EVENTS.toLocaleString()} events; the first run signs them and caches them in .bench-cache/)`);
  relaysProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/sync-relays.ts'], {
    env: { ...process.env, BENCH_EVENTS: String(EVENTS), BENCH_RELAY_CAP: RELAY_CAP },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const relays = await new Promise<{ fresh: string[]; again: string[]; events: number; first: number; last: number }>((resolve, reject) => {
    createInterface({ input: relaysProcess!.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    relaysProcess!.once('exit', (c) => reject(new Error(`the relays' process exited (${c})`)));
  });
  // A sync workflow ends when its relay is not in the relay table.
  const all = [...relays.fresh, ...relays.again];
  await insertRelays(t.db, all.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });

  const settings: Record<string, string> = {
    BIGBROTR__synchronizer__start: String(relays.first),
    BIGBROTR__synchronizer__limit: LIMIT,
  };
  if (MAX_WINDOW) settings.BIGBROTR__synchronizer__max_window = MAX_WINDOW;
  if (process.env.BENCH_VERIFY_THREADS) settings.BIGBROTR_VERIFY_THREADS = process.env.BENCH_VERIFY_THREADS;
  if (process.env.BENCH_VERIFIER) settings.BIGBROTR_VERIFIER = process.env.BENCH_VERIFIER;
  // as `npm run start-workers` does: the bundle is built first, in its own process
  await new Promise((r) => spawn(process.execPath, ['--import', 'tsx', 'workers/bundle-workflows.ts'], { stdio: 'ignore' }).on('exit', r));
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // as `npm run start-workers` runs it: with the same heap cap (workers/heap.ts)
  worker = spawn(process.execPath, [...workerNodeFlags(), ...nodeArgs, '--import', 'tsx', 'workers/start-workers.ts'], {
    env: { ...process.env, DATABASE_URL: t.url, TEMPORAL_ADDRESS: env.address, BIGBROTR__relay_url__allow_local: 'true', ...settings },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let verifier = '(not logged: no event was verified)';
  createInterface({ input: worker.stdout! }).on('line', (line) => {
    const m = /event verifier: (.*)/.exec(line);
    if (m) verifier = m[1]!;
  });
  await new Promise<void>((resolve, reject) => {
    worker!.stdout?.on('data', (d: Buffer) => String(d).includes('worker on ') && resolve());
    worker!.once('exit', (c) => reject(new Error(`worker exited (${c})`)));
  });
  const workerPid = worker.pid!;
  const idle = memory(workerPid);
  say(`relays: silent cap ${RELAY_CAP === '0' ? 'none' : `${RELAY_CAP} events a REQ`}, no NIP-11, no NIP-77`);
  say(`settings: ${Object.entries(settings).map(([k, v]) => `${k.replace(/^BIGBROTR_+/, '').replaceAll('__', '.')}=${v}`).join(' ')}`);

  const temporalPid = processes().find((p) => p.ppid === process.pid && p.name.startsWith('temporal'))?.pid;
  const cpu = () => ({
    worker: cpuSeconds(workerPid),
    relays: cpuSeconds(relaysProcess!.pid!),
    temporal: temporalPid ? cpuSeconds(temporalPid) : 0,
    postgres: cpuOfAll('postgres'),
    machine: machineBusy(),
    threads: threadCpu(workerPid),
  });

  const firstRuns = new Map<string, string>();
  const traffic: number[] = [];
  const rssSamples: number[] = [];
  /** One pass: a sync workflow per relay, until every cursor is past the last event. */
  async function pass(name: string, urls: string[], target: number) {
    const cpu0 = cpu();
    const t0 = Date.now();
    for (const url of urls) {
      const h = await env.client.workflow.start('syncRelay', { taskQueue: 'bigbrotr', workflowId: `sync/${url}`, args: [{ url, network: 'clearnet' }] });
      firstRuns.set(h.workflowId, h.firstExecutionRunId);
    }
    // Progress is the workflows' cursors across the events' time range (their status query: no
    // load on PostgreSQL, where a count(*) of a growing table would compete with the pass).
    const quarters: string[] = [];
    let statuses: SyncStatus[] = [];
    let lastReport = t0;
    for (;;) {
      await sleep(500);
      if (worker!.exitCode !== null || worker!.signalCode !== null) throw new Error(`the worker exited (${worker!.exitCode ?? worker!.signalCode})`);
      if (Date.now() - t0 > DEADLINE_MS) throw new Error(`${name}: not done after ${DEADLINE_MS / 60_000} minutes`);
      try {
        statuses = await Promise.all(urls.map((url) => env.client.workflow.getHandle(`sync/${url}`).query<SyncStatus>('status')));
      } catch {
        continue; // a workflow between two runs (continue-as-new)
      }
      const span = relays.last - relays.first + 1;
      const progress = statuses.reduce((a, s) => a + Math.min(span, Math.max(0, s.cursor - relays.first + 1)), 0) / (span * urls.length);
      const rss = memory(workerPid).rss;
      rssSamples.push(rss);
      while (quarters.length < 4 && progress >= (quarters.length + 1) / 4) quarters.push(`${(quarters.length + 1) * 25}% ${rss.toFixed(0)} MB`);
      if (progress >= 1) break;
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        say(`  ${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${(100 * progress).toFixed(0)}% of the time range, worker RSS ${rss.toFixed(0)} MB`);
      }
    }
    const wall = (Date.now() - t0) / 1000;
    const cpu1 = cpu();
    const sum = (f: (s: SyncStatus) => number) => statuses.reduce((a, s) => a + f(s), 0);
    const invalid = statuses.flatMap((s) => Object.entries(s.invalid)).map(([k, v]) => `${k} ${v}`);
    const d = (k: 'worker' | 'relays' | 'temporal' | 'postgres' | 'machine') => cpu1[k] - cpu0[k];
    const pct = (x: number) => `${((100 * x) / wall).toFixed(0)}%`;
    say(`${name}: ${target.toLocaleString()} events in ${wall.toFixed(1)} s = ${Math.round(target / wall).toLocaleString()} events/s`);
    say(`  windows ${sum((s) => s.windows)} (${sum((s) => s.splits)} asked again smaller), events received ${sum((s) => s.received).toLocaleString()}, inserted ${sum((s) => s.inserted).toLocaleString()}` +
      `${invalid.length ? `, refused: ${invalid.join(', ')}` : ''}`);
    say(`  traffic: ${(sum((s) => s.received) / target).toFixed(3)} events received per event stored, ${((1000 * sum((s) => s.reqs)) / target).toFixed(2)} REQs per 1,000 stored ` +
      `(${sum((s) => s.pages)} pages beyond windows' first REQ), gaps ${sum((s) => s.gaps)}, learned caps ${[...new Set(statuses.map((s) => s.relay.largestAnswer))].join('/')}`);
    traffic.push(sum((s) => s.received) / target);
    say(`  worker RSS at ${quarters.join(', ')}`);
    const ours = d('worker') + d('postgres') + d('temporal') + d('relays');
    const perEvent = (x: number) => `${Math.round((x * 1e6) / target)} µs/event`;
    say(`  CPU: worker ${d('worker').toFixed(1)} s (${pct(d('worker'))} of a core, ${perEvent(d('worker'))}), PostgreSQL ${d('postgres').toFixed(1)} s ` +
      `(${pct(d('postgres'))}, ${perEvent(d('postgres'))}; all its clients), Temporal ${d('temporal').toFixed(1)} s (${pct(d('temporal'))}), ` +
      `relays ${d('relays').toFixed(1)} s (${pct(d('relays'))}); machine ${d('machine').toFixed(1)} s of ${(wall * cpus().length).toFixed(0)} ` +
      `(${cpus().length} cores), of which other processes ${Math.max(0, d('machine') - ours).toFixed(1)} s`);
    say(`  worker threads: ${busiestThreads(workerPid, cpu0.threads, cpu1.threads)}`);
    return { wall, rate: target / wall };
  }

  const fresh = await pass('new events', relays.fresh, EVENTS);
  const events = await count(t, 'event');
  if (events !== EVENTS) throw new Error(`the archive holds ${events} events after the first pass, not ${EVENTS}`);
  const known = await pass('known events', relays.again, EVENTS);
  const links = await count(t, 'event_relay');
  if (links !== 2 * EVENTS) throw new Error(`the archive holds ${links} event-relay links after the second pass, not ${2 * EVENTS}`);

  // Every run of every sync workflow, from the first: each closed run's last event names the next.
  for (const url of all) await env.client.workflow.getHandle(`sync/${url}`).cancel();
  let largest = { id: '', run: 0, length: 0 };
  for (const [id, first] of firstRuns) {
    for (let runId: string | undefined = first, run = 1; runId; run++) {
      const h: WorkflowHandle = env.client.workflow.getHandle(id, runId);
      const { historyLength } = await h.describe();
      if (historyLength > largest.length) largest = { id, run, length: historyLength };
      const { events: history } = await h.fetchHistory();
      runId = history?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
  }

  say('');
  say(`events              ${EVENTS.toLocaleString()} on ${relays.fresh.length} relays, then again on ${relays.again.length} others`);
  say(`wall time           new ${fresh.wall.toFixed(1)} s, known ${known.wall.toFixed(1)} s`);
  say(`new-event rate      ${Math.round(fresh.rate).toLocaleString()} events/s (target >= 6,000)`);
  say(`known-event rate    ${Math.round(known.rate).toLocaleString()} events/s (target >= 20,000 at the default config)`);
  say(`traffic             new ${traffic[0]!.toFixed(3)}, known ${traffic[1]!.toFixed(3)} events received per event stored (target <= 1.2); no event lost: the archive's counts checked`);
  // Flat: the samples of the last quarter of the run are no higher, on average, than the first's.
  const q = Math.max(1, Math.floor(rssSamples.length / 4));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const growth = mean(rssSamples.slice(-q)) / mean(rssSamples.slice(0, q)) - 1;
  say(`worker peak RSS     ${memory(workerPid).peak.toFixed(0)} MB (idle after start-up ${idle.rss.toFixed(0)} MB; target <= 400 MB, flat)`);
  say(`worker RSS          ${Math.min(...rssSamples).toFixed(0)}-${Math.max(...rssSamples).toFixed(0)} MB over ${rssSamples.length} samples; ` +
    `last quarter vs first: ${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(0)}% (${Math.abs(growth) <= 0.1 ? 'flat' : growth > 0 ? 'growing' : 'shrinking'})`);
  say(`largest history     ${largest.length} events (${largest.id}, run ${largest.run}; target <= 10,000)`);
  say(`verifier            ${verifier}`);
  say(`this machine        ${verifyRate === undefined ? 'native verifier not installed' : `${verifyRate.toLocaleString()} events/s verified on one core (native; the issue's machine: 21,500)`}`);
} finally {
  await stop(worker, relaysProcess);
}
