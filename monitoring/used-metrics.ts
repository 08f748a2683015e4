// Every metric the Grafana dashboard (monitoring/grafana/dashboards/bigbrotr.json) and the alert
// rules (monitoring/alerts.yml) read, as series names (a histogram as its _bucket series). A metrics
// test can check each against a real scrape; test/integration/monitoring.test.ts checks that this
// list is exactly what the two files use (usedMetricsInFiles), so it cannot go stale.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const MONITORING_DIR = new URL('./', import.meta.url).pathname;
export const DASHBOARD_PATH = new URL('./grafana/dashboards/bigbrotr.json', import.meta.url).pathname;
export const ALERTS_PATH = new URL('./alerts.yml', import.meta.url).pathname;

/** Series Prometheus makes itself: never in a process's scrape. */
export const PROMETHEUS_SERIES = ['up', 'ALERTS', 'ALERTS_FOR_STATE'] as const;

export const USED_METRICS = [
  'bigbrotr_api_request_duration_seconds_bucket',
  'bigbrotr_api_requests_total',
  'bigbrotr_candidates',
  'bigbrotr_db_errors_total',
  'bigbrotr_monitor_check_duration_seconds_bucket',
  'bigbrotr_monitor_checks_total',
  'bigbrotr_monitor_relays_checked_total',
  'bigbrotr_refresh_duration_seconds',
  'bigbrotr_refresh_last_success_timestamp_seconds',
  'bigbrotr_refresh_runs_total',
  'bigbrotr_relays',
  'bigbrotr_sync_events_rejected_total',
  'bigbrotr_sync_events_total',
  'bigbrotr_sync_gaps_open',
  'bigbrotr_sync_gaps_recorded_total',
  'bigbrotr_sync_lag_max_seconds',
  'bigbrotr_sync_lag_seconds',
  'bigbrotr_sync_relay_events_received_total',
  'bigbrotr_sync_reqs_total',
  'bigbrotr_validator_probes_total',
  'bigbrotr_worker_info',
  'nodejs_heap_size_used_bytes',
  'process_cpu_seconds_total',
  'temporal_activity_execution_failed',
  'temporal_request_failure',
  'temporal_worker_task_slots_available',
  'temporal_workflow_task_execution_failed',
] as const;

/** A series name's metric family: a histogram's _bucket, _sum and _count series belong to it. */
export function metricFamily(series: string): string {
  return series.replace(/_(bucket|sum|count)$/, '');
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The series names a PromQL expression selects: what is left once strings, label matchers, ranges,
 * grouping clauses, numbers, functions (a name before "(") and keywords are taken out.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/(^|[^\w:])\d[\w.+-]*/g, '$1 ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const rest = stripped.slice(m.index + m[0].length);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every PromQL expression of the dashboard (panels, and panels inside collapsed rows). */
export function dashboardExprs(path = DASHBOARD_PATH): string[] {
  const dash = JSON.parse(readFileSync(path, 'utf8')) as { panels: Array<{ panels?: unknown[]; targets?: Array<{ expr?: string }> }> };
  const panels = dash.panels.flatMap((p) => [p, ...((p.panels ?? []) as typeof dash.panels)]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr).filter((e): e is string => typeof e === 'string'));
}

/** Every alert rule's expression. */
export function alertExprs(path = ALERTS_PATH): string[] {
  const doc = parseYaml(readFileSync(path, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  return doc.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

/** What the two files use today, sorted, without Prometheus's own series. */
export function usedMetricsInFiles(): string[] {
  const all = new Set([...dashboardExprs(), ...alertExprs()].flatMap(metricNamesIn));
  for (const s of PROMETHEUS_SERIES) all.delete(s);
  return [...all].sort();
}
