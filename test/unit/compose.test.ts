// docker-compose.yml read, not run (there is no Docker engine here): its images pinned, its
// variables documented in .env.example and no secret with a default, what it publishes, the names
// its services point at, the overlay workers' proxies, Prometheus scraping every /metrics, and each
// BigBrotr service's environment giving a valid config.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG, loadConfig } from '../../workers/config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPOSE_TEXT = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const ENV_EXAMPLE_TEXT = readFileSync(join(ROOT, '.env.example'), 'utf8');

/** The only ports published beyond the host's loopback: the read-only API. */
const PUBLIC_PORTS: Record<string, string[]> = { api: ['8080'] };
const OVERLAYS = ['tor', 'i2p', 'loki'] as const;
const SECRET_NAME = /PASSWORD|PASSWD|PWD|SECRET|TOKEN|PRIVATE_KEY/i;

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: Array<string | { host_ip?: string; published?: string | number; target?: number }>;
  profiles?: string[];
  restart?: string;
  healthcheck?: unknown;
  volumes?: Array<string | { source?: string; target?: string }>;
}

const compose = parseYaml(COMPOSE_TEXT, { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const names = Object.keys(services);

// ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}
const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g;
/** The file without its comments (compose interpolates values, not comments). */
const COMPOSE_VALUES = COMPOSE_TEXT.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '')).join('\n');
const references = [...COMPOSE_VALUES.matchAll(VAR_REF)].map((m) => ({ name: m[1]!, op: m[2] ?? '', rest: m[3] ?? '' }));

/** .env.example: NAME=value lines. */
const envExample = new Map(
  ENV_EXAMPLE_TEXT.split('\n')
    .map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!] as const),
);

/** A value as compose would pass it, with .env.example's values (a stand-in for an empty secret). */
function interpolate(value: string): string {
  return value.replace(VAR_REF, (_all, name: string, op: string | undefined, rest: string | undefined) => {
    const v = envExample.get(name) ?? '';
    if (v === '' && SECRET_NAME.test(name) && !/PRIVATE_KEY/.test(name)) return `test-${name.toLowerCase()}`;
    if ((op === ':-' && v === '') || (op === '-' && !envExample.has(name))) return rest ?? '';
    return v;
  });
}

function env(name: string): Record<string, string> {
  const e = services[name]!.environment ?? {};
  const pairs = Array.isArray(e) ? e.map((kv) => kv.split(/=(.*)/s, 2) as [string, string]) : Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(v ?? '')]));
}

function dependsOn(name: string): Record<string, string> {
  const d = services[name]!.depends_on ?? [];
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, 'service_started'])) : Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v?.condition ?? 'service_started']));
}

const commandOf = (s: Service) => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));
const workers = names.filter((n) => commandOf(services[n]!).includes('start-workers'));
const inProfile = (n: string) => (services[n]!.profiles ?? []).length > 0;

/** The host of "host:port", of a URL, or undefined. */
function hostOf(value: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return new URL(value).hostname;
  return /^([^:/\s]+)(:\d+)?$/.exec(value)?.[1];
}

function assertService(host: string | undefined, where: string, from: string): void {
  assert.ok(host, `${where}: no host`);
  assert.ok(names.includes(host), `${where} points at "${host}", which is not a service of docker-compose.yml`);
  // A service that runs by default cannot count on one that runs only under a profile.
  if (!inProfile(from)) assert.ok(!inProfile(host), `${where}: ${from} runs by default but ${host} only under a profile`);
}

/** A pinned image reference: a version tag (not latest) or a digest. */
function assertPinned(ref: string, where: string): void {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  assert.ok(colon > slash, `${where}: image ${ref} has no tag (it would float on latest)`);
  const tag = ref.slice(colon + 1);
  assert.ok(!/latest|stable|edge|main|master/i.test(tag), `${where}: image ${ref} floats (${tag})`);
  assert.match(tag, /^v?\d+(\.\d+)+/, `${where}: image ${ref}: expected a version tag like 1.2.3`);
}

function dockerfileOf(s: Service): string {
  const context = typeof s.build === 'string' ? s.build : (s.build?.context ?? '.');
  const file = typeof s.build === 'object' && s.build.dockerfile ? s.build.dockerfile : 'Dockerfile';
  return join(ROOT, context, file);
}

