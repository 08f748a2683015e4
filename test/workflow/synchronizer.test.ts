// The Synchronizer's coordinator in the time-skipping environment: its database activities and its
// look at the relays' workflows real (PostgreSQL, the worker's Temporal client), the relays' windows
// played by the test on the network queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { insertRelays } from '../../activities/db/store.js';
import { syncQueue, UNKNOWN_RELAY, type SpanQuery, type SpanResult, type SyncStatus } from '../../common/index.js';
import type { SyncRow } from '../../activities/synchronizer/sync.js';
import { createActivities } from '../../workers/activities.js';
import { coordinatorRunNow, synchronizer, syncRelay, syncStatus } from '../../workflows/index.js';
import { testConfig } from '../helpers/config.js';
import type { TestDatabase } from '../helpers/db.js';
import { cancelAndWait, untilCancelled, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';
import { eventually } from '../helpers/eventually.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));

/** A relay with nothing to archive: its windows are read to the target at once. */
const empty = async (q: SpanQuery): Promise<SpanResult> => ({
  cursor: q.target, windowSec: q.maxWindowSec, windows: 1, splits: 0, negentropyWindows: 0, received: 0, inserted: 0, known: 0, linked: 0, invalid: {}, unserved: 0,
  reqs: 1, pages: 0, denseSeconds: 0, gaps: 0, gapsFilled: 0, overlapFound: 0, capLowered: 0, relay: { ...UNKNOWN_RELAY, ...q.relay },
});
const addRelays = (urls: string[]) => insertRelays(t.db, urls.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })));
/** The relay table holding only `url`. */
async function onlyRelay(url: string): Promise<void> {
  await t.db.query('TRUNCATE relay CASCADE');
  await addRelays([url]);
}
/** A promise, and the function that resolves it (a fake activity telling the test it ran). */
function signal(): { fired: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const fired = new Promise<void>((r) => (fire = r));
  return { fired, fire };
}
const statusOf = async (id: string) => (await env.client.workflow.getHandle(id).describe()).status.name;


/** Every page the coordinator's activity returned, in order: the passes seen without a query. */
const pages: SyncRow[][] = [];
/** The actions of the last pass's pages (a pass ends with a page shorter than page_size, 2). */
function lastPass(): Record<string, string> {
  let end = pages.length;
  while (end > 0 && pages[end - 1]!.length === 2) end--; // a pass not finished yet
  let start = end - 1;
  while (start > 0 && pages[start - 1]!.length === 2) start--;
  return Object.fromEntries(pages.slice(start, end).flat().map((r) => [r.url, r.action]));
}

let n = 0;
async function withWorkers<T>(
  syncWindows: (q: SpanQuery) => Promise<SpanResult>,
  fn: (taskQueue: string) => Promise<T>,
  taskQueue = `sync-coord-${++n}`,
): Promise<T> {
  // Pages of two relays: a pass spans runs (continue-as-new per page).
  const config = testConfig(t.url, { BIGBROTR__synchronizer__page_size: '2', BIGBROTR__synchronizer__start: '0' });
  const activities = createActivities({ db: t.db, config });
  // The passes are watched through their pages, not the status query: the test server can hold a
  // query sent while the workflow continues as new (after every page) for a minute or more.
  const syncPage = activities.syncPage;
  activities.syncPage = async (q) => {
    const rows = await syncPage(q);
    pages.push(rows);
    return rows;
  };
  const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows } });
  return clearnet.runUntil(() => main.runUntil(fn(taskQueue)));
}

