// Fetching NIP-11 documents from a local HTTP server that plays good and hostile relays.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchNip11, type Nip11Options, type Nip11Result } from '../../activities/relay/nip11.js';

const PK = 'c'.repeat(64);
const GOOD = {
  name: 'local relay',
  description: 'a relay on the loopback',
  pubkey: PK,
  supported_nips: [1, 11, 42],
  software: 'https://example.com/relay',
  version: '1.0.0',
  limitation: { max_message_length: 65536, auth_required: false },
  fees: { admission: [{ amount: 1000, unit: 'msats' }] },
};
const MB = 1024 * 1024;

/** What the server saw, by path. */
const seen = new Map<string, { accept: string | undefined; host: string | undefined }>();

const ROUTES: Record<string, (res: ServerResponse) => void> = {
  '/good': (res) => send(res, 'application/nostr+json', JSON.stringify(GOOD)),
  '/deep/relay/path': (res) => send(res, 'application/nostr+json', JSON.stringify({ name: 'deep' })),
  '/': (res) => send(res, 'application/nostr+json', JSON.stringify({ name: 'root' })),
  '/json-charset': (res) => send(res, 'Application/JSON; charset=utf-8', `\uFEFF${JSON.stringify({ name: 'plain json' })}`),
  '/garbage': (res) => send(res, 'application/nostr+json', '<html>this is not json'),
  // NUL and lone surrogates as JSON escapes, nested too: what PostgreSQL's jsonb refuses.
  '/poison': (res) => send(res, 'application/nostr+json', String.raw`{"name":"a\u0000b","description":"\ud800 \udc00 \ud83d\ude00","fees":{"admission":[{"amount":1,"unit":"sa\u0000ts"}]}}`),
  '/array': (res) => send(res, 'application/nostr+json', '[{"name": "x"}]'),
  '/huge-declared': (res) => huge(res, true),
  '/huge-chunked': (res) => huge(res, false),
  '/loop': (res) => {
    res.writeHead(302, { location: '/loop' });
    res.end();
  },
  '/redirect-once': (res) => {
    res.writeHead(301, { location: '/good' });
    res.end();
  },
  '/html': (res) => send(res, 'text/html; charset=utf-8', '<html><body>{"name": "x"}</body></html>'),
  '/no-type': (res) => {
    res.writeHead(200);
    res.end(JSON.stringify(GOOD));
  },
  '/wrong-types': (res) =>
    send(res, 'application/json', JSON.stringify({
      ...GOOD,
      supported_nips: '1,2,11',
      pubkey: 'NPUB1NOTHEX',
      icon: 'ftp://icon.example/i.png',
      limitation: { max_message_length: '65536', auth_required: false, payment_required: 'no' },
    })),
  '/slow': (res) => {
    res.writeHead(200, { 'content-type': 'application/nostr+json' });
    res.write('{');
    const timer = setInterval(() => res.write(' '), 50); // a drip that never ends
    res.on('close', () => clearInterval(timer));
  },
};

function send(res: ServerResponse, type: string, body: string) {
  res.writeHead(200, { 'content-type': type, 'access-control-allow-origin': '*' });
  res.end(body);
}

