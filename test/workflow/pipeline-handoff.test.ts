// The services hand work on at once: a promotion starts the relay's Monitor check and its sync
// workflow, with every coordinator's interval an hour, and the Monitor does no pass over every
// relay for it. Database activities real (PostgreSQL), network activities played by the test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { insertCandidates } from '../../activities/store.js';
import { networkQueue, syncQueue, UNKNOWN_RELAY, type MonitorSummary, type ProbeOutcome, type SpanQuery, type SpanResult } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import { monitor, synchronizer, validator } from '../../workflows/index.js';
import { testConfig } from '../helpers/config.js';
import type { TestDatabase } from '../helpers/db.js';
import { cancelAndWait, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));

/** Polls in real time (nothing here waits on a timer, so the test server skips no time). */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const empty = async (q: SpanQuery): Promise<SpanResult> => ({
  cursor: q.target, windowSec: q.maxWindowSec, windows: 1, splits: 0, negentropyWindows: 0, received: 0, inserted: 0, known: 0, linked: 0, invalid: {}, unserved: 0,
  reqs: 1, pages: 0, denseSeconds: 0, gaps: 0, gapsFilled: 0, overlapFound: 0, capLowered: 0, relay: { ...UNKNOWN_RELAY, ...q.relay },
});

describe('pipeline hand-off', () => {
  it('a promoted relay is checked and synced at once, without a Monitor pass over every relay', async () => {
    const taskQueue = 'handoff';
    const config = testConfig(t.url, { BIGBROTR__synchronizer__start: '0' });
    const activities = createActivities({ db: t.db, config });
    // Passes are counted through their page activities (a query can be held while a run continues as new).
    const passes = { monitor: 0, synchronizer: 0 };
    const { relayPage, syncPage } = activities;
    activities.relayPage = async (q) => {
      if (q.after === null) passes.monitor++;
      return relayPage(q);
    };
    activities.syncPage = async (q) => {
      if (q.after === null) passes.synchronizer++;
      return syncPage(q);
    };
    const checked: string[] = [];
    const synced: string[] = [];
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        return { url, verdict: 'valid', reason: 'eose: answered' };
      },
      async checkRelay({ url }: { url: string }): Promise<MonitorSummary> {
        checked.push(url);
        return { url, ok: ['open'], failed: {}, stored: 0 };
      },
    };
    const syncWindows = async (q: SpanQuery): Promise<SpanResult> => {
      synced.push(q.url);
      return empty(q);
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: network });
    const sync = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows } });
    await sync.runUntil(() => clearnet.runUntil(() => main.runUntil(async () => {
      // The Monitor and the Synchronizer find no relay and sleep their hour, as on a fresh start.
      await env.client.workflow.start(monitor, { taskQueue, workflowId: 'monitor', args: [{ interval: '1h' }] });
      await env.client.workflow.start(synchronizer, { taskQueue, workflowId: 'synchronizer', args: [{ interval: '1h' }] });
      await eventually('both made their first pass', () => passes.monitor === 1 && passes.synchronizer === 1);
      await new Promise((r) => setTimeout(r, 1000)); // and sleep

      const url = 'wss://promoted.example';
      await insertCandidates(t.db, [{ url, network: 'clearnet', source: 'seed' }], 1);
      const started = Date.now();
      await env.client.workflow.start(validator, { taskQueue, workflowId: 'validator', args: [{ interval: '1h' }] });
      await eventually('the promoted relay is checked', () => checked.includes(url));
      await eventually('the promoted relay is synced', () => synced.includes(url));
      console.log(`# promotion to check and sync: ${((Date.now() - started) / 1000).toFixed(1)} s (intervals: 1 h)`);

      // The check ran under the Monitor's own ID for the relay, so a pass would not run it twice.
      assert.equal((await env.client.workflow.getHandle(`monitor/${url}`).describe()).status.name, 'COMPLETED');
      assert.equal((await env.client.workflow.getHandle(`sync/${url}`).describe()).status.name, 'RUNNING');
      assert.equal(passes.monitor, 1, 'no Monitor pass over every relay for one promotion');
      assert.deepEqual(checked, [url]);

      // A Monitor pass now sees it (and checks it: the first check is over).
      await env.client.workflow.getHandle('monitor').signal('runNow');
      await eventually('the Monitor pass checked it', () => checked.length === 2);

      for (const id of ['validator', 'monitor', 'synchronizer']) await cancelAndWait(env, id);
    })));
  });

  it('a promotion while the Monitor and the Synchronizer do not run: nothing started, nothing failed', async () => {
    const taskQueue = 'handoff-alone';
    const config = testConfig(t.url);
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        return { url, verdict: 'valid', reason: 'eose: answered' };
      },
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }) });
    const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: network });
    await clearnet.runUntil(() => main.runUntil(async () => {
      const url = 'wss://alone.example';
      await insertCandidates(t.db, [{ url, network: 'clearnet', source: 'seed' }], 1);
      // (the first test's coordinators were cancelled: they are not running)
      await env.client.workflow.start(validator, { taskQueue, workflowId: 'validator', args: [{ interval: '1h' }] });
      await eventually('the relay is promoted', async () => (await t.db.query('SELECT 1 FROM relay WHERE url = $1', [url])).rowCount === 1);
      const child = await env.client.workflow.getHandle(`validate/${url}`).describe();
      assert.equal(child.status.name, 'COMPLETED');
      await assert.rejects(env.client.workflow.getHandle(`monitor/${url}`).describe(), /not found/i);
      await cancelAndWait(env, 'validator');
    }));
  });
});
