import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { syncSpan } from '../../activities/sync-span.js';
import { syncQueue, type SpanQuery, type SpanResult, type SyncSettings, type SyncStatus } from '../../common/index.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { cancelAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
before(async () => (env = await timeSkippingEnv()));
after(() => env?.teardown());

const LIMIT = 10;
/**
 * Each test's archive starts 20,000 s before the test server's clock (which earlier tests moved
 * forward): a few dozen windows, not 56 years of them.
 */
let START = 0;
let NOW = 0;
const settings = (): SyncSettings => ({ start: START, endLagSec: 300, limit: LIMIT, maxWindowSec: 1000, intervalMs: 900_000, listed: true, priority: false });
beforeEach(async () => {
  NOW = Math.floor((await env.currentTimeMs()) / 1000);
  START = NOW - 20_000;
});

/**
 * A relay holding events at these created_at values, answering windows as NIP-01 says (newest
 * first, up to limit), read through the real span logic (activities/sync-span.ts): the test sees
 * every window asked.
 */
function relay(createdAts: number[]) {
  const asked: Array<[number, number]> = [];
  const served = new Set<number>(); // indexes of events the archive received
  const r = {
    asked,
    served,
    /** What the settings say of the relay (the test changes it). */
    listed: true,
    priority: false,
    maxWindowSec: 1000,
    firstRunId: '',
    /** Windows to fail before answering (a relay that is down for a while). */
    failures: 0,
    /** When each failed attempt came, in the test server's time (seconds). */
    failedAt: [] as number[],
    /** How long each activity reads windows (real time; the test server's clock does not move while it runs). */
    spanMs: 1000,
    /** The syncWindows activities, each with the cursor it started from. */
    spans: [] as number[],
    activities: {
      async syncSettings(): Promise<SyncSettings> {
        return { ...settings(), maxWindowSec: r.maxWindowSec, listed: r.listed, priority: r.priority, intervalMs: r.priority ? 60_000 : 900_000 };
      },
      async syncWindows(q: SpanQuery): Promise<SpanResult> {
        if (r.failures > 0) {
          r.failures--;
          r.failedAt.push(Math.floor((await env.currentTimeMs()) / 1000));
          throw new Error('refused: the relay is down');
        }
        r.spans.push(q.cursor);
        return syncSpan(
          q,
          async (w) => {
            asked.push([w.since, w.until]);
            const inWindow = createdAts.map((c, i) => [c, i] as const).filter(([c]) => c >= w.since && c <= w.until).sort((a, b) => b[0] - a[0]).slice(0, w.limit);
            for (const [, i] of inWindow) served.add(i);
            return { received: inWindow.length, inserted: inWindow.length, known: 0, linked: inWindow.length, invalid: {}, full: inWindow.length >= w.limit };
          },
          r.spanMs,
        );
      },
    },
  };
  return r;
}

let n = 0;
async function run(createdAts: number[], check: (r: ReturnType<typeof relay>, workflowId: string) => Promise<void>, setup?: (r: ReturnType<typeof relay>) => void) {
  const r = relay(createdAts);
  setup?.(r);
  const taskQueue = `sync-${++n}`;
  const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { syncSettings: r.activities.syncSettings } });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows: r.activities.syncWindows } });
  const workflowId = `sync/wss://r${n}.example`;
  await clearnet.runUntil(() =>
    main.runUntil(async () => {
      r.firstRunId = (await env.client.workflow.start(syncRelay, { taskQueue, workflowId, args: [{ url: `wss://r${n}.example`, network: 'clearnet' }] })).firstExecutionRunId;
      await check(r, workflowId);
      await cancelAndWait(env, workflowId);
    }),
  );
}

