// Crash safety of the Synchronizer on the real stack: the Temporal dev server, the production worker
// entry (workers/start-workers.ts) in its own process, PostgreSQL, a relay on a local socket with
// 20,000 events. The worker is killed (SIGKILL: no shutdown, a window's activity cut off wherever it
// was) in the middle of the sync; a new worker finishes it. Nothing may be lost or stored twice, and
// the sync resumes where it was: each syncWindows activity in the workflow's history begins at the
// cursor the last one returned (the one lost with its worker: the progress its heartbeats recorded,
// which the workflow keeps and reads on from), and the
// windows the relay was asked tile the archive's seconds with no gap, across the crash too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { insertRelays } from '../../activities/db/store.js';
import type { SpanQuery, SpanResult, SyncStatus } from '../../common/index.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { BulkSigner, seeded, trafficTemplate } from '../helpers/bulk-events.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

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
    // Each answer 300 ms late: the sync (~40 windows) then outlasts the worker's heartbeat throttle
    // (5 s), so the server holds an activity's progress while it runs. Served at full speed, the
    // 20,000 events were archived in ~3 s, one activity, before any heartbeat past its start.
    startLocalRelay({ events, behaviour: 'slow', delayMs: 300 }),
  ]);
  const r = await insertRelays(t.db, [{ url: relay.url, network: 'clearnet', discoveredAt: 1 }], { allowLocal: true });
  assert.equal(r.inserted, 1);
});
after(async () => {
  await env?.teardown();
  await relay?.stop();
  await t?.drop();
});