describe('synchronizer workflow', () => {
  it('one long-lived sync workflow per relay: new relays get one, a relay gone ends its own, a relay a person cancelled stays stopped, cancel stops them all', async () => {
    const urls = ['a', 'b', 'c'].map((x) => `wss://${x}.sync.example`);
    await addRelays(urls);
    const asked = new Set<string>();
    // A relay's windows: answered at once (the relay is empty), so each workflow is caught up and sleeping.
    await withWorkers(
      async (q) => {
        asked.add(q.url);
        return empty(q);
      },
      async (taskQueue) => {
        const h = await env.client.workflow.start(synchronizer, { taskQueue, workflowId: `synchronizer-${n}`, args: [{}] });
        const running = async (list: string[]) => (await Promise.all(list.map((u) => statusOf(`sync/${u}`).catch(() => 'none')))).every((x) => x === 'RUNNING');
        await eventually('every relay has a running sync workflow', () => running(urls));
        await eventually('every relay was asked', async () => asked.size === 3);

        // A relay added later gets its workflow at the next pass; a second pass starts no second one.
        const d = 'wss://d.sync.example';
        await addRelays([d]);
        let seen = pages.length;
        await h.signal(coordinatorRunNow);
        await eventually('the new relay has its workflow', () => running([d]));
        await eventually('the second pass is done', async () => pages.length >= seen + 2 && pages.at(-1)!.length < 2);
        assert.deepEqual(lastPass(), { [urls[0]!]: 'running', [urls[1]!]: 'running', [urls[2]!]: 'running', [d]: 'start' });

        // A relay gone from the table: its workflow ends itself at its next round.
        await t.db.query('DELETE FROM relay WHERE url = $1', [urls[1]]);
        const gone = env.client.workflow.getHandle(`sync/${urls[1]}`);
        await gone.signal(coordinatorRunNow);
        const ended: SyncStatus = await gone.result();
        assert.equal(ended.phase, 'ended');
        assert.match(ended.ended ?? '', /no longer in the relay table/);

        // A person cancels one relay: only that one stops, and the coordinator leaves it stopped.
        // (cancel, then watch its status: waiting on its result would have the test server skip
        // time, and a query sent while it locks time again is held for a minute or more)
        await env.client.workflow.getHandle(`sync/${urls[2]}`).cancel();
        await eventually('the cancelled relay has ended', async () => (await statusOf(`sync/${urls[2]}`)) === 'CANCELLED');
        assert.equal(await statusOf(`sync/${urls[0]}`), 'RUNNING');
        seen = pages.length;
        await h.signal(coordinatorRunNow);
        await eventually('the third pass is done', async () => pages.length >= seen + 2 && pages.at(-1)!.length < 2);
        assert.deepEqual(lastPass(), { [urls[0]!]: 'running', [urls[2]!]: 'stopped', [d]: 'running' });
        assert.equal(await statusOf(`sync/${urls[2]}`), 'CANCELLED');

        // Cancel on the coordinator: every relay's workflow is cancelled, the coordinator too.
        await cancelAndWait(env, h.workflowId);
        assert.equal(await statusOf(h.workflowId), 'CANCELLED');
        await eventually('the running relays are cancelled', async () => (await statusOf(`sync/${urls[0]}`)) === 'CANCELLED' && (await statusOf(`sync/${d}`)) === 'CANCELLED');

        // Started again, it syncs every relay again, the one a person had stopped included.
        const again = await env.client.workflow.start(synchronizer, { taskQueue, workflowId: `synchronizer-${n}-again`, args: [{}] });
        await eventually('every listed relay runs again', () => running([urls[0]!, urls[2]!, d]));
        await cancelAndWait(env, again.workflowId);
        await eventually('all stopped', async () => (await Promise.all([urls[0]!, urls[2]!, d].map((u) => statusOf(`sync/${u}`)))).every((x) => x === 'CANCELLED'));
      },
    );
  });

  it('a relay whose window is in flight when the coordinator is cancelled: the window is cancelled, the relay workflow ends cancelled', async () => {
    const url = 'wss://busy.sync.example';
    await onlyRelay(url);
    const inFlight = signal();
    await withWorkers(
      // A window that never ends by itself: it heartbeats until cancelled, as a real one does.
      async () => {
        inFlight.fire();
        return untilCancelled();
      },
      async (taskQueue) => {
        const h = await env.client.workflow.start(synchronizer, { taskQueue, workflowId: `synchronizer-${n}`, args: [{}] });
        await inFlight.fired;
        const relay = env.client.workflow.getHandle(`sync/${url}`);
        assert.equal((await relay.query(syncStatus)).windows, 0);
        await cancelAndWait(env, h.workflowId);
        await relay.result().catch(() => {});
        assert.equal(await statusOf(`sync/${url}`), 'CANCELLED');
      },
    );
  });

  it('a cancel that reaches the coordinator before its first task (as right after it continues as new) still stops every relay', async () => {
    const url = 'wss://early.sync.example';
    await onlyRelay(url);
    // A relay's workflow, running and asleep (caught up), as an earlier run of the coordinator left
    // it; its workers run throughout.
    const caughtUp = signal();
    await withWorkers(
      async (q) => {
        caughtUp.fire();
        return empty(q);
      },
      async (taskQueue) => {
        await env.client.workflow.start(syncRelay, { taskQueue, workflowId: `sync/${url}`, args: [{ url, network: 'clearnet' }] });
        await caughtUp.fired;
        // The coordinator on a queue no worker polls yet: its start and the cancel both wait for
        // its first task, which finds the cancel before it has read any setting.
        const queue = 'sync-coord-early';
        const h = await env.client.workflow.start(synchronizer, { taskQueue: queue, workflowId: 'synchronizer-early', args: [{}] });
        await h.cancel();
        await withWorkers(
          empty,
          async () => {
            await h.result().catch(() => {});
            assert.equal(await statusOf(h.workflowId), 'CANCELLED');
            // Awaiting the result lets the test server skip time; the race keeps a relay left running from hanging the test.
            await Promise.race([env.client.workflow.getHandle(`sync/${url}`).result().catch(() => {}), new Promise((r) => setTimeout(r, 30_000))]);
            assert.equal(await statusOf(`sync/${url}`), 'CANCELLED');
          },
          queue,
        );
      },
    );
  });
});
