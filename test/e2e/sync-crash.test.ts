// Crash safety of the Synchronizer on the real stack: the Temporal dev server, the production worker
// entry (workers/start-workers.ts) in its own process, PostgreSQL, a relay on a local socket with
// 20,000 events. The worker is killed (SIGKILL: no shutdown, a window's activity cut off wherever it
// was) in the middle of the sync; a new worker finishes it. Nothing may be lost or stored twice, and
// the sync resumes at its cursor: the workflow's history has every window, and they tile the
// archive's seconds with no gap and no step back across the crash.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { insertRelays } from '../../activities/store.js';
import type { SyncStatus } from '../../common/index.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { BulkSigner, seeded, trafficTemplate } from '../helpers/bulk-events.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { workerNodeFlags } from '../../workers/heap.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EVENTS = 20_000;
const END_LAG = 300;
const TASK_QUEUE = 'sync-crash';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
let relay: LocalRelay;
let start = 0;
const events = (() => {
  // Over ~6 hours ending an hour ago (the dev server's clock is the real one): with windows of at
  // most 30 minutes (~1,700 events) and 1,000 events, every other window is split: ~35 windows.
  const now = Math.floor(Date.now() / 1000);
  const rand = seeded(7);
  const signer = new BulkSigner(500);
  const list = Array.from({ length: EVENTS }, (_, i) => signer.sign(trafficTemplate(rand, now - 3600 - Math.floor(rand() * 6 * 3600), signer.pubkeys), i % 500));
  start = Math.min(...list.map((e) => e.created_at));
  return list;
})();

before(async () => {
  [env, t, relay] = await Promise.all([
    TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } }),
    freshDatabase(),
    startLocalRelay({ events }),
  ]);
  const r = await insertRelays(t.db, [{ url: relay.url, network: 'clearnet', discoveredAt: 1 }], { allowLocal: true });
  assert.equal(r.inserted, 1);
});
after(async () => {
  await env?.teardown();
  await relay?.stop();
  await t?.drop();
});

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<string>;
}

