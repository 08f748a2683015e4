// The process's Prometheus metrics: one registry, and the system's metric objects, incremented
// where the outcomes are known (a probe's verdict, a check's outcome, an archived batch). Served
// by workers/metrics-server.ts with the SDK's own metrics and prom-client's process metrics.
// Labels come from small closed sets: never a label per event, per id or per relay (except the
// ten most lagging relays, a bounded set the database answers at scrape time).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NETWORKS, parseRelayUrl, type EventCounts } from '../../common/index.js';
import type { Db } from '../db/db.js';

export const registry = new Registry();
const registers = [registry];

/**
 * Every metric of ours, by name: the Grafana dashboard and the alert rules are written against
 * these (docs/operations.md "Metrics and logs").
 */
export const METRIC_NAMES = [
  'bigbrotr_relays',
  'bigbrotr_candidates',
  'bigbrotr_validator_probes_total',
  'bigbrotr_monitor_checks_total',
  'bigbrotr_monitor_check_duration_seconds',
  'bigbrotr_monitor_relays_checked_total',
  'bigbrotr_sync_events_total',
  'bigbrotr_sync_events_rejected_total',
  'bigbrotr_sync_relay_events_received_total',
  'bigbrotr_sync_reqs_total',
  'bigbrotr_sync_gaps_recorded_total',
  'bigbrotr_sync_relays_set_aside_total',
  'bigbrotr_sync_gaps_open',
  'bigbrotr_sync_gaps_missing_events',
  'bigbrotr_sync_lag_max_seconds',
  'bigbrotr_sync_lag_seconds',
  'bigbrotr_refresh_duration_seconds',
  'bigbrotr_refresh_runs_total',
  'bigbrotr_refresh_last_success_timestamp_seconds',
  'bigbrotr_db_errors_total',
  'bigbrotr_api_requests_total',
  'bigbrotr_api_request_duration_seconds',
  'bigbrotr_worker_info',
] as const;

