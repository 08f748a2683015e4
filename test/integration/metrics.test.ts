// /metrics after a real run: the workers (createWorkers, real activities, PostgreSQL) validate two
// candidates (a local relay that serves, one that refuses), the promoted relay is checked by its
// Monitor workflow and synced, the Refresher builds the analytics, the API answers two requests;
// then one scrape over HTTP holds our metrics with the values the run implies, prom-client's
// process metrics and the Temporal SDK's, all in a well-formed exposition.
import { metricFamily, USED_METRICS } from '../../monitoring/used-metrics.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { insertCandidates } from '../../activities/db/store.js';
import { METRIC_NAMES } from '../../activities/shared/metrics.js';
import { buildApi } from '../../api/server.js';
import type { Config } from '../../common/config.js';
import type { ValidationRecord } from '../../common/index.js';
import { freePort } from '../../workers/embedded-postgres.js';
import { BigBrotrLogger } from '../../workers/logging.js';
import { startMetricsServer, type MetricsServer } from '../../workers/metrics-server.js';
import { installRuntime } from '../../workers/runtime.js';
import { createWorkers } from '../../workers/worker.js';
import { monitorRelay, refresher, syncRelay, validateCandidate } from '../../workflows/index.js';
import { localRelayConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';
import { parseExposition, type Exposition } from '../helpers/exposition.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { cancelAllAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

const TASK_QUEUE = 'metrics-test';
const now = Math.floor(Date.now() / 1000);
const notes = Array.from({ length: 40 }, (_, i) => signed({ kind: 1, content: `note ${i}`, created_at: now - 86_400 + i * 1000 }));

let t: TestDatabase;
let env: TestWorkflowEnvironment;
let relay: LocalRelay;
let config: Config;
let server: MetricsServer;
let workers: Worker[] = [];
let running: Promise<unknown> | undefined;

before(async () => {
  t = await freshDatabase();
  config = localRelayConfig(t.url, {
    BIGBROTR__metrics__port: String(await freePort()),
    BIGBROTR__temporal__task_queue: TASK_QUEUE,
    BIGBROTR__synchronizer__start: String(now - 2 * 86_400),
  });
  // Before the environment makes the first connection: the Runtime is installed once per process.
  await installRuntime(config, new BigBrotrLogger('json', 'error', 'test'));
  env = await timeSkippingEnv();
  server = (await startMetricsServer({ config, db: t.db }))!;
  relay = await startLocalRelay({ events: notes, nip11: { name: 'metrics test relay', supported_nips: [1, 11] } });
  workers = await createWorkers({ connection: env.nativeConnection, config, db: t.db, bundle: await workflowBundle() });
  running = Promise.all(workers.map((w) => w.run()));
});

after(async () => {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await running?.catch(() => {});
  await server?.close();
  await relay?.stop();
  await env?.teardown();
  await t?.drop();
});

/**
 * A workflow's result once it has ended, watched without the time-skipping client's result(): that
 * lets the test server skip time while a real activity or a workflow task is under way (a relay
 * answers in real time), which times the task out.
 */
async function finished<T>(workflowId: string): Promise<T> {
  const h = env.client.workflow.getHandle(workflowId);
  await eventually(`${workflowId} ended`, async () => (await h.describe()).status.name !== 'RUNNING', 60_000);
  return h.result() as Promise<T>;
}

describe('metrics', () => {
  let m: Exposition;
  let text: string;
  const dead = `ws://127.0.0.1:${1}`; // nothing listens on port 1: refused

  it('a real run: validated, checked, synced, refreshed, asked', async () => {
    await insertCandidates(t.db, [relay.url, dead].map((url) => ({ url, network: 'clearnet' as const, source: 'seed' })), 1, { allowLocal: true });
    const results = [];
    for (const url of [relay.url, dead]) {
      await env.client.workflow.start(validateCandidate, { taskQueue: TASK_QUEUE, workflowId: `validate/${url}`, args: [{ url, network: 'clearnet' }] });
      results.push(await finished<ValidationRecord>(`validate/${url}`));
    }
    assert.deepEqual(results.map((r) => r.result), ['promoted', 'failed']);
    // Its Monitor workflow (as the coordinator starts it) checks it at once.
    await env.client.workflow.start(monitorRelay, { taskQueue: TASK_QUEUE, workflowId: `monitor/${relay.url}`, args: [{ url: relay.url, network: 'clearnet' }] });
    await eventually('the promoted relay checked', async () => (await count(t.db, 'SELECT 1 FROM relay_check WHERE relay_url = $1', [relay.url])) > 0, 30_000);
    await env.client.workflow.start(syncRelay, { taskQueue: TASK_QUEUE, workflowId: `sync/${relay.url}`, args: [{ url: relay.url, network: 'clearnet' }] });
    await eventually('the relay\'s events archived', async () => (await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [relay.url])) === notes.length, 60_000);
    await cancelAllAndWait(env, [`monitor/${relay.url}`, `sync/${relay.url}`]);
    await env.client.workflow.start(refresher, { taskQueue: TASK_QUEUE, workflowId: 'refresher', args: [{}] });
    await finished('refresher');

    // Failures, as a deployment meets them, so that the SDK's failure counters (which appear at
    // their first count) are in the scrape: an activity failing (a refresh target whose table is
    // away, every attempt) and a workflow task failing (a workflow type no worker has).
    await t.db.query('ALTER TABLE relay_kind_stats RENAME TO relay_kind_stats_away');
    try {
      await env.client.workflow.start(refresher, { taskQueue: TASK_QUEUE, workflowId: 'refresher-failing', args: [{ targets: ['relay_stats'] }] });
      const report = await finished<{ failed: number }>('refresher-failing');
      assert.equal(report.failed, 1);
    } finally {
      await t.db.query('ALTER TABLE relay_kind_stats_away RENAME TO relay_kind_stats');
    }
    const unknown = await env.client.workflow.start('noSuchWorkflow', { taskQueue: TASK_QUEUE, workflowId: 'no-such-workflow', args: [] });
    await eventually('a workflow task failure counted', async () => /^temporal_workflow_task_execution_failed\b/m.test(await (await fetch(server.url)).text()), 30_000);
    await unknown.terminate('metrics test: done');

    const api = await buildApi({ config, db: t.db });
    assert.equal((await api.inject({ url: '/v1/relays' })).statusCode, 200);
    assert.equal((await api.inject({ url: '/no/such/route' })).statusCode, 404);
    await api.close();

    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    text = await res.text();
    m = parseExposition(text); // strict: every line a comment or a sample, each family typed once
  });

  it('names every metric of ours with its type', () => {
    const want: Record<string, string> = {
      bigbrotr_relays: 'gauge', bigbrotr_candidates: 'gauge',
      bigbrotr_validator_probes_total: 'counter',
      bigbrotr_monitor_checks_total: 'counter', bigbrotr_monitor_check_duration_seconds: 'histogram', bigbrotr_monitor_relays_checked_total: 'counter',
      bigbrotr_sync_events_total: 'counter', bigbrotr_sync_events_rejected_total: 'counter', bigbrotr_sync_relay_events_received_total: 'counter',
      bigbrotr_sync_reqs_total: 'counter', bigbrotr_sync_gaps_recorded_total: 'counter', bigbrotr_sync_relays_set_aside_total: 'counter', bigbrotr_sync_gaps_open: 'gauge', bigbrotr_sync_gaps_missing_events: 'gauge',
      bigbrotr_sync_lag_max_seconds: 'gauge', bigbrotr_sync_lag_seconds: 'gauge',
      bigbrotr_refresh_duration_seconds: 'gauge', bigbrotr_refresh_runs_total: 'counter', bigbrotr_refresh_last_success_timestamp_seconds: 'gauge',
      bigbrotr_db_errors_total: 'counter',
      bigbrotr_api_requests_total: 'counter', bigbrotr_api_request_duration_seconds: 'histogram',
      bigbrotr_worker_info: 'gauge',
    };
    assert.deepEqual(Object.keys(want).sort(), [...METRIC_NAMES].sort(), 'the list in activities/shared/metrics.ts');
    for (const [name, type] of Object.entries(want)) assert.equal(m.types.get(name), type, name);
  });

  it('counts what the run did', () => {
    // Each candidate probed once: one valid, one refused.
    assert.equal(m.sum('bigbrotr_validator_probes_total'), 2);
    assert.equal(m.sum('bigbrotr_validator_probes_total', { network: 'clearnet', outcome: 'valid' }), 1);
    assert.equal(m.sum('bigbrotr_validator_probes_total', { network: 'clearnet', outcome: 'refused' }), 1);
    // The Monitor: the relay up, its WebSocket opened, its NIP-11 served, each check timed.
    const checked = m.sum('bigbrotr_monitor_relays_checked_total', { network: 'clearnet', verdict: 'up' });
    assert.ok(checked >= 1, `relays checked up: ${checked}`);
    assert.equal(m.sum('bigbrotr_monitor_relays_checked_total'), checked, 'no check down or failed');
    assert.ok(m.sum('bigbrotr_monitor_checks_total', { check: 'open', outcome: 'ok', code: '' }) >= 1);
    assert.ok(m.sum('bigbrotr_monitor_checks_total', { check: 'nip11', outcome: 'ok' }) >= 1);
    assert.equal(m.sum('bigbrotr_monitor_check_duration_seconds_count', { network: 'clearnet' }), checked);
    assert.equal(m.sum('bigbrotr_monitor_check_duration_seconds_bucket', { network: 'clearnet', le: '+Inf' }), checked);
    // The sync: every event the relay held archived once, none rejected.
    assert.equal(m.sum('bigbrotr_sync_events_total', { result: 'archived' }), notes.length);
    assert.equal(m.sum('bigbrotr_sync_events_total', { result: 'rejected' }), 0);
    assert.ok(m.sum('bigbrotr_sync_relay_events_received_total', { network: 'clearnet' }) >= notes.length);
    assert.ok(m.sum('bigbrotr_sync_reqs_total', { network: 'clearnet' }) >= 1);
    assert.equal(m.sum('bigbrotr_sync_gaps_recorded_total'), 0);
    // The Refresher: each target once, successfully, just now.
    const runs = m.find('bigbrotr_refresh_runs_total').filter((r) => r.labels.ok === 'true');
    assert.ok(runs.length >= 5, `targets refreshed: ${runs.map((s) => s.labels.target).join(', ')}`);
    for (const r of runs) assert.equal(r.value, 1, r.labels.target);
    // ...and the target failed on purpose, once per attempt.
    assert.equal(m.sum('bigbrotr_refresh_runs_total', { target: 'relay_stats', ok: 'false' }), config.refresher.attempts);
    for (const r of m.find('bigbrotr_refresh_last_success_timestamp_seconds')) assert.ok(Math.abs(r.value - Date.now() / 1000) < 300, r.labels.target);
    assert.equal(m.find('bigbrotr_refresh_duration_seconds').length, runs.length);
    // The API: by route pattern, never the raw URL.
    assert.equal(m.sum('bigbrotr_api_requests_total', { route: '/v1/relays', status: '200' }), 1);
    assert.equal(m.sum('bigbrotr_api_requests_total', { route: 'unmatched', status: '404' }), 1);
    assert.ok(!text.includes('/no/such/route'));
    assert.equal(m.sum('bigbrotr_api_request_duration_seconds_count', { route: '/v1/relays' }), 1);
    // This process's workers.
    const info = m.find('bigbrotr_worker_info');
    assert.equal(info.length, 1);
    assert.equal(info[0]!.value, 1);
    assert.equal(info[0]!.labels.deployment, 'bigbrotr');
    assert.equal(info[0]!.labels.task_queues, `${TASK_QUEUE},${TASK_QUEUE}-clearnet,${TASK_QUEUE}-clearnet-sync`);
    assert.match(info[0]!.labels.version!, /^\d+\.\d+\.\d+/);
    // The database errors: the refresh target whose table was away, once per attempt, and no other.
    assert.equal(m.sum('bigbrotr_db_errors_total'), config.refresher.attempts);
    assert.equal(m.sum('bigbrotr_db_errors_total', { service: 'refresher' }), config.refresher.attempts);
  });

  it('reads the database\'s gauges at scrape time', () => {
    assert.equal(m.sum('bigbrotr_relays', { network: 'clearnet', status: 'up' }), 1);
    assert.equal(m.sum('bigbrotr_relays', { network: 'clearnet', status: 'down' }), 0);
    assert.equal(m.find('bigbrotr_relays').length, 4 * 3, 'every network and status, zeros included');
    assert.equal(m.sum('bigbrotr_candidates', { network: 'clearnet' }), 1, 'the refused candidate waits for its next probe');
    assert.equal(m.sum('bigbrotr_sync_gaps_open'), 0);
    const lag = m.find('bigbrotr_sync_lag_seconds');
    assert.deepEqual(lag.map((s) => s.labels.relay), [relay.url]);
    const newest = Math.max(...notes.map((e) => e.created_at));
    assert.ok(Math.abs(lag[0]!.value - (now - newest)) < 600, `lag ${lag[0]!.value}`);
    assert.equal(m.sum('bigbrotr_sync_lag_max_seconds'), lag[0]!.value);
  });

  it('has every metric the Grafana dashboard and the alert rules use (monitoring/used-metrics.ts)', () => {
    const scraped = new Set([...m.types.keys(), ...m.samples.map((x) => x.name)]);
    const missing = USED_METRICS.filter((name) => !scraped.has(name) && !scraped.has(metricFamily(name)));
    assert.deepEqual(missing, [], `used by the dashboard or the alerts, absent from a real scrape: ${missing.join(', ')}`);
  });

  it('merges prom-client\'s process metrics and the Temporal SDK\'s into the one answer', () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(m.types.has(name), name);
    }
    const sdk = [...m.types.keys()].filter((n) => n.startsWith('temporal_'));
    assert.ok(sdk.length >= 5, `temporal_ metric families: ${sdk.join(', ')}`);
    assert.ok(m.samples.some((s) => s.name.startsWith('temporal_activity_execution') || s.name.startsWith('temporal_workflow_completed')), 'the SDK counted the run');
  });
});
