// The relay-list API sources against a local HTTP server that plays good and hostile services.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFinderActivities } from '../../activities/finder/finder.js';
import type { ApiOutcome } from '../../common/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from '../helpers/config.js';

const ROUTES: Record<string, (res: import('node:http').ServerResponse) => void> = {
  '/array': (res) => json(res, ['wss://api-a.example', 'wss://api-b.example/', 'wss://10.0.0.1']),
  '/objects': (res) => json(res, { relays: [{ url: 'wss://api-c.example', online: true }], 'wss://api-d.example': { uptime: 1 } }),
  '/garbage': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"relays": [wss://oops');
  },
  '/huge': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // no content-length: the cap must count
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < 20 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
  },
  '/slow': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    const timer = setInterval(() => res.write(' '), 100); // a drip that never ends
    res.on('close', () => clearInterval(timer));
  },
  '/loop': (res) => {
    res.writeHead(302, { location: '/loop' });
    res.end();
  },
  '/redirect-once': (res) => {
    res.writeHead(301, { location: '/array' });
    res.end();
  },
  '/error': (res) => {
    res.writeHead(500);
    res.end('internal error');
  },
  '/html': (res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>["wss://api-html.example"]</html>');
  },
  '/empty': (res) => json(res, { relays: [] }),
};

function json(res: import('node:http').ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

let server: Server;
let base: string;
let t: TestDatabase;
before(async () => {
  server = createServer((req, res) => (ROUTES[req.url ?? ''] ?? ((r) => (r.writeHead(404), r.end())))(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await freshDatabase();
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await t.drop();
});

function activities() {
  const config = testConfig(t.url);
  const apis = Object.keys(ROUTES).map((path) => ({ name: path.slice(1), url: `${base}${path}` }));
  apis.push({ name: 'unreachable', url: 'http://127.0.0.1:1/relays' });
  return createFinderActivities({
    db: t.db,
    config: { ...config, finder: { ...config.finder, apis, api_timeout: 1500, api_max_bytes: 1_000_000, api_max_redirects: 3 } },
  });
}

describe('finder: relay-list APIs', () => {
  it('each source gives its own outcome; the hostile ones are recorded with a reason and stop nothing', async () => {
    const acts = activities();
    const names = [...Object.keys(ROUTES).map((p) => p.slice(1)), 'unreachable', 'not-configured'];
    const started = Date.now();
    const outcomes = await Promise.all(names.map((n): Promise<ApiOutcome> => new MockActivityEnvironment().run(acts.fetchRelayList, n)));
    const by = Object.fromEntries(outcomes.map((o) => [o.name, o]));
    assert.ok(Date.now() - started < 10_000, 'the slow source is cut off by its deadline');

    assert.deepEqual({ ...by.array, ms: 0 }, { name: 'array', ok: true, urls: 2, inserted: 2, invalid: 1, ms: 0 });
    assert.equal(by.objects?.ok, true);
    assert.equal(by.objects?.urls, 2);
    assert.equal(by['redirect-once']?.ok, true);
    assert.equal(by['redirect-once']?.inserted, 0, 'the same URLs as /array: already known');
    const failures: Record<string, RegExp> = {
      garbage: /^not JSON/,
      huge: /over the 1000000-byte cap/,
      slow: /no complete answer within 1500 ms/,
      loop: /more than 3 redirects/,
      error: /^HTTP 500$/,
      html: /wrong content type "text\/html"/,
      empty: /no relay URL in the answer/,
      unreachable: /ECONNREFUSED/,
      'not-configured': /no API named "not-configured"/,
    };
    for (const [name, reason] of Object.entries(failures)) {
      assert.equal(by[name]?.ok, false, name);
      assert.match(by[name]?.error ?? '', reason, name);
    }
    const { rows } = await t.db.query('SELECT url, source FROM candidate ORDER BY url');
    assert.deepEqual(rows, [
      { url: 'wss://api-a.example', source: 'api:array' },
      { url: 'wss://api-b.example', source: 'api:array' },
      { url: 'wss://api-c.example', source: 'api:objects' },
      { url: 'wss://api-d.example', source: 'api:objects' },
    ]);
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url LIKE '%html%'`), 0);
  });
});