export const metrics = {
  validatorProbes: new Counter({
    name: 'bigbrotr_validator_probes_total',
    help: "Candidates probed, by network and outcome (valid, skipped, or why it is invalid: refused, timeout, dns, tls, closed, notice-only...)",
    labelNames: ['network', 'outcome'] as const,
    registers,
  }),
  monitorChecks: new Counter({
    name: 'bigbrotr_monitor_checks_total',
    help: 'NIP-11/NIP-66 check outcomes stored (ok, failed, absent), by check and failure code ("" when ok)',
    labelNames: ['check', 'outcome', 'code'] as const,
    registers,
  }),
  monitorCheckDuration: new Histogram({
    name: 'bigbrotr_monitor_check_duration_seconds',
    help: "One relay's whole health check (every check, stored)",
    labelNames: ['network'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
    registers,
  }),
  monitorRelaysChecked: new Counter({
    name: 'bigbrotr_monitor_relays_checked_total',
    help: 'Relays checked, by network and verdict (up: its WebSocket opened; down; unserved: no proxy for its network here; error: the check failed)',
    labelNames: ['network', 'verdict'] as const,
    registers,
  }),
  syncEvents: new Counter({
    name: 'bigbrotr_sync_events_total',
    help: 'Events the Synchronizer received and judged: archived (new), known (already archived, linked), rejected (never stored)',
    labelNames: ['result'] as const,
    registers,
  }),
  syncRejected: new Counter({
    name: 'bigbrotr_sync_events_rejected_total',
    help: 'Events refused by the archive, by reason (bad id, bad signature, malformed...)',
    labelNames: ['reason'] as const,
    registers,
  }),
  syncReceived: new Counter({
    name: 'bigbrotr_sync_relay_events_received_total',
    help: 'Events relays sent to the Synchronizer, by network',
    labelNames: ['network'] as const,
    registers,
  }),
  syncReqs: new Counter({
    name: 'bigbrotr_sync_reqs_total',
    help: 'Subscriptions (REQ) the Synchronizer read to their end, by network',
    labelNames: ['network'] as const,
    registers,
  }),
  syncGapsRecorded: new Counter({
    name: 'bigbrotr_sync_gaps_recorded_total',
    help: 'Dense seconds that could not be proven complete, recorded as gaps (sync_gap)',
    registers,
  }),
  syncSetAside: new Counter({
    name: 'bigbrotr_sync_relays_set_aside_total',
    help: 'Relays the Synchronizer set aside on its ladder because reading them killed the worker, by network',
    labelNames: ['network'] as const,
    registers,
  }),
  refreshDuration: new Gauge({
    name: 'bigbrotr_refresh_duration_seconds',
    help: "The last refresh of an analytics target: how long it took",
    labelNames: ['target'] as const,
    registers,
  }),
  refreshRuns: new Counter({
    name: 'bigbrotr_refresh_runs_total',
    help: 'Refresh attempts of an analytics target, by success',
    labelNames: ['target', 'ok'] as const,
    registers,
  }),
  refreshLastSuccess: new Gauge({
    name: 'bigbrotr_refresh_last_success_timestamp_seconds',
    help: 'When an analytics target was last refreshed successfully (unix seconds)',
    labelNames: ['target'] as const,
    registers,
  }),
  dbErrors: new Counter({
    name: 'bigbrotr_db_errors_total',
    help: "Activities failed by a database error, by service",
    labelNames: ['service'] as const,
    registers,
  }),
  apiRequests: new Counter({
    name: 'bigbrotr_api_requests_total',
    help: 'HTTP API requests, by route pattern and status code',
    labelNames: ['route', 'status'] as const,
    registers,
  }),
  apiDuration: new Histogram({
    name: 'bigbrotr_api_request_duration_seconds',
    help: 'HTTP API request duration, by route pattern',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  }),
  workerInfo: new Gauge({
    name: 'bigbrotr_worker_info',
    help: "A worker process: its version, deployment and task queues (always 1)",
    labelNames: ['version', 'deployment', 'task_queues'] as const,
    registers,
  }),
};

// The series the alert rules read with increase(), present at 0 from the start: a counter whose
// series first appears at its first count (already at 200) shows Prometheus no increase, and "no
// events archived for an hour" would fire right after a worker's start.
for (const result of ['archived', 'known', 'rejected']) metrics.syncEvents.labels(result).inc(0);
for (const network of NETWORKS) for (const verdict of ['up', 'down', 'unserved', 'error']) metrics.monitorRelaysChecked.labels(network, verdict).inc(0);

/** Distinct values a label taken from outside (a relay's code, a reason) may have, per metric, before the rest count as "other". */
const MAX_LABEL_VALUES = 40;
const seenLabels = new Map<string, Set<string>>();

/**
 * A label value from a set we do not close ourselves (a relay's refusal prefix, a failure code):
 * a short lower-case word, and one of the first MAX_LABEL_VALUES seen for `metric`; else "other".
 */
export function boundedLabel(metric: string, value: string): string {
  if (value !== '' && !/^[a-z][a-z0-9_-]{0,39}$/.test(value)) return 'other';
  let seen = seenLabels.get(metric);
  if (!seen) seenLabels.set(metric, (seen = new Set()));
  if (seen.has(value)) return value;
  if (seen.size >= MAX_LABEL_VALUES) return 'other';
  seen.add(value);
  return value;
}

/** The code before the first ':' of a reason ("refused: connect ECONNREFUSED" → "refused"), bounded. */
export function reasonCode(metric: string, reason: string): string {
  return boundedLabel(metric, /^([a-z][a-z0-9_-]*):/.exec(reason)?.[1] ?? 'other');
}

/** A stored relay URL's network, by the project's one URL parser (common/relay-url.ts). */
export function networkOfUrl(url: string): string {
  const r = parseRelayUrl(url, { allowLocal: true });
  return r.ok ? r.network : 'clearnet';
}

/**
 * What a batch of one relay's events came to, counted once where the counts are made: archiveEvents'
 * result, or the ids a NIP-77 window linked or refused without fetching them.
 */
export function countSyncEvents(url: string, c: EventCounts): void {
  if (c.received) metrics.syncReceived.inc({ network: networkOfUrl(url) }, c.received);
  metrics.syncEvents.inc({ result: 'archived' }, c.inserted);
  metrics.syncEvents.inc({ result: 'known' }, c.known);
  let rejected = 0;
  for (const [reason, n] of Object.entries(c.invalid)) {
    metrics.syncRejected.inc({ reason: boundedLabel('bigbrotr_sync_events_rejected_total', reason) }, n);
    rejected += n;
  }
  metrics.syncEvents.inc({ result: 'rejected' }, rejected);
}

/** The BigBrotr service a workflow type belongs to (the relay-level workflows under their coordinator's). */
export function serviceOf(workflowType: string | undefined): string {
  switch (workflowType) {
    case 'validateCandidate':
      return 'validator';
    case 'monitorRelay':
      return 'monitor';
    case 'syncRelay':
      return 'synchronizer';
    case 'dvmJob':
      return 'dvm';
    case 'validator':
    case 'monitor':
    case 'synchronizer':
    case 'refresher':
    case 'seeder':
    case 'finder':
    case 'dvm':
      return workflowType;
    default:
      return 'other';
  }
}

/** Marks an error as the database's (activities/db/db.ts marks what its pool's queries throw). */
const DB_ERROR = Symbol.for('bigbrotr.db_error');
export function markDbError(err: unknown): void {
  if (err && typeof err === 'object') (err as Record<symbol, unknown>)[DB_ERROR] = true;
}
/** An error from the database: marked by the pool, or PostgreSQL's own (a query on a checked-out client). */
export function isDbError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if ((err as Record<symbol, unknown>)[DB_ERROR]) return true;
  // pg's DatabaseError (pg-protocol): a SQLSTATE code and a severity.
  const e = err as { code?: unknown; severity?: unknown; name?: unknown };
  return e.name === 'error' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

/** The database's numbers are read at most this often, however often Prometheus scrapes. */
export const DB_GAUGE_CACHE_MS = 15_000;
/** Relays with a lag series of their own: the most lagging ones. */
export const LAGGING_RELAYS = 10;

interface DbNumbers {
  relays: Array<{ network: string; status: string; n: number }>;
  candidates: Array<{ network: string; n: number }>;
  gapsOpen: number;
  gapsMissing: number;
  lagMax: number | undefined;
  lagging: Array<{ url: string; lag: number }>;
}

let watching: Db | undefined;

/**
 * The gauges the database answers (relays, candidates, open gaps, sync lag), read at scrape time
 * and cached DB_GAUGE_CACHE_MS: only a process with a pool registers them, once.
 */
export function watchDatabase(db: Db, cacheMs = DB_GAUGE_CACHE_MS): void {
  if (watching) return;
  watching = db;
  let cached: { at: number; numbers: Promise<DbNumbers | undefined> } | undefined;
  const numbers = (): Promise<DbNumbers | undefined> => {
    if (!cached || Date.now() - cached.at >= cacheMs) cached = { at: Date.now(), numbers: readNumbers(db).catch(() => undefined) };
    return cached.numbers;
  };
  new Gauge({
    name: 'bigbrotr_relays',
    help: 'Relays by network and status at the last check (up, down, unchecked), as of the last analytics refresh (relay_summary)',
    labelNames: ['network', 'status'] as const,
    registers,
    async collect() {
      const n = await numbers();
      if (!n) return;
      this.reset();
      for (const network of NETWORKS) for (const status of ['up', 'down', 'unchecked']) this.set({ network, status }, 0);
      for (const r of n.relays) this.set({ network: r.network, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'bigbrotr_candidates',
    help: 'Candidate relay URLs waiting for the Validator, by network',
    labelNames: ['network'] as const,
    registers,
    async collect() {
      const n = await numbers();
      if (!n) return;
      this.reset();
      for (const network of NETWORKS) this.set({ network }, 0);
      for (const r of n.candidates) this.set({ network: r.network }, r.n);
    },
  });
  new Gauge({
    name: 'bigbrotr_sync_gaps_open',
    help: 'Recorded gaps (dense seconds not proven complete) not filled yet',
    registers,
    async collect() {
      const n = await numbers();
      if (n) this.set(n.gapsOpen);
    },
  });
  new Gauge({
    name: 'bigbrotr_sync_gaps_missing_events',
    help: 'Events relays hold and the archive lacks, summed over the open gaps whose size the relay counted (NIP-45 COUNT)',
    registers,
    async collect() {
      const n = await numbers();
      if (n) this.set(n.gapsMissing);
    },
  });
  new Gauge({
    name: 'bigbrotr_sync_lag_max_seconds',
    help: "The largest sync lag of any relay: seconds from the newest event archived from it to the last analytics refresh",
    registers,
    async collect() {
      const n = await numbers();
      if (!n) return;
      this.reset();
      if (n.lagMax !== undefined) this.set(n.lagMax);
    },
  });
  new Gauge({
    name: 'bigbrotr_sync_lag_seconds',
    help: `Sync lag of the ${LAGGING_RELAYS} most lagging relays (relay_summary.sync_lag)`,
    labelNames: ['relay'] as const,
    registers,
    async collect() {
      const n = await numbers();
      if (!n) return;
      this.reset();
      for (const r of n.lagging) this.set({ relay: r.url }, r.lag);
    },
  });
}

async function readNumbers(db: Db): Promise<DbNumbers> {
  const { rows } = await db.query<{ part: string; a: string | null; b: string | null; n: string | null }>(
    `SELECT 'relays' AS part, network::text AS a,
            CASE WHEN up IS NULL THEN 'unchecked' WHEN up THEN 'up' ELSE 'down' END AS b, count(*)::bigint AS n
       FROM relay_summary GROUP BY 2, 3
     UNION ALL
     SELECT 'candidates', network::text, NULL, count(*)::bigint FROM candidate GROUP BY 2
     UNION ALL
     SELECT 'gaps', NULL, NULL, count(*)::bigint FROM sync_gap WHERE filled_at IS NULL
     UNION ALL
     SELECT 'gaps_missing', NULL, NULL, coalesce(sum(missing), 0)::bigint FROM sync_gap WHERE filled_at IS NULL
     UNION ALL
     SELECT 'lag_max', NULL, NULL, max(sync_lag)::bigint FROM relay_summary
     UNION ALL
     (SELECT 'lag', url::text, NULL, sync_lag::bigint FROM relay_summary WHERE sync_lag IS NOT NULL
       ORDER BY sync_lag DESC, url LIMIT $1::int)`,
    [LAGGING_RELAYS],
  );
  const out: DbNumbers = { relays: [], candidates: [], gapsOpen: 0, gapsMissing: 0, lagMax: undefined, lagging: [] };
  for (const r of rows) {
    const n = Number(r.n ?? NaN);
    if (r.part === 'relays') out.relays.push({ network: r.a!, status: r.b!, n });
    else if (r.part === 'candidates') out.candidates.push({ network: r.a!, n });
    else if (r.part === 'gaps') out.gapsOpen = n;
    else if (r.part === 'gaps_missing') out.gapsMissing = n;
    else if (r.part === 'lag_max') out.lagMax = r.n === null ? undefined : n;
    else if (r.part === 'lag') out.lagging.push({ url: r.a!, lag: n });
  }
  return out;
}
