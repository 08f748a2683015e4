// A PostgreSQL outage in the Monitor, in the time-skipping environment: every activity that touches
// the database (the coordinator's page, a relay's settings, the check that stores its results, the
// publishing that reads them back) throws a connection error for minutes, then works. Everything
// waits for the database: every relay is checked, no workflow fails, the coordinator goes on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { MonitorActivities, MonitorRelaySettings, MonitorSettings, PublishResult } from '../../activities/monitor/monitor.js';
import type { NetworkActivities } from '../../activities/network.js';
import type { CoordinatorStatus, MonitorRelayStatus, MonitorSummary } from '../../common/index.js';
import { coordinatorStatus, monitor, monitorRelay, monitorRelayStatus } from '../../workflows/index.js';
import { eventually } from '../helpers/eventually.js';
import { cancelAllAndWait, cancelAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
before(async () => (env = await timeSkippingEnv()));
after(() => env?.teardown());

/** What pg throws while the server is down. */
function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

/** An activity that fails its first `failures` attempts as if PostgreSQL were down, then runs `fn`. */
function downFor<A extends unknown[], R>(failures: number, fn: (...args: A) => Promise<R>, attempts: { n: number }) {
  return async (...args: A): Promise<R> => {
    if (++attempts.n <= failures) throw connectionRefused();
    return fn(...args);
  };
}

const URLS = ['wss://a.example', 'wss://b.example'];

/** Waits until the relay's workflow has run its first check; returns its status. */
async function firstCheck(url: string): Promise<MonitorRelayStatus> {
  let s!: MonitorRelayStatus;
  await eventually(`${url} checked`, async () => {
    const q = await env.client.workflow.getHandle(`monitor/${url}`).query(monitorRelayStatus).catch(() => undefined); // (not started yet)
    if (q) s = q;
    return q?.checks === 1 && q.phase === 'waiting';
  }, 120_000, () => env.sleep('5m')); // the retries' backoff passes in skipped time
  return s;
}

const relaySettings: MonitorRelaySettings = { listed: true, intervalMs: 3_600_000, backoff: { after: 3, ladderMs: [10_800_000] }, checks: ['open'], publish: true };

describe('monitor during a database outage', () => {
  it('the relays\' workflows wait for PostgreSQL and check once it is back; the coordinator\'s pass has no failure', async () => {
    const settings: MonitorSettings = { intervalMs: 900_000, pageSize: 100, maxInFlight: 10, networks: ['clearnet'], checks: ['open'], publish: true };
    const published: PublishResult = { accepted: 1, targets: 1, errors: [] };
    // Attempt counters per activity (and per relay for the per-relay ones).
    const pages = { n: 0 };
    const checks = Object.fromEntries(URLS.map((u) => [u, { n: 0 }]));
    const publishes = Object.fromEntries(URLS.map((u) => [u, { n: 0 }]));
    const relaySettingsRead = Object.fromEntries(URLS.map((u) => [u, { n: 0 }]));
    // Six failed attempts of the check and eight of the publishing: minutes of outage (retried with
    // backoff), far beyond the ~15 s the old policies (3 and 5 attempts) survived.
    const db: Partial<MonitorActivities> = {
      monitorSettings: async () => settings,
      monitorPage: downFor(6, async (q: { after: string | null }) => (q.after === null ? URLS.map((url) => ({ url, network: 'clearnet' as const, action: 'start' as const })) : []), pages),
      publishAnnouncement: async () => published,
      monitorRelaySettings: (q: { url: string }) => downFor(4, async () => relaySettings, relaySettingsRead[q.url]!)(),
      publishDiscovery: (q: { url: string }) => downFor(8, async () => published, publishes[q.url]!)(),
      recordBackoff: async () => {},
      stopMonitors: async () => ({ cancelled: 0 }),
    };
    const network: Partial<NetworkActivities> = {
      checkRelay: (q: { url: string }) =>
        downFor(6, async (): Promise<MonitorSummary> => ({ url: q.url, ok: ['open'], failed: {}, stored: 1 }), checks[q.url]!)(),
    };
    const taskQueue = 'monitor-outage';
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: db });
    const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: `${taskQueue}-clearnet`, activities: network });
    await clearnet.runUntil(() =>
      main.runUntil(async () => {
        const h = await env.client.workflow.start(monitor, { taskQueue, workflowId: 'monitor-outage', args: [{}] });
        for (const url of URLS) {
          const r = await firstCheck(url);
          assert.deepEqual(r.last, { url, ok: ['open'], failed: {}, stored: 1, published: 1 });
          assert.equal(r.failures, 0, 'an outage of ours is not a failure of the relay');
          assert.equal(relaySettingsRead[url]!.n, 5, `${url}: four failed reads of its settings, then one`);
          assert.equal(checks[url]!.n, 7, `${url}: six failed checks, then one that stored`);
          assert.equal(publishes[url]!.n, 9, `${url}: eight failed publishings, then one`);
        }
        const s: CoordinatorStatus = await env.client.workflow.getHandle(h.workflowId).query(coordinatorStatus);
        assert.deepEqual(s.last?.outcomes, { started: 2 }, 'the pass survived the outage and started both, no child failed');
        // (stopMonitors is played here: the relays' workflows are cancelled with the coordinator)
        await cancelAllAndWait(env, [h.workflowId, ...URLS.map((url) => `monitor/${url}`)]);
      }),
    );
  });

  it('one relay\'s workflow alone: its check stores only after a quarter of an hour of outage, and it goes on', async () => {
    const checks = { n: 0 };
    const publishes = { n: 0 };
    const published: PublishResult = { accepted: 2, targets: 2, errors: [] };
    const url = 'wss://c.example';
    const taskQueue = 'monitor-outage-child';
    const main = await Worker.create({
      connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(),
      activities: {
        monitorRelaySettings: async () => relaySettings,
        publishDiscovery: downFor(10, async () => published, publishes),
        recordBackoff: async () => {},
      } satisfies Partial<MonitorActivities>,
    });
    const clearnet = await Worker.create({
      connection: env.nativeConnection, taskQueue: `${taskQueue}-clearnet`,
      activities: { checkRelay: downFor(8, async (): Promise<MonitorSummary> => ({ url, ok: ['open'], failed: {}, stored: 2 }), checks) } satisfies Partial<NetworkActivities>,
    });
    await clearnet.runUntil(() =>
      main.runUntil(async () => {
        await env.client.workflow.start(monitorRelay, { taskQueue, workflowId: `monitor/${url}`, args: [{ url, network: 'clearnet' }] });
        const r = await firstCheck(url);
        assert.deepEqual(r.last, { url, ok: ['open'], failed: {}, stored: 2, published: 2 });
        await cancelAndWait(env, `monitor/${url}`);
      }),
    );
    assert.equal(checks.n, 9);
    assert.equal(publishes.n, 11);
  });
});
