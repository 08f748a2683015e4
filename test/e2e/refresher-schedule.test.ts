// The Refresher's Temporal Schedule on a real Temporal server (the CLI's dev server: the
// time-skipping test server has no Schedules, sdk-java#1954): made at start, runs the Refresher at
// once and fills the analytics tables; a second start leaves it alone, a new interval updates it,
// and a pause an operator set in the Web UI survives a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createRefresherActivities } from '../../activities/refresher/refresher.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { ensureRefresherSchedule, REFRESHER_SCHEDULE } from '../../workers/schedules.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from '../helpers/config.js';
import { eventually } from '../helpers/eventually.js';
import { workflowBundle } from '../helpers/temporal.js';

describe('the Refresher Schedule', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  before(async () => {
    [env, t] = await Promise.all([TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } }), freshDatabase()]);
  });
  after(async () => {
    await env?.teardown();
    await t?.drop();
  });

  it('is created, runs the Refresher at once, and follows the config without undoing a pause', async () => {
    await t.db.query(`INSERT INTO relay (url, network, discovered_at) VALUES ('wss://s.example', 'clearnet', 1)`);
    const config = testConfig(t.url);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: config.temporal.task_queue,
      workflowBundle: await workflowBundle(),
      activities: createRefresherActivities({ db: t.db, config }),
    });
    await worker.runUntil(async () => {
      assert.equal(await ensureRefresherSchedule(env.client, config), 'schedule created');
      const handle = env.client.schedule.getHandle(REFRESHER_SCHEDULE);
      // The first refresh runs now, not an interval from now.
      await eventually('the schedule to have started a Refresher run that completed', async () => {
        const d = await handle.describe();
        const action = d.info.recentActions[0];
        if (!action) return false;
        const run = env.client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
        return (await run.describe()).status.name === 'COMPLETED';
      }, 60_000);
      const { rows } = await t.db.query(`SELECT url FROM relay_summary`);
      assert.deepEqual(rows, [{ url: 'wss://s.example' }], 'the run filled relay_summary');
      assert.equal(Number((await handle.describe()).spec.intervals?.[0]?.every), config.refresher.interval);

      assert.equal(await ensureRefresherSchedule(env.client, config), 'schedule unchanged');
      await handle.pause('paused by an operator');
      const slower = { ...config, refresher: { ...config.refresher, interval: 2 * config.refresher.interval } };
      assert.equal(await ensureRefresherSchedule(env.client, slower), 'schedule updated');
      const d = await handle.describe();
      assert.equal(Number(d.spec.intervals?.[0]?.every), slower.refresher.interval);
      assert.equal(d.state.paused, true, 'the operator’s pause is kept');
      await handle.delete();
    });
  });
});
