// `npm run bench:api`: the read-only HTTP API under load on an archive of 1,000,000 events
// (BENCH_EVENTS to change). The archive is bench/synthetic-archive.ts's, generated in SQL (ids, pubkeys and signatures are
// hashes: the signatures do not verify, which a read benchmark never checks), the analytics are
// built as the Refresher builds them, the API runs as `npm run start-api` runs it (its own
// process, the read-only role), and autocannon asks each main resource for BENCH_SECONDS (10)
// over BENCH_CONNECTIONS (10) connections, varying the author, kind or id from request to
// request. Prints p50/p99 latency and requests/s per resource, and the plan of each events query.
// BENCH_ONLY=events,summary runs the resources whose name holds one of those; BENCH_API_NODE_ARGS
// adds node flags to the API's process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { databaseServer } from '../test/helpers/database-server.js';
import { freshDatabase } from '../test/helpers/db.js';
import { refreshAll } from '../activities/refresher/refresher.js';
import { fillSyntheticArchive } from './synthetic-archive.js';
import { eventsQuery } from '../read/events.js';
import { cpuOfAll, cpuSeconds, exited } from './proc.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const RELAYS = 500;
const AUTHORS = Math.max(10, Math.round(EVENTS / 50));
const say = (m: string) => console.log(`[bench:api] ${m}`);

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
// autocannon ships no types: its options and result as used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function startApi(url: string): Promise<{ child: ChildProcess; base: string }> {
  const nodeArgs = process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'workers/start-api.ts'], {
    env: { ...process.env, DATABASE_URL: url, BIGBROTR__api__port: '0', BIGBROTR__api__host: '127.0.0.1', BIGBROTR__api__rate_limit: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /API on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the API exited (${code})`)));
  });
  return { child, base };
}

const server = await databaseServer();
const t = await freshDatabase({ deployment: 'bigbrotr' });
let api: ChildProcess | undefined;
try {
  say(`building an archive of ${EVENTS.toLocaleString('en')} events by ${AUTHORS.toLocaleString('en')} authors on ${RELAYS} relays (generated in SQL: ids, pubkeys and signatures are hashes, the signatures do not verify; a read benchmark never checks them)`);
  let t0 = Date.now();
  // Straight into the tables (no analytics queue): the analytics are then built from the base tables.
  await fillSyntheticArchive(t.db, { events: EVENTS, relays: RELAYS, authors: AUTHORS, queues: false, checkDays: 2, checksUntil: Math.floor(Date.now() / 1000), say: (m) => say(`events ${m}`) });
  await t.db.query('ANALYZE');
  say(`archive built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  t0 = Date.now();
  await refreshAll(t.db, 'bigbrotr');
  say(`analytics built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // The plans at this size: each events query on its index, never a scan of the archive.
  const authors = (await t.db.query<{ p: string }>(`SELECT encode(pubkey, 'hex') AS p FROM pubkey_stats ORDER BY pubkey LIMIT 1000`)).rows.map((r) => r.p);
  const ids = (await t.db.query<{ id: string }>(`SELECT encode(id, 'hex') AS id FROM event TABLESAMPLE SYSTEM (1) LIMIT 1000`)).rows.map((r) => r.id);
  const kinds = (await t.db.query<{ kind: number }>(`SELECT kind FROM kind_stats`)).rows.map((r) => r.kind);
  for (const [name, p] of [['newest', {}], ['by author', { author: authors[0] }], ['by kind', { kind: 7 }], ['by tag', { tag: 't:tag5' }], ['author + kind', { author: authors[0], kind: 1 }]] as const) {
    const q = eventsQuery('bigbrotr', { limit: 51, ...p } as never);
    const plan = (await t.db.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${q.text}`, q.values)).rows.map((r) => r['QUERY PLAN'] as string);
    const times = plan.filter((l) => /^(Planning|Execution) Time/.test(l)).join(', ');
    const scans = [...new Set(plan.map((l) => /(Index Scan(?: Backward)?|Index Only Scan|Bitmap Index Scan|Seq Scan) (?:using|on) (\S+)/.exec(l)).filter(Boolean).map((m) => `${m![1]} ${m![2]!.replace(/^event_p\d+_/, 'event_p*_')}`))];
    say(`plan, events ${name}: ${scans.join(', ')}; ${times}`);
  }

  const started = await startApi(t.url);
  api = started.child;
  say(`API (npm run start-api) at ${started.base}; autocannon: ${CONNECTIONS} connections, ${SECONDS} s per resource`);
  const cycle = (paths: string[]) => {
    let i = 0;
    return () => paths[i++ % paths.length]!;
  };
  const cases: Array<[string, () => string]> = [
    ['GET /v1/relays', cycle(['/v1/relays', '/v1/relays?sort=events', '/v1/relays?status=up&nip=50', '/v1/relays?software=strfry'])],
    ['GET /v1/events?author=', cycle(authors.map((a) => `/v1/events?author=${a}`))],
    ['GET /v1/events?kind=', cycle(kinds.map((k) => `/v1/events?kind=${k}`))],
    ['GET /v1/events/{id}', cycle(ids.map((id) => `/v1/events/${id}`))],
    ['GET /v1/stats/kinds', cycle(['/v1/stats/kinds'])],
    ['GET /v1/stats/days', cycle(['/v1/stats/days', '/v1/stats/days?kind=1', '/v1/stats/days?since=2024-01-01&until=2024-03-31'])],
    ['GET /v1/summary', cycle(['/v1/summary'])],
  ];
  const rows: string[][] = [];
  const only = process.env.BENCH_ONLY; // e.g. "events?author" to run the cases whose name holds it
  // The API allows api.rate_limit (here its largest, 1,000,000) requests a minute per address: past
  // 400,000 in the current minute the next resource waits for a new one, so none meets a 429.
  let windowStart = Date.now();
  let inWindow = 0;
  for (const [name, next] of cases.filter(([n]) => !only || only.split(',').some((o) => n.includes(o)))) {
    if (inWindow > 400_000) {
      await new Promise((r) => setTimeout(r, Math.max(0, windowStart + 61_000 - Date.now())));
      windowStart = Date.now();
      inWindow = 0;
    }
    const cpu0 = { api: cpuSeconds(api.pid!), pg: cpuOfAll('postgres') };
    const r = await autocannon({
      url: started.base,
      connections: CONNECTIONS,
      duration: SECONDS,
      headers: { 'accept-encoding': 'gzip' },
      requests: [{ method: 'GET', setupRequest: (req: Record<string, unknown>) => ({ ...req, path: next() }) }],
    });
    const cpu = { api: cpuSeconds(api.pid!) - cpu0.api, pg: cpuOfAll('postgres') - cpu0.pg };
    inWindow += r.requests.total;
    const bad = r.non2xx + r.errors + r.timeouts;
    rows.push([name, r.latency.p50.toFixed(1), r.latency.p99.toFixed(1), Math.round(r.requests.average).toLocaleString('en'), (cpu.api / SECONDS).toFixed(2), (cpu.pg / SECONDS).toFixed(2), String(bad)]);
    say(`${name}: p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${Math.round(r.requests.average)} req/s${bad ? `, ${bad} failed (non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})` : ''}`);
  }
  const head = ['resource', 'p50 ms', 'p99 ms', 'req/s', 'API cores', 'PostgreSQL cores', 'failed'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(['', line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n'));
  say('targets: p99 <= 20 ms and >= 2,000 req/s per resource');
} finally {
  if (api && api.exitCode === null) {
    api.kill('SIGINT');
    await exited(api);
  }
  await t.drop();
  await server.stop();
}
