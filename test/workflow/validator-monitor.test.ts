// The Validator's and the Monitor's coordinators in the time-skipping environment: database
// activities real (PostgreSQL), network activities played by the test on the network queue.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { NetworkActivities } from '../../activities/network.js';
import { insertCandidates, insertRelays } from '../../activities/db/store.js';
import type { CoordinatorStatus, MonitorRelayStatus, MonitorSummary, Network, ProbeOutcome } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import { coordinatorStatus, monitor, monitorRelayStatus, validator } from '../../workflows/index.js';
import { eventually } from '../helpers/eventually.js';
import { testConfig } from '../helpers/config.js';
import { count, type TestDatabase } from '../helpers/db.js';
import { cancelAndWait, untilCancelled, withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));
beforeEach(() => t.db.query('TRUNCATE candidate, relay CASCADE'));

let n = 0;
/** A worker for workflows and database activities, and one for the clearnet queue with `network`. */
async function withWorkers<T>(network: Partial<NetworkActivities>, fn: (taskQueue: string) => Promise<T>, env_: Record<string, string> = {}): Promise<T> {
  const taskQueue = `vm-${++n}`;
  const config = testConfig(t.url, env_);
  const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }) });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: `${taskQueue}-clearnet`, activities: network });
  return clearnet.runUntil(() => main.runUntil(fn(taskQueue)));
}

const stop = (workflowId: string) => cancelAndWait(env, workflowId);

const candidate = (name: string, network: Network = 'clearnet') => ({ url: `wss://${name}.example`, network, source: 'seed' });

describe('validator workflow', () => {
  it('one child per candidate, a page per run: valid ones become relays, failures are counted, and dropped at the limit', async () => {
    await insertCandidates(t.db, ['a', 'b', 'c', 'd', 'e'].map((x) => candidate(x)), 1);
    await t.db.query(`UPDATE candidate SET failures = 4 WHERE url = 'wss://e.example'`); // one more makes max_failures (5)
    const probed: string[] = [];
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        probed.push(url);
        return /[abc]\./.test(url) ? { url, verdict: 'valid', reason: 'eose: answered' } : { url, verdict: 'invalid', reason: 'refused: connect ECONNREFUSED' };
      },
    };
    await withWorkers(network, async (taskQueue) => {
      const h = await env.client.workflow.start(validator, { taskQueue, workflowId: `validator-${n}`, args: [{ pageSize: 2, maxInFlight: 2, interval: '1h' }] });
      await env.sleep('30m');
      const s: CoordinatorStatus = await env.client.workflow.getHandle(h.workflowId).query(coordinatorStatus);
      assert.equal(s.phase, 'sleeping');
      assert.deepEqual(s.last?.outcomes, { promoted: 3, failed: 1, dropped: 1 });
      assert.deepEqual(s.last?.reasons, { refused: 2 });
      assert.equal(s.last?.pages, 3);
      assert.notEqual((await env.client.workflow.getHandle(h.workflowId).describe()).runId, h.firstExecutionRunId, 'continued as new per page');
      const child = await env.client.workflow.getHandle('validate/wss://a.example').describe();
      assert.equal(child.status.name, 'COMPLETED');
      await stop(h.workflowId);
    });
    assert.deepEqual(probed.sort(), ['wss://a.example', 'wss://b.example', 'wss://c.example', 'wss://d.example', 'wss://e.example']);
    const relays = await t.db.query('SELECT url FROM relay ORDER BY url');
    assert.deepEqual(relays.rows.map((r) => r.url), ['wss://a.example', 'wss://b.example', 'wss://c.example']);
    const left = await t.db.query('SELECT url, failures, last_error FROM candidate ORDER BY url');
    assert.deepEqual(left.rows, [{ url: 'wss://d.example', failures: 1, last_error: 'refused: connect ECONNREFUSED' }]);
  });

  it('a candidate of a network with a proxy in the config but no worker serving it is skipped with the reason, and kept', async () => {
    const onion = 'ws://oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion';
    await insertCandidates(t.db, [{ url: onion, network: 'tor', source: 'seed' }], 1);
    // the clearnet queue is served; the tor queue is not
    await withWorkers({ probeRelay: async () => assert.fail('no clearnet candidate here') }, async (taskQueue) => {
      const h = await env.client.workflow.start(validator, { taskQueue, workflowId: `validator-${n}`, args: [{ interval: '1h' }] });
      await env.sleep('15m'); // the probe waits ten minutes for a tor worker: skipped, not waited
      const r = await env.client.workflow.getHandle(`validate/${onion}`).result();
      assert.equal(r.result, 'skipped');
      assert.match(r.reason, /^unserved: no worker serves the tor network \(configure networks\.tor\.proxy/);
      await stop(h.workflowId);
    }, { BIGBROTR__networks__tor__proxy: 'socks5h://127.0.0.1:9' });
    assert.equal(await count(t.db, 'SELECT * FROM candidate WHERE failures = 0'), 1);
  });

  it('candidates of a network with no proxy in the config are left alone, not waited on', async () => {
    const onion = 'ws://oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion';
    await insertCandidates(t.db, [{ url: onion, network: 'tor', source: 'seed' }, candidate('clear')], 1);
    const probed: string[] = [];
    const network = {
      async probeRelay({ url }: { url: string }): Promise<ProbeOutcome> {
        probed.push(url);
        return { url, verdict: 'valid', reason: 'eose: answered' };
      },
    };
    await withWorkers(network, async (taskQueue) => {
      const h = await env.client.workflow.start(validator, { taskQueue, workflowId: `validator-${n}`, args: [{ interval: '1h' }] });
      await env.sleep('5m');
      const s: CoordinatorStatus = await env.client.workflow.getHandle(h.workflowId).query(coordinatorStatus);
      assert.deepEqual(s.last?.outcomes, { promoted: 1 });
      assert.deepEqual(s.settings?.networks, ['clearnet']);
      await stop(h.workflowId);
    });
    assert.deepEqual(probed, ['wss://clear.example']);
    assert.equal(await count(t.db, 'SELECT * FROM candidate WHERE network = $1', ['tor']), 1);
  });
});