describe('docker-compose.yml', () => {
  it('pins every image, and every base image of what it builds', () => {
    for (const name of names) {
      const s = services[name]!;
      assert.ok(s.image || s.build, `${name}: neither image nor build`);
      if (s.image) assertPinned(s.image, name);
      if (s.build) {
        const dockerfile = dockerfileOf(s);
        assert.ok(existsSync(dockerfile), `${name}: ${dockerfile} does not exist`);
        const froms = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+(\S+)/gim)].map((m) => m[1]!);
        assert.ok(froms.length > 0, `${dockerfile}: no FROM`);
        for (const from of froms) assertPinned(from, `${name} (${dockerfile})`);
      }
    }
    const images = names.map((n) => services[n]!.image ?? '');
    assert.ok(!images.some((i) => /auto-setup/.test(i)), 'temporalio/auto-setup is for development; use temporalio/server with the schema job');
    assert.ok(images.some((i) => i.startsWith('temporalio/server:')) && images.some((i) => i.startsWith('temporalio/admin-tools:')));
  });

  it('documents every variable in .env.example, gives no secret a default, and has no literal password', () => {
    // Only ${NAME} forms (checked here); a bare $NAME would escape the checks.
    assert.doesNotMatch(COMPOSE_VALUES.replace(/\$\$/g, ''), /\$[A-Za-z_]/, 'write variables as ${NAME} (and a literal $ as $$)');
    assert.ok(references.length > 0);
    const used = new Set(references.map((r) => r.name));
    for (const name of used) assert.ok(envExample.has(name), `${name} is used by docker-compose.yml but not documented in .env.example`);
    for (const name of envExample.keys()) assert.ok(used.has(name), `.env.example documents ${name}, which docker-compose.yml does not use`);
    for (const r of references) {
      if (!SECRET_NAME.test(r.name)) continue;
      assert.ok(r.op === ':?' || r.op === '?', `\${${r.name}${r.op}${r.rest}}: a secret must be required (\${${r.name}:?...}), never defaulted`);
      assert.equal(envExample.get(r.name), '', `.env.example must not hold a value for the secret ${r.name}`);
    }
    for (const name of names) {
      const raw = services[name]!.environment ?? {};
      const entries = Array.isArray(raw) ? raw.map((kv) => kv.split(/=(.*)/s, 2)) : Object.entries(raw).map(([k, v]) => [k, String(v ?? '')]);
      for (const [key, value = ''] of entries) {
        if (SECRET_NAME.test(key!)) assert.match(value, /\$\{/, `${name}: ${key} is written in the file; take it from .env`);
        const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:([^@\s]*)@/i.exec(value)?.[1];
        if (password !== undefined) assert.match(password, /^\$\{[^}]+\}$/, `${name}: ${key} has a password written in the file`);
      }
    }
  });

  it('runs the workers with `npm run start-workers`, and the Dockerfile defaults to it', () => {
    assert.ok(workers.includes('worker'), 'a service `worker` (the clearnet workers, scaled with --scale worker=N)');
    for (const name of names.filter((n) => /^worker/.test(n))) {
      assert.deepEqual(services[name]!.command, ['npm', 'run', 'start-workers'], `${name}: command`);
    }
    assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /^CMD \["npm", "run", "start-workers"\]$/m);
    const api = services.api;
    assert.ok(api, 'a service `api`');
    assert.deepEqual(api.command, ['npm', 'run', 'start-api']);
  });

  it('publishes only the API beyond 127.0.0.1', () => {
    for (const name of names) {
      for (const p of services[name]!.ports ?? []) {
        let hostIp: string | undefined;
        let published: string;
        if (typeof p === 'string') {
          const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
          assert.ok(parts.length >= 2, `${name}: port "${p}" publishes a random host port; name it`);
          hostIp = parts.length === 3 ? parts[0] : undefined;
          published = parts.at(-2)!;
        } else {
          hostIp = p.host_ip;
          published = String(p.published ?? '');
        }
        if (hostIp === '127.0.0.1') continue;
        assert.ok(PUBLIC_PORTS[name]?.includes(published), `${name}: port ${JSON.stringify(p)} is published on every interface; bind it to 127.0.0.1`);
      }
    }
    // The API listens where it is published.
    const apiEnv = env('api');
    assert.equal(apiEnv.BIGBROTR__api__host, '0.0.0.0');
    assert.ok((services.api!.ports ?? []).some((p) => typeof p === 'string' && p.endsWith(`:${apiEnv.BIGBROTR__api__port}`)));
  });

  it('depends only on services that exist, with conditions they can meet', () => {
    for (const name of names) {
      for (const [dep, condition] of Object.entries(dependsOn(name))) {
        assertService(dep, `${name}.depends_on`, name);
        if (condition === 'service_healthy') assert.ok(services[dep]!.healthcheck, `${name} waits for ${dep} to be healthy, which has no healthcheck`);
        if (condition === 'service_completed_successfully') {
          assert.ok(!['always', 'unless-stopped'].includes(services[dep]!.restart ?? ''), `${name} waits for ${dep} to complete, but it is restarted forever`);
        }
      }
    }
  });

  it("points each service's configuration at services that exist", () => {
    const checked: string[] = [];
    for (const name of names) {
      const e = env(name);
      for (const [key, value] of Object.entries(e)) {
        if (value === '') continue;
        if (['DATABASE_URL', 'API_DATABASE_URL', 'TEMPORAL_ADDRESS', 'POSTGRES_SEEDS', 'DB_HOST'].includes(key) || /__proxy$/.test(key)) {
          assertService(hostOf(value), `${name}: ${key}=${value}`, name);
          checked.push(`${name}.${key}`);
        }
      }
      for (const v of services[name]!.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('.')) assert.ok(existsSync(join(ROOT, source)), `${name}: mounts ${source}, which does not exist`);
        else assert.ok(source in (compose.volumes ?? {}), `${name}: volume ${source} is not declared under volumes:`);
      }
    }
    assert.ok(checked.includes('worker.DATABASE_URL') && checked.includes('worker.TEMPORAL_ADDRESS') && checked.includes('api.API_DATABASE_URL'), checked.join(', '));
    // The API's role's settings must reach PostgreSQL: not through PgBouncer's transaction pooling.
    assert.equal(hostOf(env('api').API_DATABASE_URL!), 'postgres');
  });

  it('gives every worker that serves an overlay network its proxy, and uses the tor proxy', () => {
    let torServed = false;
    for (const name of workers) {
      const e = env(name);
      const config = loadConfig(e, join(ROOT, e.BIGBROTR_CONFIG ?? 'config/bigbrotr.yaml'));
      for (const net of OVERLAYS) {
        const proxy = config.networks[net].proxy;
        if (name === `worker-${net}`) assert.ok(proxy, `${name} is the ${net} worker but has no networks.${net}.proxy`);
        if (!proxy) continue; // not served here (worker.ts): left to a worker with the proxy
        assert.match(proxy, /^socks5h:\/\//, `${name}: ${net} proxy ${proxy}: socks5h, so the proxy resolves the names`);
        const host = hostOf(proxy);
        assertService(host, `${name}: networks.${net}.proxy`, name);
        assert.ok(host! in dependsOn(name), `${name} uses ${host} as its ${net} proxy but does not depend on it`);
        if (net === 'tor' && !inProfile(name)) torServed = true;
      }
    }
    assert.ok(torServed, 'no worker running by default has the tor proxy: .onion relays would never be reached');
    assert.ok(!inProfile('tor'), 'tor runs by default');
  });

  it("gives every BigBrotr service an environment that makes a valid config", () => {
    for (const name of names.filter((n) => /start-(workers|api|pipeline)/.test(commandOf(services[n]!)))) {
      const e = env(name);
      const file = join(ROOT, e.BIGBROTR_CONFIG ?? 'config/bigbrotr.yaml');
      assert.ok(existsSync(file), `${name}: BIGBROTR_CONFIG=${e.BIGBROTR_CONFIG} is not a file of the repository`);
      const config = loadConfig(e, file);
      if (e.BIGBROTR__monitor__private_key !== undefined) assert.equal(config.monitor.private_key, '', `${name}: an empty key from .env must read as ""`);
    }
    // A key given in .env reaches the config as the string it is (even one that looks like a number).
    const key = '1'.repeat(64);
    const c = loadConfig({ ...env('worker'), BIGBROTR__monitor__private_key: `'${key}'` }, DEFAULT_CONFIG);
    assert.equal(c.monitor.private_key, key);
  });

  it('has Prometheus scrape every service that serves metrics', () => {
    const prom = parseYaml(readFileSync(join(ROOT, 'monitoring/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; type?: string; port?: number }> }>;
    };
    const scraped = new Set<string>();
    for (const job of prom.scrape_configs) {
      for (const sc of job.static_configs ?? []) for (const t of sc.targets) scraped.add(t);
      for (const dns of job.dns_sd_configs ?? []) for (const n of dns.names) scraped.add(`${n}:${dns.port}`);
    }
    const expected: string[] = [];
    for (const name of names) {
      const e = env(name);
      if (e.BIGBROTR__metrics__port) {
        assert.equal(e.BIGBROTR__metrics__host, '0.0.0.0', `${name}: metrics must listen beyond the container's loopback`);
        expected.push(`${name}:${e.BIGBROTR__metrics__port}`);
      }
      if (e.PROMETHEUS_ENDPOINT) expected.push(`${name}:${e.PROMETHEUS_ENDPOINT.split(':').at(-1)}`);
    }
    assert.ok(expected.includes('worker:9464') && expected.includes('worker-tor:9464') && expected.includes('api:9464'), expected.join(', '));
    for (const target of expected) assert.ok(scraped.has(target), `Prometheus does not scrape ${target}`);
    for (const target of scraped) {
      const host = hostOf(target)!;
      if (host !== 'localhost') assert.ok(names.includes(host), `Prometheus scrapes ${target}, not a service`);
    }
    // Scaled services: each container, not one of them at random.
    for (const w of workers) {
      assert.ok(prom.scrape_configs.some((j) => j.dns_sd_configs?.some((d) => d.names.includes(w) && d.type === 'A')), `${w} is scraped through DNS service discovery (type A)`);
    }
    assert.ok(services.prometheus?.volumes?.some((v) => typeof v === 'string' && v.startsWith('./monitoring/alerts.yml:')), 'Prometheus gets the alert rules');
  });

  it('provisions Grafana with the Prometheus datasource and the dashboard', () => {
    const ds = parseYaml(readFileSync(join(ROOT, 'monitoring/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; url: string; type: string }> };
    const prom = ds.datasources.find((d) => d.type === 'prometheus');
    assert.ok(prom);
    assertService(hostOf(prom.url), 'the Grafana datasource', 'grafana');
    const providers = parseYaml(readFileSync(join(ROOT, 'monitoring/grafana/provisioning/dashboards/bigbrotr.yml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const mounts = (services.grafana?.volumes ?? []).map((v) => String(v));
    for (const p of providers.providers) {
      const mount = mounts.find((m) => m.split(':')[1] === p.options.path);
      assert.ok(mount, `the dashboards folder ${p.options.path} is mounted into Grafana`);
      assert.ok(existsSync(join(ROOT, mount.split(':')[0]!, 'bigbrotr.json')));
    }
    const dash = JSON.parse(readFileSync(join(ROOT, 'monitoring/grafana/dashboards/bigbrotr.json'), 'utf8')) as { panels: Array<{ datasource?: { uid: string } }> };
    for (const panel of dash.panels) if (panel.datasource) assert.equal(panel.datasource.uid, prom.uid);
  });

  it("registers the search attributes the workflows are started with", (t) => {
    const file = join(ROOT, 'common/search-attributes.ts');
    if (!existsSync(file)) return t.skip('no common/search-attributes.ts');
    const wanted = [...readFileSync(file, 'utf8').matchAll(/defineSearchAttributeKey\('(\w+)',\s*SearchAttributeType\.(\w+)/g)];
    const script = readFileSync(join(ROOT, 'docker/temporal/create-namespace.sh'), 'utf8');
    for (const [, name, type] of wanted) {
      assert.equal(type, 'KEYWORD', `${name}: the script registers Keyword attributes`);
      assert.match(script, new RegExp(`\\b${name}\\b`), `docker/temporal/create-namespace.sh does not register ${name}`);
    }
  });
});
