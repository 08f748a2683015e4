// A dead relay's Monitor workflow walks down the ladder of check intervals on durable timers, and
// comes back to the interval after one success; a worker restart mid-ladder keeps its position.
// Time-skipping environment; database activities real (PostgreSQL: relay_backoff), the checks
// played by the test on the network queue (up or down as the test says).
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { insertRelays } from '../../activities/db/store.js';
import { networkQueue, type MonitorRelayStatus, type MonitorSummary } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import { monitorRelay, monitorRelayStatus } from '../../workflows/index.js';
import { testConfig } from '../helpers/config.js';
import type { TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';
import { cancelAndWait, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));
beforeEach(() => t.db.query('TRUNCATE relay CASCADE'));

const HOUR = 3_600_000;
// Interval 1 h; down twice in a row: 3 h, then 24 h (and 24 h for ever).
const LADDER = { BIGBROTR__monitor__interval: '1h', BIGBROTR__monitor__backoff__after: '2', BIGBROTR__monitor__backoff__ladder: '[3h, 24h]' };

/** The relay's answers: `up` decides each check; every check is counted. */
function playedRelay(url: string) {
  const relay = { up: false, checks: 0 };
  const checkRelay = async (): Promise<MonitorSummary> => {
    relay.checks++;
    return relay.up ? { url, ok: ['open', 'read'], failed: {}, stored: 1 } : { url, ok: [], failed: { open: 'refused: connect ECONNREFUSED 127.0.0.1:1' }, stored: 0 };
  };
  return { relay, checkRelay };
}

let n = 0;
async function withWorkers<T>(taskQueue: string, checkRelay: () => Promise<MonitorSummary>, fn: () => Promise<T>, cache = true): Promise<T> {
  const config = testConfig(t.url, LADDER);
  const main = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }),
    // (No cache: the test server never moves a query off a gone worker's sticky queue, where the
    // real one does after a few seconds; without a cache each task is played from history anyway.)
    ...(cache ? {} : { maxCachedWorkflows: 0 }),
  });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: { checkRelay } });
  return clearnet.runUntil(() => main.runUntil(fn()));
}

const statusOf = (url: string): Promise<MonitorRelayStatus> => env.client.workflow.getHandle(`monitor/${url}`).query(monitorRelayStatus);
const backoffRow = async (url: string) => (await t.db.query('SELECT failures, step, wait_ms::int AS wait_ms FROM relay_backoff WHERE relay_url = $1', [url])).rows[0];

/** Waits until the relay's workflow has run `checks` checks and waits again; returns its status. */
async function afterCheck(url: string, checks: number, counted: { checks: number }): Promise<MonitorRelayStatus> {
  let s!: MonitorRelayStatus;
  await eventually(`${url} checked ${checks} times and waiting`, async () => {
    s = await statusOf(url);
    return s.checks === checks && s.phase === 'waiting';
  });
  assert.equal(counted.checks, checks, 'the relay saw as many checks as the workflow counts');
  return s;
}

describe('monitor ladder', () => {
  it('a relay down check after check walks down the ladder, and one success brings it back to the interval', async () => {
    const url = `wss://down-${++n}.example`;
    await insertRelays(t.db, [{ url, network: 'clearnet', discoveredAt: 1 }]);
    const { relay, checkRelay } = playedRelay(url);
    const taskQueue = `ladder-${n}`;
    await withWorkers(taskQueue, checkRelay, async () => {
      await env.client.workflow.start(monitorRelay, { taskQueue, workflowId: `monitor/${url}`, args: [{ url, network: 'clearnet' }] });
      let s = await afterCheck(url, 1, relay);
      assert.deepEqual([s.failures, s.step, s.waitMs], [1, 0, HOUR], 'one failure: still the interval');
      assert.match(s.lastReason ?? '', /^refused: .* \(open\)$/);
      assert.deepEqual(await backoffRow(url), { failures: 1, step: 0, wait_ms: HOUR });

      await env.sleep('1h');
      s = await afterCheck(url, 2, relay);
      assert.deepEqual([s.failures, s.step, s.waitMs], [2, 1, 3 * HOUR], 'two in a row: the first step, 3 h');
      assert.deepEqual(await backoffRow(url), { failures: 2, step: 1, wait_ms: 3 * HOUR });

      await env.sleep('2h');
      assert.equal((await statusOf(url)).checks, 2, 'not checked at the interval while on the 3 h step');
      await env.sleep('1h');
      s = await afterCheck(url, 3, relay);
      assert.deepEqual([s.failures, s.step, s.waitMs], [3, 2, 24 * HOUR], 'three: the second step, 24 h');

      await env.sleep('22h');
      assert.equal((await statusOf(url)).checks, 3, 'not checked before the 24 h are over');
      relay.up = true;
      await env.sleep('2h');
      s = await afterCheck(url, 4, relay);
      assert.deepEqual([s.failures, s.step, s.waitMs], [0, 0, HOUR], 'one success: back to the interval at once');
      assert.ok(s.lastOkAt && s.lastFailedAt && s.lastOkAt > s.lastFailedAt);
      assert.deepEqual(await backoffRow(url), { failures: 0, step: 0, wait_ms: HOUR });

      await env.sleep('1h');
      await afterCheck(url, 5, relay);
      await cancelAndWait(env, `monitor/${url}`);
    });
  });

  it('a worker restart mid-ladder keeps the relay\'s position: its next check still waits the step\'s 24 h', async () => {
    const url = `wss://restart-${++n}.example`;
    await insertRelays(t.db, [{ url, network: 'clearnet', discoveredAt: 1 }]);
    const { relay, checkRelay } = playedRelay(url);
    const taskQueue = `ladder-${n}`;
    await withWorkers(taskQueue, checkRelay, async () => {
      await env.client.workflow.start(monitorRelay, { taskQueue, workflowId: `monitor/${url}`, args: [{ url, network: 'clearnet' }] });
      await afterCheck(url, 1, relay);
      await env.sleep('1h');
      await afterCheck(url, 2, relay);
      await env.sleep('3h');
      const s = await afterCheck(url, 3, relay);
      assert.equal(s.step, 2);
    }, false);
    // The workers are gone (the workflow's cached state with them); new ones take the workflow up.
    await withWorkers(taskQueue, checkRelay, async () => {
      await env.sleep('2h');
      const s = await statusOf(url);
      assert.deepEqual([s.checks, s.failures, s.step, s.waitMs], [3, 3, 2, 24 * HOUR], 'the position survived the restart');
      assert.equal(relay.checks, 3, 'no check at the interval after the restart');
      await env.sleep('22h');
      const after = await afterCheck(url, 4, relay);
      assert.deepEqual([after.failures, after.step, after.waitMs], [4, 2, 24 * HOUR], 'the last step is kept');
      await cancelAndWait(env, `monitor/${url}`);
    });
  });
});