describe('monitor workflow', () => {
  const summary = (url: string): MonitorSummary => ({ url, ok: ['open', 'read'], failed: {}, stored: 1 });
  const relayStatus = (url: string): Promise<MonitorRelayStatus> => env.client.workflow.getHandle(`monitor/${url}`).query(monitorRelayStatus);

  it('each relay has its own workflow, which checks it every interval: three hours pass in seconds; a relay removed from the list ends its workflow', async () => {
    await insertRelays(t.db, ['a', 'b'].map((x) => ({ url: `wss://${x}.example`, network: 'clearnet' as const, discoveredAt: 1 })));
    const checks: Record<string, number> = {};
    const network = {
      async checkRelay({ url }: { url: string }) {
        checks[url] = (checks[url] ?? 0) + 1;
        return summary(url);
      },
    };
    await withWorkers(network, async (taskQueue) => {
      const h = await env.client.workflow.start(monitor, { taskQueue, workflowId: `monitor-${n}`, args: [{ interval: '15m' }] });
      await eventually('both relays checked once', () => checks['wss://a.example'] === 1 && checks['wss://b.example'] === 1);
      for (const hour of [2, 3]) {
        await env.sleep('1h');
        await eventually(`both relays checked ${hour} times`, () => checks['wss://a.example'] === hour && checks['wss://b.example'] === hour);
      }
      const s: CoordinatorStatus = await env.client.workflow.getHandle(h.workflowId).query(coordinatorStatus);
      assert.ok(s.cycle >= 4, `the coordinator's passes (every 15 min) found the workflows running: cycle ${s.cycle}`);
      assert.deepEqual(s.last?.outcomes, { running: 2 });
      const a = await relayStatus('wss://a.example');
      assert.equal(a.checks, 3);
      assert.equal(a.failures, 0);
      assert.equal(a.step, 0);
      assert.equal(a.waitMs, 3_600_000);
      assert.equal(a.phase, 'waiting');

      await t.db.query(`DELETE FROM relay WHERE url = 'wss://b.example'`);
      await env.sleep('1h');
      await eventually('a checked a fourth time', () => checks['wss://a.example'] === 4);
      const b: MonitorRelayStatus = await env.client.workflow.getHandle('monitor/wss://b.example').result() as MonitorRelayStatus;
      assert.equal(b.phase, 'ended');
      assert.equal(b.checks, 3);
      assert.deepEqual(checks, { 'wss://a.example': 4, 'wss://b.example': 3 });
      await stop(h.workflowId);
    });
  });

  it('cancelling the coordinator stops every relay\'s workflow', async () => {
    const urls = ['a', 'b', 'c'].map((x) => `wss://${x}.example`);
    await insertRelays(t.db, urls.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })));
    let started = 0;
    let allStarted!: () => void;
    const inFlight = new Promise<void>((r) => (allStarted = r));
    const network = {
      // A check that never ends by itself: it heartbeats until it is cancelled, as a real one does.
      async checkRelay(): Promise<MonitorSummary> {
        if (++started === urls.length) allStarted();
        return untilCancelled();
      },
    };
    await withWorkers(network, async (taskQueue) => {
      const h = await env.client.workflow.start(monitor, { taskQueue, workflowId: `monitor-${n}`, args: [{ interval: '1h' }] });
      await inFlight;
      await stop(h.workflowId);
      assert.equal((await h.describe()).status.name, 'CANCELLED');
      for (const url of urls) {
        const child = env.client.workflow.getHandle(`monitor/${url}`);
        await child.result().catch(() => {});
        assert.equal((await child.describe()).status.name, 'CANCELLED', url);
      }
    });
  });
});
