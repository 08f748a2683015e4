// The services hand work on at once: a promotion starts the relay's Monitor workflow and its sync
// workflow, with every coordinator's interval an hour, and the Monitor does no pass over every
// relay for it. Database activities real (PostgreSQL), network activities played by the test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { insertCandidates, insertEvents } from '../../activities/db/store.js';
import { networkQueue, syncQueue, UNKNOWN_RELAY, type CoordinatorStatus, type MonitorSummary, type ValidationRecord, type ProbeOutcome, type SpanQuery, type SpanResult } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import { coordinatorStatus, finder, monitor, synchronizer, validator } from '../../workflows/index.js';
import { testConfig } from '../helpers/config.js';
import { signed } from '../helpers/nostr.js';
import type { TestDatabase } from '../helpers/db.js';
import { cancelAndWait, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';
import { eventually } from '../helpers/eventually.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));


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
    const { monitorPage, syncPage } = activities;
    activities.monitorPage = async (q) => {
      if (q.after === null) passes.monitor++;
      return monitorPage(q);
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

      // The relay's own Monitor workflow runs, under the ID the coordinator gives it: a pass leaves it be.
      assert.equal((await env.client.workflow.getHandle(`monitor/${url}`).describe()).status.name, 'RUNNING');
      assert.equal((await env.client.workflow.getHandle(`sync/${url}`).describe()).status.name, 'RUNNING');
      assert.equal(passes.monitor, 1, 'no Monitor pass over every relay for one promotion');
      assert.deepEqual(checked, [url]);

      // A Monitor pass now finds its workflow running, and starts no second one.
      await env.client.workflow.getHandle('monitor').signal('runNow');
      await eventually('the Monitor made a second pass', () => passes.monitor === 2);
      await eventually('the pass is over', async () => {
        const s: CoordinatorStatus = await env.client.workflow.getHandle('monitor').query(coordinatorStatus);
        return s.last?.cycle === 2;
      });
      const s: CoordinatorStatus = await env.client.workflow.getHandle('monitor').query(coordinatorStatus);
      assert.deepEqual(s.last?.outcomes, { running: 1 });
      assert.deepEqual(checked, [url], 'checked once: the relay waits its interval');

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
      const child: ValidationRecord = await env.client.workflow.getHandle(`validate/${url}`).result();
      assert.equal(child.result, 'promoted');
      await assert.rejects(env.client.workflow.getHandle(`monitor/${url}`).describe(), /not found/i);
      await cancelAndWait(env, 'validator');
    }));
  });

  it('candidates the Finder adds wake the Validator, which probes them without waiting its hour', async () => {
    const taskQueue = 'handoff-finder';
    const config = testConfig(t.url);
    const activities = createActivities({ db: t.db, config });
    const validatorPasses = { n: 0 };
    const { candidatePage } = activities;
    activities.candidatePage = async (q) => {
      if (q.after === null) validatorPasses.n++;
      return candidatePage(q);
    };
    const probed: string[] = [];
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        probed.push(url);
        return { url, verdict: 'invalid', reason: 'refused: connect ECONNREFUSED' };
      },
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: network });
    await clearnet.runUntil(() => main.runUntil(async () => {
      await env.client.workflow.start(validator, { taskQueue, workflowId: 'validator', args: [{ interval: '1h' }] });
      await eventually('the Validator made its first pass', () => validatorPasses.n === 1);
      // A relay list in the archive, which the Finder reads.
      const found = 'wss://found-by-the-finder.example';
      await insertEvents(t.db, [signed({ kind: 10002, created_at: 1_700_000_100, tags: [['r', found]] })]);
      await env.client.workflow.start(finder, { taskQueue, workflowId: 'finder', args: [{ interval: '1h', sources: ['events'] }] });
      await eventually('the Finder\'s candidate is probed', () => probed.includes(found));
      assert.equal(validatorPasses.n, 2, 'one pass more: the one the Finder woke');
      for (const id of ['finder', 'validator']) await cancelAndWait(env, id);
    }));
  });

  it('a runNow during a pass starts the next pass when it ends: a candidate added before the cursor is probed at once', async () => {
    const taskQueue = 'handoff-mid-pass';
    const config = testConfig(t.url);
    await t.db.query('TRUNCATE candidate');
    await insertCandidates(t.db, ['m', 'n'].map((x) => ({ url: `wss://${x}.mid-pass.example`, network: 'clearnet' as const, source: 'seed' })), 1);
    const probed: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const isHeld = new Promise<void>((r) => (holding = r));
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        probed.push(url);
        if (url.startsWith('wss://n.')) {
          holding();
          await held; // the pass is on its last page, past 'a' and 'm'
        }
        return { url, verdict: 'invalid', reason: 'refused: connect ECONNREFUSED' };
      },
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }) });
    const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: network });
    await clearnet.runUntil(() => main.runUntil(async () => {
      await env.client.workflow.start(validator, { taskQueue, workflowId: 'validator', args: [{ interval: '1h', pageSize: 1 }] });
      await isHeld;
      // New candidate, before the cursor: this pass no longer looks there. The Finder would wake the Validator now.
      await insertCandidates(t.db, [{ url: 'wss://a.mid-pass.example', network: 'clearnet', source: 'seed' }], 1);
      await env.client.workflow.getHandle('validator').signal('runNow');
      release();
      await eventually('the new candidate is probed', () => probed.includes('wss://a.mid-pass.example'));
      assert.deepEqual(probed, ['wss://m.mid-pass.example', 'wss://n.mid-pass.example', 'wss://a.mid-pass.example'], 'm and n once (not due again), then a');
      await cancelAndWait(env, 'validator');
    }));
  });
});
