// A PostgreSQL outage during a Monitor pass, in the time-skipping environment: every activity that
// touches the database (the coordinator's, the check that stores its results, the publishing that
// reads them back) throws a connection error for minutes, then works. The pass waits for the
// database and ends with every relay checked: no child fails, the coordinator goes on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { MonitorActivities, MonitorSettings, PublishResult } from '../../activities/monitor.js';
import type { NetworkActivities } from '../../activities/network.js';
import type { CoordinatorStatus, MonitorSummary } from '../../common/index.js';
import { coordinatorStatus, monitor, monitorRelay } from '../../workflows/index.js';
import { cancelAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

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

describe('monitor during a database outage', () => {
  it('a child whose storing fails for minutes completes once PostgreSQL is back; the pass has no failure', async () => {
    const settings: MonitorSettings = { intervalMs: 3_600_000, pageSize: 100, maxInFlight: 10, networks: ['clearnet'], checks: ['open'], publish: true };
    const published: PublishResult = { accepted: 1, targets: 1, errors: [] };
    // Attempt counters per activity (and per relay for the per-relay ones).
    const pages = { n: 0 };
    const checks = Object.fromEntries(URLS.map((u) => [u, { n: 0 }]));
    const publishes = Object.fromEntries(URLS.map((u) => [u, { n: 0 }]));
    // Six failed attempts of the check and eight of the publishing: minutes of outage (retried with
    // backoff), far beyond the ~15 s the old policies (3 and 5 attempts) survived.
    const db: Partial<MonitorActivities> = {
      monitorSettings: async () => settings,
      relayPage: downFor(6, async (q: { after: string | null }) => (q.after === null ? URLS.map((url) => ({ url, network: 'clearnet' as const })) : []), pages),
      publishAnnouncement: async () => published,
      publishDiscovery: (q: { url: string }) => downFor(8, async () => published, publishes[q.url]!)(),
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
        await env.sleep('30m'); // skipped: the retries' backoff passes in a moment
        const s: CoordinatorStatus = await env.client.workflow.getHandle(h.workflowId).query(coordinatorStatus);
        assert.equal(s.phase, 'sleeping', 'the coordinator survived the outage and finished its pass');
        assert.deepEqual(s.last?.outcomes, { healthy: 2 }, 'no child failed');
        for (const url of URLS) {
          const child = env.client.workflow.getHandle(`monitor/${url}`);
          assert.equal((await child.describe()).status.name, 'COMPLETED', url);
          const r: MonitorSummary = await child.result();
          assert.deepEqual(r, { url, ok: ['open'], failed: {}, stored: 1, published: 1 });
          assert.equal(checks[url]!.n, 7, `${url}: six failed checks, then one that stored`);
          assert.equal(publishes[url]!.n, 9, `${url}: eight failed publishings, then one`);
        }
        await cancelAndWait(env, h.workflowId);
      }),
    );
  });

  it('one relay\'s child alone: its check stores only after a quarter of an hour of outage, and the child completes', async () => {
    const checks = { n: 0 };
    const publishes = { n: 0 };
    const published: PublishResult = { accepted: 2, targets: 2, errors: [] };
    const url = 'wss://c.example';
    const taskQueue = 'monitor-outage-child';
    const main = await Worker.create({
      connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(),
      activities: { publishDiscovery: downFor(10, async () => published, publishes) } satisfies Partial<MonitorActivities>,
    });
    const clearnet = await Worker.create({
      connection: env.nativeConnection, taskQueue: `${taskQueue}-clearnet`,
      activities: { checkRelay: downFor(8, async (): Promise<MonitorSummary> => ({ url, ok: ['open'], failed: {}, stored: 2 }), checks) } satisfies Partial<NetworkActivities>,
    });
    const r = await clearnet.runUntil(() =>
      main.runUntil(
        env.client.workflow.execute(monitorRelay, {
          taskQueue, workflowId: `monitor/${url}`, args: [{ url, network: 'clearnet', generatedAt: 1, checks: ['open'], publish: true }],
        }),
      ),
    );
    assert.deepEqual(r, { url, ok: ['open'], failed: {}, stored: 2, published: 2 });
    assert.equal(checks.n, 9);
    assert.equal(publishes.n, 11);
  });
});
