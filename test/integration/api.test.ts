// The HTTP API (api/) over a real archive (read-fixture.ts) on a real port: every route, its
// errors (400 naming the parameter, 404, 405, 429, 500/503 without SQL or stack), pages walked
// over HTTP, gzip, ETag and Cache-Control, CORS, the OpenAPI document (validated) and /docs, and
// lilbrotr.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { DerivedCache } from '../../api/derived-cache.js';
import { startApiServer, type ApiServer } from '../../api/server.js';
import type { Config } from '../../common/config.js';
import { connectReader } from '../../read/index.js';
import type { Db } from '../../activities/db/db.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { AUTHOR, loadFixture, R1, R2, type Fixture } from '../helpers/read-fixture.js';

let t: TestDatabase;
let f: Fixture;
let db: Db;
let api: ApiServer;
const logged: string[] = [];

function configFor(url: string, api: Partial<Config['api']> = {}, deployment: Config['deployment'] = 'bigbrotr'): Config {
  const base = testConfig(url);
  return { ...base, deployment, api: { ...base.api, port: 0, ...api } };
}

before(async () => {
  t = await freshDatabase();
  f = await loadFixture(t.db, 'bigbrotr');
  const config = configFor(t.url);
  db = await connectReader(config);
  api = await startApiServer({ config, db, log: (m) => logged.push(m) });
});
after(async () => {
  await api?.close();
  await db?.end();
  await t?.drop();
});

async function get(path: string, init: RequestInit = {}, server = api) {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text };
}
const enc = encodeURIComponent;

/** A 400 whose JSON body names `param`; nothing of SQL or a stack in it. */
async function badRequest(path: string, param: string, message?: RegExp, server = api) {
  const r = await get(path, {}, server);
  assert.equal(r.status, 400, `${path}: ${r.text.slice(0, 300)}`);
  assert.equal(r.body.error, 'bad_request');
  assert.equal(r.body.param, param, r.text.slice(0, 300));
  if (message) assert.match(r.body.message, message);
  assert.doesNotMatch(r.text, /SELECT|at .*\.ts:\d+|stack/i);
  assert.ok(r.text.length < 600, 'bounded');
}