describe('sync workflow', () => {
  it('a dense stretch is split until every window is complete; nothing is missed; the cursor reaches now - end_lag', async () => {
    // 200 events: a burst of 150 over 30 seconds, and 50 spread over the rest
    const events = [...Array.from({ length: 150 }, (_, i) => START + 5000 + (i % 30)), ...Array.from({ length: 50 }, (_, i) => START + i * 97)];
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(r.served.size, events.length, 'every event was fetched');
      assert.equal(s.fullSeconds, 0);
      assert.ok(s.splits > 0, 'the burst was split');
      assert.ok(s.cursor >= NOW - settings().endLagSec, `cursor ${s.cursor}`);
      // the complete windows tile [start, cursor] with no gap
      const complete = r.asked.filter(([since, until], i) => r.asked[i + 1]?.[0] !== since || until === since);
      let next = START;
      for (const [since, until] of complete) {
        if (since !== next) continue; // a window that was split: its first half follows
        next = until + 1;
      }
      assert.ok(next > s.cursor - 1, 'no second left unasked');
    });
  });

  it('one second holding more than the limit is counted as such, not looped on', async () => {
    const events = Array.from({ length: 25 }, () => START + 2000);
    await run(events, async (_r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(s.fullSeconds, 1);
      assert.ok(s.cursor > START + 2000);
    });
  });

  it('caught up, it sleeps and looks again each interval', async () => {
    await run([START + 1500], async (r, id) => {
      await env.sleep('5m');
      const before = r.asked.length;
      assert.equal((await env.client.workflow.getHandle(id).query(syncStatus)).phase, 'caught up');
      await env.sleep('31m');
      assert.ok(r.asked.length >= before + 2, 'two more looks in two intervals');
    });
  });

  it('a priority relay looks again every minute once caught up, the others every interval', async () => {
    await run([START + 1500], async (r, id) => {
      r.priority = true;
      await env.sleep('5m');
      const before = r.asked.length;
      await env.sleep('10m');
      assert.ok(r.asked.length >= before + 8, `about ten looks in ten minutes, got ${r.asked.length - before}`);
      assert.equal((await env.client.workflow.getHandle(id).query(syncStatus)).phase, 'caught up');
    });
  });

  it('a relay that is down is retried with growing pauses, and the cursor waits for it', async () => {
    await run(
      [START + 100, START + 15_000],
      async (r, id) => {
        await env.sleep('20m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.failedAt.length, 5);
        const gaps = r.failedAt.slice(1).map((t, i) => t - r.failedAt[i]!);
        assert.deepEqual(gaps.map((g) => Math.round(g / 10) * 10), [10, 20, 40, 80], `pauses ${gaps.join(', ')} s`);
        assert.equal(s.phase, 'caught up');
        assert.equal(r.served.size, 2, 'nothing missed once the relay answered');
      },
      (r) => (r.failures = 5),
    );
  });

  it('a relay that leaves the relay table: its workflow ends at its next round', async () => {
    await run([START + 100], async (r, id) => {
      await env.sleep('5m');
      r.listed = false;
      const ended: SyncStatus = await env.client.workflow.getHandle(id).result();
      assert.equal(ended.phase, 'ended');
      assert.ok(ended.cursor >= NOW - 300);
    });
  });

  it('continues as new after its share of activities (200), the cursor and totals carried', async () => {
    // one window per activity (spanMs 0), of at most 30 s, over 20,000 s: about 670 activities, four runs
    const events = Array.from({ length: 200 }, (_, i) => START + i * 97);
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const h = env.client.workflow.getHandle(id);
        const s = await h.query(syncStatus);
        assert.equal(r.served.size, events.length, 'no event missed across the runs');
        assert.ok(s.windows > 600, `windows ${s.windows}: the totals were carried`);
        assert.equal(s.windows, r.asked.length);
        assert.ok(s.cursor >= NOW - 300);
        const d = await h.describe();
        assert.notEqual(d.runId, r.firstRunId, 'a new run');
        assert.ok((await h.fetchHistory()).events!.length < 2000, 'the last run stays small');
      },
      (r) => {
        r.maxWindowSec = 30;
        r.spanMs = 0;
      },
    );
  });

  it('one activity reads window after window, and each begins where the last one left the cursor', async () => {
    const events = [...Array.from({ length: 150 }, (_, i) => START + 5000 + (i % 30)), ...Array.from({ length: 50 }, (_, i) => START + i * 97)];
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.served.size, events.length);
        assert.ok(r.spans.length < r.asked.length / 3, `${r.spans.length} activities for ${r.asked.length} windows`);
        // each activity's first window begins one second past the cursor it was given
        for (const cursor of r.spans) assert.ok(r.asked.some(([since]) => since === cursor + 1), `no window begins at ${cursor + 1}`);
        assert.equal(s.windows, r.asked.length);
      },
      (r) => (r.maxWindowSec = 100),
    );
  });
});