/** `npm run start-workers` as production runs it, on this test's database, Temporal and relay. */
function startWorker(): Promise<WorkerProcess> {
  return startWorkerProcess({
    DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: env.address,
    BIGBROTR__temporal__task_queue: TASK_QUEUE,
    BIGBROTR__relay_url__allow_local: 'true',
    BIGBROTR__synchronizer__start: String(start),
    BIGBROTR__synchronizer__end_lag: `${END_LAG}s`,
    BIGBROTR__synchronizer__limit: '1000',
    BIGBROTR__synchronizer__max_window: '30m',
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const handle = () => env.client.workflow.getHandle(`sync/${relay.url}`);

const json = <T>(p: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null | undefined): T | undefined => {
  const data = p?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as T) : undefined;
};

/**
 * The syncWindows activities of the workflow's history, in order: the cursor each began from, the
 * cursor it returned, its attempts and the last failure.
 */
async function spans(): Promise<Array<{ from: number; to?: number; attempt: number; failure?: string; died?: boolean }>> {
  const out = new Map<number, { from: number; to?: number; attempt: number; failure?: string; died?: boolean }>();
  for (const e of (await handle().fetchHistory()).events ?? []) {
    const id = Number(e.eventId);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'syncWindows') out.set(id, { from: json<SpanQuery>(scheduled.input)!.cursor, attempt: 1 });
    const started = e.activityTaskStartedEventAttributes;
    const span = out.get(Number(started?.scheduledEventId ?? e.activityTaskCompletedEventAttributes?.scheduledEventId));
    if (started && span) {
      span.attempt = started.attempt ?? 1;
      span.failure = started.lastFailure?.message ?? undefined;
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && span) span.to = json<SpanResult>(completed.result)!.cursor;
    // An activity whose worker died comes back to the workflow (WORKER_DEATHS) with the progress
    // its last heartbeat recorded, which the workflow keeps: that is where it "returned".
    const timedOut = e.activityTaskTimedOutEventAttributes;
    const dead = out.get(Number(timedOut?.scheduledEventId));
    if (timedOut && dead) {
      dead.died = true;
      dead.failure = timedOut.failure?.message ?? undefined;
      dead.to = json<SpanResult>(timedOut.failure?.timeoutFailureInfo?.lastHeartbeatDetails)?.cursor;
    }
  }
  return [...out.values()];
}

describe('sync crash safety', () => {
  it('a worker killed mid-sync loses nothing, stores nothing twice, and the next worker resumes at the cursor', async () => {
    const started = Date.now();
    const first = await startWorker();
    console.log(`# first worker up after ${Date.now() - started} ms`);
    let second: WorkerProcess | undefined;
    try {
      await env.client.workflow.start(syncRelay, { taskQueue: TASK_QUEUE, workflowId: `sync/${relay.url}`, args: [{ url: relay.url, network: 'clearnet' }] });

      // Some of the archive, not all: kill the worker once the server holds the progress of the
      // activity in hand (a heartbeat past the cursor it began from), wherever its window is.
      const deadline = Date.now() + 60_000;
      let before: SyncStatus;
      let recorded: number | undefined;
      for (;;) {
        assert.ok(Date.now() < deadline, `an activity's progress recorded within 60 s:\n${first.output()}`);
        before = await handle().query(syncStatus);
        const pending = (await handle().describe()).raw.pendingActivities?.[0];
        recorded = json<SpanResult>(pending?.heartbeatDetails)?.cursor;
        if (recorded !== undefined && recorded > before.cursor) break;
        await sleep(100);
      }
      first.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL');
      const killedAt = Date.now();

      // What the crash left: part of the archive, and each event in it with its link (one
      // transaction per window: never an event without its relay).
      const archived = await count(t.db, 'SELECT id FROM event');
      assert.ok(archived > 0 && archived < EVENTS, `the kill came mid-sync (${archived} of ${EVENTS} archived)`);
      assert.equal(await count(t.db, 'SELECT 1 FROM event e WHERE NOT EXISTS (SELECT 1 FROM event_relay r WHERE r.event_id = e.id)'), 0, 'no event without its link');
      assert.ok(before.cursor >= start - 1 && before.cursor < start + 6 * 3600, `cursor ${before.cursor} mid-way`);
      const windowsBefore = relay.reqs.length;
      console.log(`# killed the worker after ${killedAt - started} ms: ${archived} events archived, cursor ${before.cursor - start} s into the archive, ${windowsBefore} windows asked`);

      second = await startWorker();
      // The activity the dead worker held comes back to the workflow once its heartbeat timeout (a minute, set by
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

      // The activities chain: each begins at the cursor the one before it returned, from the
      // configured start to the cursor now.
      const list = await spans();
      let cursor = start - 1;
      for (const [i, span] of list.entries()) {
        assert.equal(span.from, cursor, `activity ${i} begins at the cursor the last one returned`);
        assert.ok(span.to !== undefined && span.to > span.from, `activity ${i} moved the cursor`);
        cursor = span.to;
      }
      assert.equal(cursor, s.cursor, 'the last activity returned the cursor');
      // The REQs the relay was asked cover [start, cursor] with no second left out (a window
      // overlaps the last by its edge second; pages go down from a window's top). The activity the
      // dead worker held (none, should the kill fall between two) was read on from the
      // last window its heartbeats recorded: at or past the progress the server held at the kill,
      // and not past any second the relay had not been asked.
      const died = list.filter((x) => x.died);
      assert.ok(died.length <= 1, `one activity lost with its worker: ${JSON.stringify(died)}`);
      const held = died[0];
      const asked = relay.reqs.map((filters) => filters[0] as { since: number; until: number });
      assert.ok(asked.length > windowsBefore, 'windows were asked after the restart');
      const askedBefore = Math.max(...asked.slice(0, windowsBefore).map((w) => w.until));
      const resumedFrom = asked[windowsBefore]!.since;
      assert.ok(resumedFrom <= askedBefore + 1, `after the kill, the first REQ [${resumedFrom}, ...] leaves no gap (asked up to ${askedBefore} before)`);
      if (held) {
        assert.match(held.failure ?? '', /heartbeat/i);
        assert.ok(resumedFrom >= recorded! && resumedFrom >= held.from, `resumed from ${resumedFrom}: the progress recorded before the kill (${recorded}) or later`);
        console.log(`# the held activity, from ${held.from - start} s, resumed at ${resumedFrom - start} s (attempt ${held.attempt}, after: ${held.failure})`);
      }
      cursor = start;
      for (const w of [...asked].sort((a, b) => a.since - b.since)) if (w.since <= cursor && w.until >= cursor) cursor = w.until + 1;
      assert.ok(cursor > s.cursor, `second ${cursor} was never asked`);
      assert.equal(Math.max(...asked.map((w) => w.until)), s.cursor, 'the last window ends at the cursor');
    } finally {
      await handle().cancel().catch(() => {});
      await handle().result().catch(() => {});
      for (const w of [first, second]) {
        if (w && w.child.exitCode === null && w.child.signalCode === null) {
          w.kill('SIGINT'); // a graceful stop: the SDK lets running activities finish
          await w.exited;
        }
      }
    }
  });
});
