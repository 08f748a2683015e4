// A relay whose reads keep killing the worker (issue 23): each death is the activity's heartbeat
// lost; after `backoff.after` in a row the relay is set aside on the ladder (its status says why,
// setAsideRelay records it), and one clean read brings it back. On the dev server, not the
// time-skipping one: the Temporal server's own retry rules decide here (a heartbeat timeout named
// non-retryable, `TemporalTimeout:Heartbeat`, comes back to the workflow), and the
// time-skipping test server does not apply them. The waits are made seconds long.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { syncQueue, UNKNOWN_RELAY, type SpanQuery, type SpanResult, type SyncSettings } from '../../common/index.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { eventually } from '../helpers/eventually.js';
import { cancelAndWait, workflowBundle } from '../helpers/temporal.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';

let env: TestWorkflowEnvironment;
before(async () => (env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } })));
after(() => env?.teardown());

describe('sync workflow: a relay that kills the worker', () => {
  it('is read again after a death, set aside on the ladder after `after` deaths in a row, and back after one clean read', async () => {
    const now = Math.floor((await env.currentTimeMs()) / 1000);
    const settings: SyncSettings = {
      start: now - 1000, endLagSec: 300, limit: 10, maxWindowSec: 1000, intervalMs: 1000, listed: true, priority: false,
      gapRetryMs: 86_400_000, refusedRetryMs: 86_400_000, backoff: { after: 2, ladderMs: [2000] }, heartbeatTimeoutMs: 5000,
    };
    let dying = 2; // reads that die (never heartbeat, outlive the heartbeat timeout) before one that works
    let reads = 0;
    const setAside: string[] = [];
    const taskQueue = 'sync-set-aside';
    const main = await Worker.create({
      connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(),
      activities: {
        syncSettings: async () => settings,
        setAsideRelay: async (q: { url: string; reason: string }) => void setAside.push(q.reason),
      },
    });
    const clearnet = await Worker.create({
      connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'),
      activities: {
        async syncWindows(q: SpanQuery): Promise<SpanResult> {
          reads++;
          if (dying > 0) {
            dying--;
            await new Promise((r) => setTimeout(r, 8000)); // as dead: no heartbeat past the 5 s timeout
          }
          return {
            cursor: q.target, windowSec: q.windowSec, relay: { ...UNKNOWN_RELAY }, windows: 1, splits: 0, negentropyWindows: 0, received: 0, inserted: 0,
            known: 0, linked: 0, invalid: {}, unserved: 0, reqs: 1, pages: 0, denseSeconds: 0, gaps: 0, gapsFilled: 0, overlapFound: 0, capLowered: 0,
          };
        },
      },
    });
    const workflowId = 'sync/wss://killer.example';
    await clearnet.runUntil(() => main.runUntil(async () => {
      await env.client.workflow.start(syncRelay, { taskQueue, workflowId, args: [{ url: 'wss://killer.example', network: 'clearnet' }] });
      const handle = env.client.workflow.getHandle(workflowId);
      try {
        await eventually('the relay set aside after two deaths', async () => (await handle.query(syncStatus)).phase === 'set aside', 60_000);
        const s = await handle.query(syncStatus);
        assert.equal(s.deaths, 2);
        assert.match(s.notArchivable ?? '', /worker died 2 times in a row/);
        assert.equal(setAside.length, 1);
        assert.ok(reads <= 3, 'at most one read since it was set aside');
        await eventually('one clean read brings it back', async () => (await handle.query(syncStatus)).phase === 'caught up', 60_000);
        const back = await handle.query(syncStatus);
        assert.equal(back.deaths, 0);
        assert.equal(back.notArchivable, undefined);
        assert.ok(reads >= 3);
      } finally {
        await cancelAndWait(env, workflowId);
      }
    }));
  });
});
