// Scale-out on the real stack: two worker processes (`npm run start-workers`, twice) against one
// Temporal dev server and one database sync several local relays; both take work (the worker
// identity in each syncWindows activity's history says which); then one is killed (SIGKILL: its
// activities cut off mid-window) and the other finishes every relay, with every event archived
// once and linked once to each relay that served it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { insertRelays } from '../../activities/db/store.js';
import type { SyncStatus } from '../../common/index.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { syncStatus } from '../../workflows/index.js';
import { BulkSigner, seeded, trafficTemplate } from '../helpers/bulk-events.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

const RELAYS = 4;
const PER_RELAY = 4_000;
const SHARED = 1_000; // events every relay holds (known events: linked, not stored again)
const TASK_QUEUE = 'scale-out';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: TestWorkflowEnvironment;
let t: TestDatabase;
let relays: LocalRelay[] = [];
let start = 0;
let unique = 0;

before(async () => {
  const now = Math.floor(Date.now() / 1000);
  const rand = seeded(11);
  const signer = new BulkSigner(200);
  const sign = (i: number) => signer.sign(trafficTemplate(rand, now - 3600 - Math.floor(rand() * 6 * 3600), signer.pubkeys), i % 200);
  const shared = Array.from({ length: SHARED }, (_, i) => sign(i));
  const own = Array.from({ length: RELAYS }, () => Array.from({ length: PER_RELAY - SHARED }, (_, i) => sign(i)));
  unique = SHARED + RELAYS * (PER_RELAY - SHARED);
  start = Math.min(...[...shared, ...own.flat()].map((e) => e.created_at));
  [env, t, relays] = await Promise.all([
    TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } }),
    freshDatabase(),
    // Each answer 500 ms late, windows of 5 minutes over 6 hours: each relay's sync lasts about
    // 40 s, long enough for both workers to take some and for the kill to fall mid-way.
    Promise.all(own.map((events) => startLocalRelay({ events: [...shared, ...events], behaviour: 'slow', delayMs: 500 }))),
  ]);
  const r = await insertRelays(t.db, relays.map((x) => ({ url: x.url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
  assert.equal(r.inserted, RELAYS);
});
after(async () => {
  await env?.teardown();
  await Promise.all(relays.map((r) => r.stop()));
  await t?.drop();
});

const survivorIdentity = (m: Map<string, number>, victim: string) => [...m.keys()].find((k) => k !== victim) ?? '?';

/** The syncWindows activities that completed, by the identity of the worker that ran them. */
async function activitiesByWorker(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of relays) {
    const history = await env.client.workflow.getHandle(`sync/${r.url}`).fetchHistory().catch(() => undefined);
    const windows = new Set<string>(); // scheduled event ids of syncWindows activities
    const started = new Map<string, string>();
    for (const e of history?.events ?? []) {
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncWindows') windows.add(String(e.eventId));
      const s = e.activityTaskStartedEventAttributes;
      if (s && windows.has(String(s.scheduledEventId))) started.set(String(e.eventId), s.identity ?? '?');
      const c = e.activityTaskCompletedEventAttributes;
      const who = c && started.get(String(c.startedEventId));
      if (who) out.set(who, (out.get(who) ?? 0) + 1);
    }
  }
  return out;
}

describe('scale-out', () => {
  it('two worker processes share the sync; one killed, the other finishes it, nothing lost or doubled', async () => {
    const workerEnv = {
      DATABASE_URL: t.url,
      TEMPORAL_ADDRESS: env.address,
      BIGBROTR__temporal__task_queue: TASK_QUEUE,
      BIGBROTR__relay_url__allow_local: 'true',
      BIGBROTR__synchronizer__start: String(start),
      BIGBROTR__synchronizer__end_lag: '300s',
      BIGBROTR__synchronizer__limit: '500',
      BIGBROTR__synchronizer__max_window: '5m',
      // Two relays at once per worker: four relays need both workers (as a fleet of workers, each
      // at its limit, shares a network's relays).
      BIGBROTR__synchronizer__relays_in_flight: '2',
    };
    const started = Date.now();
    const workers: WorkerProcess[] = await Promise.all([startWorkerProcess(workerEnv), startWorkerProcess(workerEnv)]);
    try {
      console.log(`# two workers up after ${Date.now() - started} ms`);
      await env.client.workflow.start('synchronizer', { taskQueue: TASK_QUEUE, workflowId: 'synchronizer', args: [{}] });

      // Both take work: each has completed windows of some relay.
      const deadline = Date.now() + 120_000;
      let byWorker = new Map<string, number>();
      while ((byWorker = await activitiesByWorker()).size < 2) {
        assert.ok(Date.now() < deadline, `both workers to have run sync activities within 2 minutes: ${JSON.stringify([...byWorker])}`);
        await sleep(250);
      }
      console.log(`# both workers took work after ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(byWorker))}`);

      // Kill one while it holds a relay's window: the server must then give that window to the other.
      const victimDeadline = Date.now() + 120_000;
      let victim: string | undefined;
      let archivedAtKill = 0;
      while (!victim) {
        const pending = await Promise.all(relays.map((r) => env.client.workflow.getHandle(`sync/${r.url}`).describe().then((d) => d.raw.pendingActivities ?? [])));
        const holder = pending.flat().find((a) => a.activityType?.name === 'syncWindows' && a.lastWorkerIdentity && byWorker.has(a.lastWorkerIdentity))?.lastWorkerIdentity;
        archivedAtKill = await count(t.db, 'SELECT 1 FROM event_relay');
        assert.ok(archivedAtKill < RELAYS * PER_RELAY, `the kill to come mid-sync: all ${archivedAtKill} links were made first`);
        assert.ok(holder || Date.now() < victimDeadline, 'a worker holding a window within 2 minutes');
        if (holder) victim = holder;
        else await sleep(100);
      }
      const pid = Number(victim.split('@')[0]);
      const index = workers.findIndex((w) => w.pids().includes(pid));
      assert.ok(index >= 0, `worker ${victim} is one of ours`);
      const [dead, survivor] = [workers[index]!, workers[1 - index]!];
      console.log(`# killing ${victim}, which holds a window; ${archivedAtKill} of ${RELAYS * PER_RELAY} links made`);
      dead.kill('SIGKILL');
      assert.equal(await dead.exited, 'SIGKILL');
      const killedAt = Date.now();

      // The survivor finishes every relay: the dead worker's activities are retried on it once
      // their heartbeat timeout passes.
      const finish = Date.now() + 300_000;
      for (;;) {
        const statuses = await Promise.all(relays.map((r) => env.client.workflow.getHandle(`sync/${r.url}`).query(syncStatus).catch(() => undefined)));
        if (statuses.every((s: SyncStatus | undefined) => s?.phase === 'caught up')) break;
        assert.ok(Date.now() < finish, `every relay caught up within 5 minutes of the kill: ${JSON.stringify(statuses.map((s) => s?.phase))}\n${survivor.output().slice(-3000)}`);
        await sleep(500);
      }
      const after = await activitiesByWorker();
      console.log(`# caught up ${Date.now() - killedAt} ms after the kill; windows activities by worker: ${JSON.stringify(Object.fromEntries(after))}`);
      assert.ok((after.get(survivorIdentity(after, victim)) ?? 0) > (byWorker.get(survivorIdentity(after, victim)) ?? 0), 'the survivor took on more work after the kill');

      // Every event once, linked once to each relay that served it.
      assert.equal(await count(t.db, 'SELECT 1 FROM event'), unique, 'every event archived once');
      assert.equal(await count(t.db, 'SELECT 1 FROM event_relay'), RELAYS * PER_RELAY, 'every link once');
      for (const r of relays) {
        const ids = r.events.map((e) => Buffer.from(e.id, 'hex'));
        assert.equal(await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1 AND event_id = ANY($2::bytea[])', [r.url, ids]), PER_RELAY, `${r.url}: every event linked`);
      }
    } finally {
      await env.client.workflow.getHandle('synchronizer').cancel().catch(() => {});
      await env.client.workflow.getHandle('synchronizer').result().catch(() => {});
      for (const w of workers) {
        if (w.child.exitCode === null && w.child.signalCode === null) {
          w.kill('SIGINT');
          await w.exited;
        }
      }
    }
  });
});
