import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createFinderActivities, type FinderActivities } from '../../activities/finder/finder.js';
import { insertEvents } from '../../activities/db/store.js';
import type { ApiOutcome, EventCursor, FinderSettings, ScanPage } from '../../common/index.js';
import { finder, finderStatus, runNow } from '../../workflows/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from '../helpers/config.js';
import { signed } from '../helpers/nostr.js';
import { cancelAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
before(async () => (env = await timeSkippingEnv()));
after(() => env?.teardown());

const SETTINGS: FinderSettings = { intervalMs: 3_600_000, pageSize: 100, sources: ['events', 'apis'], cyclesPerRun: 24, apis: ['one', 'two'] };

/** Activities that read an archive of `pages` pages, advancing the cursor by one each page. */
function fakeActivities(pages: number, calls: Array<EventCursor | null>) {
  return {
    async finderSettings(): Promise<FinderSettings> {
      return SETTINGS;
    },
    async scanEventsPage({ after }: { after: EventCursor | null }): Promise<ScanPage> {
      calls.push(after);
      const n = after ? after.createdAt + 1 : 1;
      const done = n % pages === 0;
      return { events: 100, urls: 3, distinct: 2, inserted: 1, invalid: { local: 1 }, cursor: { createdAt: n, id: n.toString(16).padStart(64, '0') }, done };
    },
    async fetchRelayList(name: string): Promise<ApiOutcome> {
      return { name, ok: name === 'one', error: name === 'one' ? undefined : 'HTTP 500', urls: 5, inserted: 2, invalid: 0, ms: 3 };
    },
  } satisfies Partial<FinderActivities>;
}

const stop = (workflowId: string) => cancelAndWait(env, workflowId);

let n = 0;
async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `finder-${++n}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(fn(taskQueue));
}

describe('finder workflow', () => {
  it('runs a cycle every interval: three one-hour cycles pass in seconds, with their figures in the status', async () => {
    const calls: Array<EventCursor | null> = [];
    await withWorker(fakeActivities(2, calls), async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: `finder-${n}`, args: [{}] });
      await env.sleep('150m'); // skipped, not waited: cycles at 0h, 1h and 2h
      const s = await h.query(finderStatus);
      assert.equal(s.cycle, 3);
      assert.equal(s.phase, 'sleeping');
      assert.equal(calls.length, 6, 'two pages a cycle');
      assert.deepEqual(calls.slice(0, 3).map((c) => c?.createdAt ?? null), [null, 1, 2]); // one cursor across cycles
      assert.deepEqual({ ...s.last, startedAt: '', finishedAt: '' }, {
        cycle: 3, startedAt: '', finishedAt: '', pages: 2, eventsScanned: 200, urlsFound: 6, newCandidates: 2 + 4, invalid: { local: 2 },
        apis: [
          { name: 'one', ok: true, urls: 5, inserted: 2, invalid: 0, ms: 3 },
          { name: 'two', ok: false, error: 'HTTP 500', urls: 5, inserted: 2, invalid: 0, ms: 3 },
        ],
      });
      assert.deepEqual(s.cursor, { createdAt: 6, id: (6).toString(16).padStart(64, '0') });
      await stop(h.workflowId);
    });
  });

  it('a runNow signal cuts the sleep short', async () => {
    const calls: Array<EventCursor | null> = [];
    await withWorker(fakeActivities(1, calls), async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: `finder-${n}`, args: [{ sources: ['events'] }] });
      await env.sleep('10m');
      assert.equal((await h.query(finderStatus)).cycle, 1);
      await h.signal(runNow);
      await env.sleep('1m');
      assert.equal((await h.query(finderStatus)).cycle, 2, 'a second cycle long before the hour');
      await stop(h.workflowId);
    });
  });

  it('the cursor and the cycle count survive continue-as-new', async () => {
    const calls: Array<EventCursor | null> = [];
    await withWorker(fakeActivities(1, calls), async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: `finder-${n}`, args: [{ cyclesPerRun: 1, sources: ['events'] }] });
      await env.sleep('210m');
      const d = await env.client.workflow.getHandle(h.workflowId).describe();
      assert.notEqual(d.runId, h.firstExecutionRunId, 'it continued as new');
      const s = await env.client.workflow.getHandle(h.workflowId).query(finderStatus);
      assert.equal(s.cycle, 4);
      assert.equal(s.last?.cycle, 4);
      // each run picked up the cursor the previous one reached
      assert.deepEqual(calls.map((c) => c?.createdAt ?? null), [null, 1, 2, 3]);
      await stop(h.workflowId);
    });
  });

  it('a database error mid-page: Temporal retries the activity and the page is counted once', async () => {
    const calls: Array<EventCursor | null> = [];
    const acts = fakeActivities(2, calls);
    let failures = 0;
    const flaky = {
      ...acts,
      async scanEventsPage(q: { after: EventCursor | null }) {
        if (q.after !== null && failures++ === 0) throw new Error('Connection terminated unexpectedly'); // mid-scan, once
        return acts.scanEventsPage(q);
      },
    };
    await withWorker(flaky, async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: `finder-${n}`, args: [{ sources: ['events'] }] });
      await env.sleep('10m');
      const s = await h.query(finderStatus);
      assert.equal(failures, 2, 'failed once, then retried');
      assert.equal(s.last?.pages, 2);
      assert.equal(s.last?.eventsScanned, 200, 'the retried page is counted once');
      await stop(h.workflowId);
    });
  });

  it('the status query answers during a cycle', async () => {
    const acts = fakeActivities(3, []);
    let entered!: () => void;
    const inPage = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const blocking = {
      ...acts,
      async scanEventsPage(q: { after: EventCursor | null }) {
        entered();
        await gate; // the page stays in flight while the test asks
        return acts.scanEventsPage(q);
      },
    };
    await withWorker(blocking, async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: `finder-${n}`, args: [{}] });
      await inPage;
      const s = await h.query(finderStatus);
      assert.equal(s.phase, 'scanning events');
      assert.equal(s.cycle, 1);
      assert.equal(s.current?.pages, 0);
      assert.deepEqual(s.settings, SETTINGS);
      release();
      await h.cancel();
      await assert.rejects(h.result(), /cancel/i);
    });
  });
});

describe('finder workflow on a real database', () => {
  let t: TestDatabase;
  before(async () => {
    t = await freshDatabase();
    // three pages of two events, each event naming its own relay
    await insertEvents(t.db, Array.from({ length: 6 }, (_, i) => signed({ kind: 10002, created_at: 100 + i, tags: [['r', `wss://page${Math.floor(i / 2)}-relay${i}.example`]] })));
  });
  after(() => t?.drop());

  it('cancel between pages: the page in flight completes, no later page starts, the workflow ends cancelled', async () => {
    const config = testConfig(t.url);
    const real = createFinderActivities({ db: t.db, config: { ...config, finder: { ...config.finder, apis: [] } } });
    const after: Array<EventCursor | null> = [];
    let inSecondPage!: () => void;
    const secondPage = new Promise<void>((r) => (inSecondPage = r));
    let letItFinish!: () => void;
    const finish = new Promise<void>((r) => (letItFinish = r));
    const activities = {
      ...real,
      async scanEventsPage(q: { after: EventCursor | null; pageSize: number }) {
        after.push(q.after);
        if (after.length === 2) {
          inSecondPage();
          await finish; // the cancel arrives while this page is in flight
        }
        return real.scanEventsPage(q);
      },
    };
    await withWorker(activities, async (taskQueue) => {
      const h = await env.client.workflow.start(finder, { taskQueue, workflowId: 'finder-cancel', args: [{ pageSize: 2 }] });
      await secondPage;
      await h.cancel();
      letItFinish();
      await assert.rejects(h.result(), /cancel/i);
      assert.equal((await h.describe()).status.name, 'CANCELLED');
    });
    assert.equal(after.length, 2, 'no page after the cancel');
    const { rows } = await t.db.query<{ url: string }>('SELECT url FROM candidate ORDER BY url');
    assert.deepEqual(rows.map((r) => r.url), ['wss://page0-relay0.example', 'wss://page0-relay1.example', 'wss://page1-relay2.example', 'wss://page1-relay3.example']);
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url LIKE 'wss://page2-%'`), 0);
  });
});
