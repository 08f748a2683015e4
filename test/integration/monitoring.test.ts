// The monitoring files: Prometheus's config and alert rules checked and unit-tested by promtool
// (Debian's `prometheus` package; .ci/run installs it), the Grafana dashboard checked here (JSON,
// panels, ids, every PromQL expression parsed by promtool), and the metric names both use: the
// list monitoring/used-metrics.ts exports, and (once it exists) activities/shared/metrics.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ALERTS_PATH, DASHBOARD_PATH, dashboardExprs, metricFamily, metricNamesIn, PROMETHEUS_SERIES, USED_METRICS, usedMetricsInFiles } from '../../monitoring/used-metrics.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MONITORING = join(ROOT, 'monitoring');

const promtoolVersion = (() => {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? (/version (\S+)/.exec(r.stdout + r.stderr)?.[1] ?? 'unknown') : undefined;
})();
// CI must run these (.ci/run installs promtool); elsewhere they are skipped without it.
const needsPromtool = promtoolVersion || process.env.CI ? false : 'promtool is not installed (apt-get install prometheus)';

function promtool(...args: string[]): string {
  assert.ok(promtoolVersion, 'promtool is not installed: apt-get install prometheus (.ci/run does it in CI)');
  const r = spawnSync('promtool', args, { cwd: MONITORING, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `promtool ${args.join(' ')} failed:\n${out}`);
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'bigbrotr-monitoring-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId: string; expr?: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { uid: string; title: string; panels: Panel[]; templating?: { list: Array<{ name: string }> } };
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const alertRules = (parseYaml(readFileSync(ALERTS_PATH, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);

/** Grafana's own variables, given values PromQL accepts. */
const GRAFANA_VARS: Record<string, string> = { __rate_interval: '5m', __interval: '1m', __range: '1h', __range_s: '3600', __interval_ms: '60000' };
function withGrafanaVars(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (all, name: string) => GRAFANA_VARS[name] ?? all);
}

describe('monitoring', () => {
  it('Prometheus alert rules pass `promtool check rules`', { skip: needsPromtool }, () => {
    assert.match(promtool('check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/);
  });

  it('Prometheus config passes `promtool check config`', { skip: needsPromtool }, () => {
    assert.match(promtool('check', 'config', 'prometheus.yml'), /is valid prometheus config file/);
  });

  it('the alert rules pass their unit tests (`promtool test rules alerts.test.yml`)', { skip: needsPromtool }, () => {
    assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
    // The unit tests make at least the no-events and the worker-gone alerts fire.
    const tests = parseYaml(readFileSync(join(MONITORING, 'alerts.test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const name of ['BigBrotrNoEventsArchived', 'BigBrotrTargetDown', 'BigBrotrServiceGone']) assert.ok(fired.has(name), `alerts.test.yml never fires ${name}`);
  });

  it('every alert says how bad it is and what happened, and the operations doc says what to do', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const section = readme.split(/^## Dashboards and alerts$/m)[1]?.split(/^## /m)[0] ?? '';
    assert.ok(section, 'docs/operations.md has a "## Dashboards and alerts" section');
    const names = new Set<string>();
    for (const rule of alertRules) {
      assert.ok(rule.alert, `a rule without an alert name: ${rule.expr}`);
      assert.ok(!names.has(rule.alert), `${rule.alert} twice`);
      names.add(rule.alert);
      assert.match(rule.labels?.severity ?? '', /^(critical|warning)$/, `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
      assert.ok(section.includes(rule.alert), `docs/operations.md "Dashboards and alerts" does not say what to do about ${rule.alert}`);
    }
  });

  it('the Grafana dashboard: panels with a datasource, targets and a place; ids unique', () => {
    assert.equal(dashboard.uid, 'bigbrotr');
    const datasources = parseYaml(readFileSync(join(MONITORING, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string }> };
    const uids = new Set(datasources.datasources.map((d) => d.uid));
    const ids = new Set<number>();
    assert.ok(allPanels.length > 10);
    for (const panel of allPanels) {
      assert.ok(Number.isInteger(panel.id), `${panel.title}: id`);
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} twice`);
      ids.add(panel.id);
      assert.ok(panel.title, `panel ${panel.id}: title`);
      const g = panel.gridPos;
      assert.ok(g && g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24 && g.y >= 0, `${panel.title}: gridPos ${JSON.stringify(g)}`);
      if (panel.type === 'row') continue;
      assert.ok(panel.datasource && uids.has(panel.datasource.uid), `${panel.title}: datasource ${JSON.stringify(panel.datasource)} is not the provisioned one`);
      assert.ok(panel.targets?.length, `${panel.title}: no targets`);
      const refIds = new Set<string>();
      for (const t of panel.targets) {
        assert.ok(t.expr?.trim(), `${panel.title}: a target without an expression`);
        assert.ok(!refIds.has(t.refId), `${panel.title}: refId ${t.refId} twice`);
        refIds.add(t.refId);
        if (t.datasource) assert.ok(uids.has(t.datasource.uid), `${panel.title}: target datasource`);
        // Only Grafana's own variables: the dashboard defines none of its own.
        for (const [, name] of (t.expr ?? '').matchAll(/\$\{?(\w+)/g)) assert.ok(name! in GRAFANA_VARS, `${panel.title}: unknown variable $${name}`);
      }
    }
  });

  it("every dashboard expression parses (promtool, as recording rules)", { skip: needsPromtool }, () => {
    const rules = allPanels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: withGrafanaVars(t.expr ?? '') })),
    );
    assert.equal(rules.length, dashboardExprs().length);
    const file = join(tmp, 'dashboard-rules.yml');
    writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules }] }));
    assert.match(promtool('check', 'rules', file), new RegExp(`SUCCESS: ${rules.length} rules found`));
    // The check would catch a broken one.
    writeFileSync(file, stringifyYaml({ groups: [{ name: 'broken', rules: [{ record: 'x:y', expr: 'sum(rate(foo[5m])' }] }] }));
    assert.notEqual(spawnSync('promtool', ['check', 'rules', file]).status, 0);
  });

  it('exports exactly the metrics the dashboard and the alerts use (monitoring/used-metrics.ts)', () => {
    assert.deepEqual(usedMetricsInFiles(), [...USED_METRICS], 'update USED_METRICS in monitoring/used-metrics.ts');
    // The extraction itself.
    assert.deepEqual(
      metricNamesIn('sum by (network, le) (rate(a_bucket{x="y"}[5m])) / on(job) group_left(v) b offset 1d and topk(10, c) > 0.5 or vector(0)').sort(),
      ['a_bucket', 'b', 'c'],
    );
    assert.deepEqual(metricNamesIn('absent(up{job="w"}) or ALERTS{alertstate="firing"}').sort(), ['ALERTS', 'up']);
    for (const s of PROMETHEUS_SERIES) assert.ok(!(USED_METRICS as readonly string[]).includes(s));
    for (const m of USED_METRICS) assert.match(m, /^(bigbrotr|temporal|process|nodejs)_[a-z0-9_]+$/);
  });

  it('uses only bigbrotr_* metrics that activities/shared/metrics.ts defines', (t) => {
    const file = join(ROOT, 'activities/shared/metrics.ts');
    if (!existsSync(file)) return t.skip('activities/shared/metrics.ts does not exist yet');
    const source = readFileSync(file, 'utf8');
    const ours = [...new Set(USED_METRICS.filter((m) => m.startsWith('bigbrotr_')).map(metricFamily))];
    const missing = ours.filter((m) => !source.includes(`'${m}'`));
    assert.deepEqual(missing, [], `not defined in activities/shared/metrics.ts: ${missing.join(', ')}`);
    // Histograms are read through their buckets only when they are histograms.
    for (const m of USED_METRICS.filter((n) => n.startsWith('bigbrotr_') && n.endsWith('_bucket'))) {
      assert.match(source, new RegExp(`new Histogram\\(\\{\\s*name: '${metricFamily(m)}'`), `${metricFamily(m)} is read as a histogram`);
    }
  });
});