/** A 5 MB document (a valid one: a long description), with or without content-length. */
function huge(res: ServerResponse, declared: boolean) {
  const body = Buffer.from(JSON.stringify({ name: 'huge', description: 'x'.repeat(5 * MB) }));
  res.writeHead(200, { 'content-type': 'application/nostr+json', ...(declared ? { 'content-length': body.length } : {}) });
  res.on('error', () => {});
  let offset = 0;
  const pump = () => {
    while (offset < body.length) {
      const chunk = body.subarray(offset, offset + 64 * 1024);
      offset += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

let server: Server;
let port: number;
before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    seen.set(path, { accept: req.headers.accept, host: req.headers.host });
    (ROUTES[path] ?? ((r: ServerResponse) => (r.writeHead(404), r.end('not found'))))(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const OPTIONS: Nip11Options = { timeoutMs: 2000, maxBytes: MB, maxRedirects: 3 };
const relay = (path: string) => `ws://127.0.0.1:${port}${path}`;

function failure(r: Nip11Result, code: string, reason: RegExp) {
  assert.equal(r.ok, false, JSON.stringify(r).slice(0, 300));
  if (r.ok) return;
  assert.equal(r.code, code, r.reason);
  assert.match(r.reason, reason);
  assert.ok(r.ms >= 0);
}

describe('fetchNip11', () => {
  it('fetches a good document, asking for application/nostr+json on the http URL of the relay', async () => {
    const r = await fetchNip11(relay('/good'), OPTIONS);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.document, GOOD);
    assert.deepEqual(r.dropped, []);
    assert.equal(r.httpStatus, 200);
    assert.ok(r.ms >= 0 && r.ms < OPTIONS.timeoutMs);
    assert.deepEqual(seen.get('/good'), { accept: 'application/nostr+json', host: `127.0.0.1:${port}` });
  });

  it('maps ws://host:port/path to http://host:port/path (path kept, root included)', async () => {
    const deep = await fetchNip11(relay('/deep/relay/path'), OPTIONS);
    assert.ok(deep.ok && deep.document.name === 'deep', JSON.stringify(deep));
    assert.equal(seen.get('/deep/relay/path')?.host, `127.0.0.1:${port}`);
    const root = await fetchNip11(`ws://127.0.0.1:${port}`, OPTIONS);
    assert.ok(root.ok && root.document.name === 'root', JSON.stringify(root));
  });

  it('accepts application/json with parameters (and a byte-order mark)', async () => {
    const r = await fetchNip11(relay('/json-charset'), OPTIONS);
    assert.ok(r.ok && r.document.name === 'plain json', JSON.stringify(r));
  });

  it('follows one redirect to a good document', async () => {
    const r = await fetchNip11(relay('/redirect-once'), OPTIONS);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.document, GOOD);
    assert.equal(seen.get('/redirect-once')?.accept, 'application/nostr+json');
  });

  it('keeps the good fields of a document with wrong ones, and says what it dropped', async () => {
    const r = await fetchNip11(relay('/wrong-types'), OPTIONS);
    assert.ok(r.ok, JSON.stringify(r));
    const { supported_nips: _n, pubkey: _p, ...rest } = GOOD;
    assert.deepEqual(r.document, { ...rest, limitation: { auth_required: false } });
    assert.deepEqual(r.dropped.map((d) => d.field), ['icon', 'pubkey', 'supported_nips', 'limitation.max_message_length', 'limitation.payment_required']);
    assert.ok(r.dropped.some((d) => d.reason === 'supported_nips: expected an array of integers, got "1,2,11"'), JSON.stringify(r.dropped));
  });

  it('NUL and lone surrogates, nested too, become U+FFFD (a pair is kept)', async () => {
    const r = await fetchNip11(relay('/poison'), OPTIONS);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.document, { name: 'a\uFFFDb', description: '\uFFFD \uFFFD 😀', fees: { admission: [{ amount: 1, unit: 'sa\uFFFDts' }] } });
  });

  it('garbage: not-json', async () => {
    failure(await fetchNip11(relay('/garbage'), OPTIONS), 'not-json', /not JSON/);
  });

  it('a JSON array: not-an-object', async () => {
    failure(await fetchNip11(relay('/array'), OPTIONS), 'not-an-object', /expected a JSON object, got an array/);
  });

  it('5 MB with content-length against a 1 MB cap: too-large', async () => {
    failure(await fetchNip11(relay('/huge-declared'), OPTIONS), 'too-large', /over the 1048576-byte cap/);
  });

  it('5 MB without content-length against a 1 MB cap: too-large', async () => {
    failure(await fetchNip11(relay('/huge-chunked'), OPTIONS), 'too-large', /over the 1048576-byte cap/);
  });

  it('a redirect loop: too-many-redirects', async () => {
    failure(await fetchNip11(relay('/loop'), OPTIONS), 'too-many-redirects', /more than 3 redirects/);
  });

  it('text/html: content-type, naming the type received', async () => {
    failure(await fetchNip11(relay('/html'), OPTIONS), 'content-type', /^content type "text\/html; charset=utf-8", expected application\/nostr\+json or application\/json$/);
  });

  it('no content type: content-type', async () => {
    failure(await fetchNip11(relay('/no-type'), OPTIONS), 'content-type', /^no content type/);
  });

  it('404: http-status, naming it', async () => {
    failure(await fetchNip11(relay('/missing'), OPTIONS), 'http-status', /^HTTP 404 /);
  });

  it('a slow drip: timeout, on time', async () => {
    const started = Date.now();
    failure(await fetchNip11(relay('/slow'), { ...OPTIONS, timeoutMs: 300 }), 'timeout', /within 300 ms/);
    assert.ok(Date.now() - started < 1500);
  });

  it('cancelled through the signal: aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    failure(await fetchNip11(relay('/slow'), { ...OPTIONS, signal: controller.signal }), 'aborted', /cancelled/);
    failure(await fetchNip11(relay('/good'), { ...OPTIONS, signal: AbortSignal.abort() }), 'aborted', /cancelled/);
  });

  it('nothing listening: network', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    failure(await fetchNip11(`ws://127.0.0.1:${freePort}/`, OPTIONS), 'network', /ECONNREFUSED/);
  });

  it('not a ws(s) URL: bad-url', async () => {
    failure(await fetchNip11(`http://127.0.0.1:${port}/good`, OPTIONS), 'bad-url', /not a ws:\/\/ or wss:\/\/ URL/);
    failure(await fetchNip11('wss://', OPTIONS), 'bad-url', /not a ws/);
  });
});