describe('API: routes', () => {
  it('serves every resource at its route', async () => {
    const e = f.byAuthor.b[0]!;
    const cases: Array<[string, (body: any) => void]> = [
      ['/v1/relays?network=clearnet&sort=events', (b) => assert.deepEqual(b.items.map((r: any) => r.url).slice(0, 2), [R1, R2])],
      [`/v1/relays/${enc(R2)}`, (b) => assert.equal(b.backoff.step, 1)],
      [`/v1/relays/${enc('wss://relay.two.example/')}`, (b) => assert.equal(b.url, R2)],
      [`/v1/relays/${enc(R1)}/metadata?type=nip66_rtt&limit=1`, (b) => assert.equal(b.items[0].type, 'nip66_rtt')],
      [`/v1/events?author=${AUTHOR.c}&kind=7`, (b) => assert.equal(b.items.length, 5)],
      [`/v1/events?tag=${enc('t:nostr')}&author=${AUTHOR.b}&limit=5`, (b) => assert.equal(b.items.length, 5)],
      [`/v1/events?ids=${f.events[1]!.id},${f.events[2]!.id}`, (b) => assert.equal(b.items.length, 2)],
      [`/v1/events/${e.id}`, (b) => assert.deepEqual(b.event, e)],
      [`/v1/events/${e.id}/relays`, (b) => assert.deepEqual(b.items.map((x: any) => x.url), [R1, R2])],
      ['/v1/stats/kinds?limit=1', (b) => assert.deepEqual(b.items[0], { kind: 1, events: 150, first_at: f.byAuthor.a[0]!.created_at, last_at: f.byAuthor.a[119]!.created_at })],
      [`/v1/stats/kinds?relay=${enc(R2)}`, (b) => assert.deepEqual(b.items.map((k: any) => k.kind), [1, 30023])],
      ['/v1/stats/pubkeys?limit=1', (b) => assert.equal(b.items[0].pubkey, AUTHOR.a)],
      [`/v1/pubkeys/${AUTHOR.a}`, (b) => assert.equal(b.profile_id, f.profile.current.id)],
      ['/v1/stats/days?since=2023-11-15', (b) => assert.deepEqual(b.items.map((d: any) => d.day), ['2023-11-15', '2023-11-16'])],
      ['/v1/stats/networks', (b) => assert.deepEqual(b.items.map((n: any) => n.network), ['clearnet', 'tor'])],
      ['/v1/stats/software', (b) => assert.equal(b.items.length, 3)],
      ['/v1/stats/nips', (b) => assert.deepEqual(b.items.map((n: any) => n.nip), [1, 11, 50])],
      [`/v1/pubkeys/${AUTHOR.a}/replaceable/0`, (b) => assert.deepEqual(b, f.profile.current)],
      [`/v1/pubkeys/${AUTHOR.b}/addressable/30023/article-1`, (b) => assert.deepEqual(b, f.article.current)],
      [`/v1/pubkeys/${AUTHOR.b}/addressable/30023/`, (b) => assert.deepEqual(b, f.article.noD)],
      ['/v1/summary', (b) => assert.equal(b.events, f.events.length)],
      ['/health', (b) => assert.deepEqual(b, { ok: true })],
    ];
    for (const [path, check] of cases) {
      const r = await get(path);
      assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 300)}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      check(r.body);
    }
  });

  it('walks every event over HTTP with the cursor, each once', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const r = await get(`/v1/events?limit=17${next ? `&cursor=${enc(next)}` : ''}`);
      assert.equal(r.status, 200);
      seen.push(...r.body.items.map((e: any) => e.id));
      next = r.body.next;
    } while (next);
    assert.equal(seen.length, f.events.length);
    assert.equal(new Set(seen).size, f.events.length);
  });

  it('404 for what is not archived, and for unknown routes', async () => {
    for (const path of [`/v1/relays/${enc('wss://unknown.example')}`, `/v1/events/${'a'.repeat(64)}`, `/v1/pubkeys/${'b'.repeat(64)}`, `/v1/pubkeys/${AUTHOR.c}/replaceable/0`, `/v1/pubkeys/${AUTHOR.b}/addressable/30023/none`, '/v1/nothing', '/v2/relays']) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.error, 'not_found');
    }
  });

  it('400 naming the parameter: bad, hostile, oversized and unknown parameters', async () => {
    await badRequest('/v1/events?limit=501', 'limit', /from 1 to 500/);
    await badRequest('/v1/events?limit=99999999999999999999', 'limit');
    await badRequest('/v1/events?limit=1&limit=2', 'limit');
    await badRequest(`/v1/events?author=${enc("' OR 1=1 --")}`, 'author', /64 lower-case hex/);
    await badRequest(`/v1/events?kind=${enc('1; DROP TABLE event')}`, 'kind');
    await badRequest('/v1/events?since=yesterday', 'since');
    await badRequest(`/v1/events?tag=${enc('t:a\u0000b')}`, 'tag', /NUL/);
    await badRequest(`/v1/events?tag=nostr`, 'tag', /single-letter/);
    await badRequest('/v1/events?cursor=garbage!', 'cursor', /not a cursor/);
    await badRequest(`/v1/events?cursor=${(await get('/v1/stats/kinds?limit=1')).body.next}`, 'cursor', /another resource/);
    await badRequest('/v1/events?athor=x', 'athor', /unknown parameter "athor"/);
    await badRequest(`/v1/events/${'A'.repeat(64)}`, 'id', /lower-case hex/);
    await badRequest(`/v1/events/${enc("1' OR '1'='1")}`, 'id');
    await badRequest(`/v1/events/${f.events[0]!.id}?id=${f.events[1]!.id}`, 'id', /in the path/);
    await badRequest(`/v1/relays/${enc('https://relay.example')}`, 'url', /scheme/);
    await badRequest(`/v1/relays/${enc(`wss://${'a'.repeat(3000)}.example`)}`, 'url', /too long/);
    await badRequest(`/v1/relays/${enc('wss://relay.example/\u{1F680}')}`, 'url');
    await badRequest('/v1/relays?min_uptime=2', 'min_uptime');
    await badRequest('/v1/relays?country=DEU', 'country');
    await badRequest(`/v1/pubkeys/${AUTHOR.a}/replaceable/1`, 'kind', /replaceable/);
    await badRequest('/v1/stats/days?since=2023-13-01', 'since');
    await badRequest('/v1/summary?verbose=1', 'verbose');
    const r = await get('/v1/relays/%zz');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'bad_request', message: 'malformed request URL' });
  });

  it('takes unicode and SQL-shaped text where text is free, and finds nothing', async () => {
    for (const q of [`software=${enc("x' OR 1=1 --")}`, `software=${enc('日本語 🚀')}`]) {
      const r = await get(`/v1/relays?${q}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { items: [], next: null });
    }
    assert.equal((await get(`/v1/pubkeys/${AUTHOR.b}/addressable/30023/${enc('ünï 🚀')}`)).status, 404);
  });

  it('only reads: GET and HEAD; 405 for the rest', async () => {
    const head = await fetch(`${api.url}/v1/summary`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await get('/v1/relays', { method, body: method === 'DELETE' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
    }
  });
});

describe('API: HTTP conventions', () => {
  it('gzips large answers', async () => {
    const res = await fetch(`${api.url}/v1/events?limit=100`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.equal(((await res.json()) as any).items.length, 100);
    assert.match(res.headers.get('vary') ?? '', /accept-encoding/i);
    const refused = await fetch(`${api.url}/v1/events?limit=100`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    assert.equal(refused.headers.get('content-encoding'), null, 'q=0 refuses gzip');
    await refused.arrayBuffer();
    const asset = await fetch(`${api.url}/docs/static/swagger-ui-bundle.js`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-encoding'), 'gzip', 'the docs page\'s files too');
    await asset.arrayBuffer();
  });

  it('gzip and identity are two representations: Vary appended to CORS\'s, an ETag each, q=0 honoured over *', async () => {
    const config = configFor(t.url, { cors_origins: ['https://allowed.example'] });
    const s = await startApiServer({ config, db });
    try {
      const path = `${s.url}/v1/events?limit=100`;
      const gz = await fetch(path, { headers: { 'accept-encoding': 'gzip', origin: 'https://allowed.example' } });
      await gz.arrayBuffer();
      const vary = (gz.headers.get('vary') ?? '').toLowerCase();
      assert.ok(vary.includes('origin') && vary.includes('accept-encoding'), `Vary: ${vary}`);
      const plain = await fetch(path, { headers: { 'accept-encoding': 'identity', origin: 'https://allowed.example' } });
      await plain.arrayBuffer();
      const [gzTag, plainTag] = [gz.headers.get('etag'), plain.headers.get('etag')];
      assert.ok(gzTag && plainTag && gzTag !== plainTag, `ETags ${gzTag} and ${plainTag}`);
      const again = await fetch(path, { headers: { 'accept-encoding': 'gzip', 'if-none-match': gzTag } });
      assert.equal(again.status, 304, 'the gzip tag revalidates the gzip representation');
      assert.equal(again.headers.get('etag'), gzTag);
      const star = await fetch(path, { headers: { 'accept-encoding': 'gzip;q=0, *' } });
      await star.arrayBuffer();
      assert.equal(star.headers.get('content-encoding'), null, 'gzip;q=0 refuses gzip whatever * says');
    } finally {
      await s.close();
    }
  });

  it('rate limits behind a proxy by X-Forwarded-For only when api.trust_proxy says so; IPv6 clients by /64', async () => {
    const { clientKey } = await import('../../api/server.js');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), clientKey('2001:db8:1:2:bbbb::2'), 'one /64, one bucket');
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    assert.equal(clientKey('::ffff:10.0.0.1'), '10.0.0.1');
    for (const trust of [false, true]) {
      const s = await startApiServer({ config: configFor(t.url, { rate_limit: 2, trust_proxy: trust }), db });
      try {
        const as = (ip: string) => get('/v1/summary', { headers: { 'x-forwarded-for': ip } }, s);
        for (let i = 0; i < 2; i++) assert.equal((await as('198.51.100.1')).status, 200);
        // Another client behind the same proxy: its own bucket only if the proxy is trusted.
        assert.equal((await as('198.51.100.2')).status, trust ? 200 : 429, `trust_proxy ${trust}`);
      } finally {
        await s.close();
      }
    }
  });

  it('/health, exempt from the per-client limit, asks the database once a second at most', async () => {
    let queries = 0;
    const counting = { query: ((...args: Parameters<Db['query']>) => (queries++, (db.query as (...a: unknown[]) => unknown)(...args))) as Db['query'] };
    const s = await startApiServer({ config: configFor(t.url, { rate_limit: 2 }), db: counting });
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => get('/health', {}, s)));
      assert.ok(answers.every((a) => a.status === 200));
      assert.ok(queries <= 2, `${queries} database queries for 50 health checks`);
    } finally {
      await s.close();
    }
  });

  it('stats carry an ETag and Cache-Control; a matching If-None-Match gets 304', async () => {
    const r = await get('/v1/stats/kinds');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=60');
    const tag = r.headers.get('etag');
    assert.ok(tag);
    const again = await fetch(`${api.url}/v1/stats/kinds`, { headers: { 'if-none-match': tag } });
    assert.equal(again.status, 304);
    assert.equal((await get('/v1/events?limit=1')).headers.get('cache-control'), 'no-cache');
  });

  it('keeps statistics answers a few seconds, bounded in size', () => {
    const cache = new DerivedCache(1000, 2);
    cache.set('/a', 1, 0);
    cache.set('/b', 2, 0);
    assert.equal(cache.get('/a', 999), 1);
    cache.set('/c', 3, 0); // the oldest goes
    assert.deepEqual([cache.get('/a', 1), cache.get('/b', 1), cache.get('/c', 1)], [undefined, 2, 3]);
    assert.equal(cache.get('/b', 1000), undefined, 'expired');
  });

  it('CORS is off unless origins are configured, then only for them', async () => {
    const plain = await get('/v1/summary', { headers: { origin: 'https://example.org' } });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
    const config = configFor(t.url, { cors_origins: ['https://allowed.example'] });
    const s = await startApiServer({ config, db });
    try {
      const ok = await get('/v1/summary', { headers: { origin: 'https://allowed.example' } }, s);
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://allowed.example');
      const other = await get('/v1/summary', { headers: { origin: 'https://evil.example' } }, s);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    } finally {
      await s.close();
    }
  });

  it('rate limits per address: 429 with a JSON body past api.rate_limit a minute; /health is exempt', async () => {
    const s = await startApiServer({ config: configFor(t.url, { rate_limit: 3 }), db });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await get('/v1/summary', {}, s)).status, 200);
      const r = await get('/v1/summary', {}, s);
      assert.equal(r.status, 429);
      assert.equal(r.body.error, 'rate_limited');
      assert.ok(r.headers.get('retry-after'));
      assert.equal((await get('/health', {}, s)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('database failures: 500 or 503 with a fixed message; SQL and stack traces only in the log', async () => {
    const failing = (err: Error & { code?: string }) => ({ query: async () => Promise.reject(err) }) as unknown as Db;
    const log: string[] = [];
    const boom = Object.assign(new Error('relation "secret_table" does not exist at SELECT * FROM secret_table'), { code: '42P01' });
    const s = await startApiServer({ config: configFor(t.url), db: failing(boom), log: (m) => log.push(m) });
    try {
      const r = await get('/v1/summary', {}, s);
      assert.equal(r.status, 500);
      assert.deepEqual(r.body, { error: 'internal', message: 'internal error' });
      assert.match(log.join('\n'), /secret_table/);
    } finally {
      await s.close();
    }
    const slow = await startApiServer({ config: configFor(t.url), db: failing(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })) });
    try {
      const r = await get('/v1/events', {}, slow);
      assert.equal(r.status, 503);
      assert.equal(r.body.error, 'timeout');
      assert.doesNotMatch(r.text, /canceling statement/);
    } finally {
      await slow.close();
    }
  });
});

describe('API: documentation', () => {
  it('/openapi.json is a valid OpenAPI 3.1 document with every route and its parameters', async () => {
    const doc = (await get('/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    const res = await new Validator().validate(doc);
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
    const paths = Object.keys(doc.paths);
    for (const p of ['/v1/relays', '/v1/relays/{url}', '/v1/relays/{url}/metadata', '/v1/events', '/v1/events/{id}', '/v1/events/{id}/relays', '/v1/stats/kinds', '/v1/stats/pubkeys', '/v1/pubkeys/{pubkey}', '/v1/stats/days', '/v1/stats/networks', '/v1/stats/software', '/v1/stats/nips', '/v1/pubkeys/{pubkey}/replaceable/{kind}', '/v1/pubkeys/{pubkey}/addressable/{kind}/{d}', '/v1/summary', '/health']) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(' ')}`);
    }
    const params = doc.paths['/v1/events'].get.parameters;
    const limit = params.find((p: any) => p.name === 'limit');
    assert.deepEqual([limit.in, limit.schema.type, limit.schema.minimum, limit.schema.maximum], ['query', 'integer', 1, 500]);
    assert.equal(params.find((p: any) => p.name === 'author').schema.pattern, '^[0-9a-f]{64}$');
    assert.ok(doc.paths['/v1/events'].get.responses['200'].content['application/json'].schema.properties.items);
    assert.equal(doc.paths['/v1/relays/{url}'].get.parameters[0].in, 'path');
  });

  it('/docs serves the interactive page', async () => {
    const r = await get('/docs');
    assert.equal(r.status, 200);
    assert.match(r.text, /swagger-ui/i);
  });
});

describe('API: lilbrotr', () => {
  let l: TestDatabase;
  let ldb: Db;
  let s: ApiServer;
  before(async () => {
    l = await freshDatabase({ deployment: 'lilbrotr' });
    await loadFixture(l.db, 'lilbrotr');
    const config = configFor(l.url, {}, 'lilbrotr');
    ldb = await connectReader(config);
    s = await startApiServer({ config, db: ldb });
  });
  after(async () => {
    await s?.close();
    await ldb?.end();
    await l?.drop();
  });

  it('serves events without tags and content, and refuses tag search and addressable events with a 400', async () => {
    const r = await get(`/v1/events?author=${AUTHOR.c}`, {}, s);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body.items[0]), ['id', 'pubkey', 'created_at', 'kind', 'sig']);
    await badRequest('/v1/events?tag=t:nostr', 'tag', /bigbrotr deployment/, s);
    await badRequest(`/v1/pubkeys/${AUTHOR.b}/addressable/30023/x`, 'resource', /bigbrotr deployment/, s);
    assert.equal((await get('/v1/summary', {}, s)).body.events, 162);
  });
});