/** `npm run start-workers` as production runs it, on this test's database, Temporal and relay. */
async function startWorker(): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [...workerNodeFlags(), '--import', 'tsx', 'workers/start-workers.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: t.url,
      TEMPORAL_ADDRESS: env.address,
      BIGBROTR__temporal__task_queue: TASK_QUEUE,
      BIGBROTR__relay_url__allow_local: 'true',
      BIGBROTR__synchronizer__start: String(start),
      BIGBROTR__synchronizer__end_lag: `${END_LAG}s`,
      BIGBROTR__synchronizer__limit: '1000',
      BIGBROTR__synchronizer__max_window: '30m',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker on ')) {
    if (child.exitCode !== null) assert.fail(`the worker exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) assert.fail(`the worker did not start within 60 s:\n${out}`);
    await sleep(100);
  }
  return { child, output: () => out, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const handle = () => env.client.workflow.getHandle(`sync/${relay.url}`);

/** The windows the workflow asked, in order, from its history (the activity's input). */
async function windowsAsked(): Promise<Array<{ since: number; until: number }>> {
  const history = await handle().fetchHistory();
  const out: Array<{ since: number; until: number }> = [];
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name !== 'syncWindow') continue;
    const payload = a.input?.payloads?.[0]?.data;
    assert.ok(payload, 'a syncWindow input');
    const q = JSON.parse(Buffer.from(payload).toString('utf8')) as { since: number; until: number };
    out.push({ since: q.since, until: q.until });
  }
  return out;
}

describe('sync crash safety', () => {
  it('a worker killed mid-sync loses nothing, stores nothing twice, and the next worker resumes at the cursor', async () => {
    const started = Date.now();
    const first = await startWorker();
    console.log(`# first worker up after ${Date.now() - started} ms`);
    let second: WorkerProcess | undefined;
    try {
      await env.client.workflow.start(syncRelay, { taskQueue: TASK_QUEUE, workflowId: `sync/${relay.url}`, args: [{ url: relay.url, network: 'clearnet' }] });

      // Some of the archive, not all: kill the worker then, wherever its window is.
      const deadline = Date.now() + 60_000;
      while ((await count(t.db, 'SELECT id FROM event')) < EVENTS / 4) {
        assert.ok(Date.now() < deadline, `a quarter of the events archived within 60 s:\n${first.output()}`);
        await sleep(50);
      }
      const before: SyncStatus = await handle().query(syncStatus);
      first.child.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL');
      const killedAt = Date.now();

      // What the crash left: part of the archive, and each event in it with its link (one
      // transaction per window: never an event without its relay).
      const archived = await count(t.db, 'SELECT id FROM event');
      assert.ok(archived > 0 && archived < EVENTS, `the kill came mid-sync (${archived} of ${EVENTS} archived)`);
      assert.equal(await count(t.db, 'SELECT 1 FROM event e WHERE NOT EXISTS (SELECT 1 FROM event_relay r WHERE r.event_id = e.id)'), 0, 'no event without its link');
      assert.ok(before.cursor >= start - 1 && before.cursor < start + 6 * 3600, `cursor ${before.cursor} mid-way`);
      const windowsBefore = (await windowsAsked()).length;
      console.log(`# killed the worker after ${killedAt - started} ms: ${archived} events archived, cursor ${before.cursor - start} s into the archive, ${windowsBefore} windows asked`);

      second = await startWorker();
      // The window the dead worker held is retried once its heartbeat timeout (2 minutes, set by
      // the workflow) has passed; the sync then finishes. The cursor only moves forward meanwhile.
      let s: SyncStatus = before;
      const finish = Date.now() + 240_000;
      for (;;) {
        const now: SyncStatus = await handle().query(syncStatus);
        assert.ok(now.cursor >= s.cursor, `the cursor went back from ${s.cursor} to ${now.cursor}`);
        s = now;
        if (s.phase === 'caught up') break;
        assert.ok(Date.now() < finish, `caught up within 4 minutes of the restart (${JSON.stringify(s)}):\n${second.output()}`);
        await sleep(500);
      }
      console.log(`# caught up ${Date.now() - killedAt} ms after the kill; whole test ${Date.now() - started} ms`);
      // (the round's target was fixed when the round began: now - end_lag then, past every event)
      assert.ok(s.cursor >= Math.max(...events.map((e) => e.created_at)), `cursor ${s.cursor} past the newest event`);

      // Every event once, each linked once to the relay.
      assert.equal(await count(t.db, 'SELECT id FROM event'), EVENTS);
      assert.equal(await count(t.db, 'SELECT DISTINCT id FROM event'), EVENTS);
      const ids = events.map((e) => Buffer.from(e.id, 'hex'));
      assert.equal(await count(t.db, 'SELECT 1 FROM event WHERE id = ANY($1::bytea[])', [ids]), EVENTS, 'no event lost');
      assert.equal(await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [relay.url]), EVENTS);
      assert.equal(await count(t.db, 'SELECT DISTINCT event_id, relay_url FROM event_relay'), EVENTS);

      // The windows tile [start, cursor]: each begins one second after the last complete one (a
      // split window's first half begins where it did), across the crash too; the window the
      // dead worker held was retried, not asked afresh from an older cursor.
      const asked = await windowsAsked();
      assert.ok(asked.length > windowsBefore, 'windows were asked after the restart');
      let cursor = start - 1;
      for (const [i, w] of asked.entries()) {
        assert.equal(w.since, cursor + 1, `window ${i} [${w.since}, ${w.until}] begins at cursor + 1 (${cursor + 1})`);
        const next = asked[i + 1];
        const split = next !== undefined && next.since === w.since && next.until < w.until;
        if (!split) cursor = w.until;
      }
      assert.equal(cursor, s.cursor, 'the last window ends at the cursor');
      // How the window the dead worker held came back (for the log: when the kill falls between
      // two windows, none was held).
      for (const e of (await handle().fetchHistory()).events ?? []) {
        const a = e.activityTaskStartedEventAttributes;
        if (!a || (a.attempt ?? 1) < 2) continue;
        const at = Number(e.eventTime?.seconds) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
        console.log(`# held window retried ${Math.round(at - killedAt)} ms after the kill (attempt ${a.attempt}, after: ${a.lastFailure?.message})`);
      }
      const resumed = asked[windowsBefore];
      assert.ok(resumed, 'a window after the kill');
      assert.ok(resumed.since > before.cursor, `the first window after the kill [${resumed.since}, ${resumed.until}] is past the cursor before it (${before.cursor})`);
    } finally {
      await handle().cancel().catch(() => {});
      await handle().result().catch(() => {});
      for (const w of [first, second]) {
        if (w && w.child.exitCode === null && w.child.signalCode === null) {
          w.child.kill('SIGINT'); // a graceful stop: the SDK lets running activities finish
          await w.exited;
        }
      }
    }
  });
});
