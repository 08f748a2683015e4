// The relay WebSocket primitives against real local relays (every way they misbehave) and a real
// SOCKS5 proxy: no mocks, only sockets on 127.0.0.1.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { openRelay, probeRead, probeWrite, RelayError, socksAgent } from '../../activities/relay/relay-socket.js';
import { parseRelayUrl } from '../../common/index.js';
import type { LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { OPEN, relayFixture, STORED } from '../helpers/relay-fixture.js';
import { startSocks5 } from '../helpers/socks5-server.js';

const { started, relay, open } = relayFixture();

/** Asserts a RelayError with this code whose message names `culprit` (and matches `pattern`). */
function relayError(code: RelayError['code'], culprit: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof RelayError, `expected a RelayError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(culprit), `"${err.message}" does not name ${culprit}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts and never says a word (no HTTP answer at all). */
async function mute(): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  started.push({
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A valid v3 onion name (56 base32 characters: key, checksum, version 3), as Tor would print it. */
function onionName(): string {
  const key = randomBytes(32);
  const version = Buffer.from([3]);
  const checksum = createHash('sha3-256').update(Buffer.concat([Buffer.from('.onion checksum'), key, version])).digest().subarray(0, 2);
  const bytes = Buffer.concat([key, checksum, version]);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  return bits.match(/.{5}/g)!.map((chunk) => alphabet[parseInt(chunk, 2)]).join('');
}

describe('a good relay', () => {
  let good: LocalRelay;
  before(async () => (good = await relay({ events: STORED, serverHeader: 'test-relay/1.0' })));

  it('opens, with the open round trip and the upgrade headers', async () => {
    const conn = await open(good.url);
    assert.ok(conn.rttOpenMs > 0);
    assert.equal(conn.upgradeHeaders.server, 'test-relay/1.0');
    assert.equal(conn.upgradeHeaders['x-powered-by'], 'test-relay/1.0');
    assert.equal(conn.url, good.url);
  });

  it('read: EVENTs then EOSE, stored events counted, rtt to the first event', async () => {
    const conn = await open(good.url);
    const one = await probeRead(conn, { timeoutMs: 500 });
    assert.deepEqual({ answer: one.answer, events: one.events }, { answer: 'eose', events: 1 });
    assert.ok(one.rttReadMs !== undefined && one.rttReadMs > 0);
    const all = await probeRead(conn, { timeoutMs: 500, filter: {} });
    assert.deepEqual({ answer: all.answer, events: all.events, invalid: all.invalid }, { answer: 'eose', events: 3, invalid: 0 });
    const none = await probeRead(conn, { timeoutMs: 500, filter: { kinds: [7] } });
    assert.equal(none.answer, 'eose');
    assert.equal(none.events, 0);
    assert.ok(none.rttReadMs !== undefined, 'rtt to EOSE when there is no event');
    assert.equal(conn.malformed, 0);
  });

  it('write: accepted, OK round trip, read back by id; a bad signature is refused', async () => {
    const conn = await open(good.url);
    const event = signed({ kind: 1, content: `written ${Date.now()}`, created_at: Math.floor(Date.now() / 1000) });
    const w = await probeWrite(conn, event, { timeoutMs: 500 });
    assert.equal(w.accepted, true);
    assert.equal(w.message, '');
    assert.ok(w.rttWriteMs !== undefined && w.rttWriteMs > 0);
    assert.equal(w.readBack, true);
    assert.ok(good.events.some((e) => e.id === event.id));

    const forged = { ...signed({ kind: 1, content: 'forged' }), sig: 'ab'.repeat(64) };
    const bad = await probeWrite(conn, forged, { timeoutMs: 500 });
    assert.deepEqual({ accepted: bad.accepted, readBack: bad.readBack }, { accepted: false, readBack: false });
    assert.match(bad.message, /^invalid: bad signature/);
    assert.ok(!good.events.some((e) => e.id === forged.id));
  });

  it('the local relay filters as NIP-01 says: ids, authors, kinds, since, until, limit, newest first', async () => {
    const conn = await open(good.url);
    const ask = async (filter: Record<string, unknown>) => {
      const sub = `t${Math.random()}`;
      conn.send(['REQ', sub, filter]);
      const ids: string[] = [];
      for (;;) {
        const m = await conn.next((msg) => (msg[1] === sub ? msg : undefined), 500);
        if (m[0] === 'EOSE') return ids;
        ids.push((m[2] as { id: string }).id);
      }
    };
    const [oldest, middle, metadata] = STORED.map((e) => e.id);
    assert.deepEqual(await ask({ kinds: [1], until: 1_700_000_100 }), [middle, oldest]);
    assert.deepEqual(await ask({ since: 1_700_000_100, until: 1_700_000_200, limit: 1 }), [metadata]);
    assert.deepEqual(await ask({ ids: [oldest], authors: [STORED[0]!.pubkey] }), [oldest]);
    assert.deepEqual(await ask({ authors: ['00'.repeat(32)] }), []);
  });

  it('a burst bigger than the queue, read late and slowly, loses nothing (the socket is paused, not drained into memory)', async () => {
    const conn = await open(good.url);
    for (let i = 0; i < 700; i++) conn.send(['REQ', `burst-${i}`, { kinds: [0] }]); // 1,400 answers
    await new Promise((resolve) => setTimeout(resolve, 100));
    const seen = { EVENT: 0, EOSE: 0 };
    for (let i = 0; i < 1400; i++) {
      const m = await conn.next((msg) => (String(msg[1]).startsWith('burst-') ? msg : undefined), 500);
      seen[m[0] as 'EVENT' | 'EOSE']++;
    }
    assert.deepEqual(seen, { EVENT: 700, EOSE: 700 });
  });

  it('a frame over maxPayloadBytes closes the socket with too-large', async () => {
    const big = await relay({ events: [signed({ kind: 1, content: 'x'.repeat(10_000) })] });
    const conn = await open(big.url, { maxPayloadBytes: 4096 });
    await assert.rejects(probeRead(conn, { timeoutMs: 500 }), relayError('too-large', big.url));
    assert.throws(() => conn.send(['REQ', 'again', {}]), relayError('too-large', big.url));
  });

  it('messages that came before next() was called are not lost; after close(), send and next fail with closed', async () => {
    const auth = await relay({ behaviour: 'auth' });
    const conn = await open(auth.url);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the challenge arrives while no one waits
    const challenge = await conn.next((m) => (m[0] === 'AUTH' ? m[1] : undefined), 200);
    assert.match(String(challenge), /^[0-9a-f]{32}$/);
    conn.close();
    assert.throws(() => conn.send(['REQ', 'x', {}]), relayError('closed', auth.url));
    await assert.rejects(conn.next(() => true, 200), relayError('closed', auth.url));
  });

  it('take(): what is queued comes at once, oldest first, each once; nothing queued gives undefined; after close, a queued match still comes, then closed', async () => {
    const conn = await open(good.url);
    const sub = (m: unknown[]) => (m[1] === 'taken' ? m : undefined);
    assert.equal(conn.take(sub), undefined, 'nothing asked, nothing queued');
    conn.send(['REQ', 'taken', { until: 1_700_000_200 }]); // the stored three (a test above writes more)
    await conn.next((m) => (m[1] === 'taken' && m[0] === 'EOSE' ? m : undefined), 500);
    // The EOSE above was taken by next: the three EVENTs before it stay queued, in order.
    const got = [conn.take(sub), conn.take(sub), conn.take(sub)].map((m) => (m?.[2] as { id: string } | undefined)?.id);
    assert.deepEqual(got, STORED.map((e) => e.id).reverse(), 'newest first, as the relay sent them');
    assert.equal(conn.take(sub), undefined, 'each message is taken once');

    conn.send(['REQ', 'taken-2', { kinds: [0] }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.close();
    const late = conn.take((m) => (m[1] === 'taken-2' && m[0] === 'EVENT' ? m : undefined));
    assert.equal((late?.[2] as { id: string } | undefined)?.id, STORED[2]!.id, 'what came before the close is still there');
    assert.throws(() => conn.take(sub), relayError('closed', good.url));
  });
});

describe('relays that misbehave', () => {
  it('slow: a timeout shorter than its delay gives timeout; a longer one gives eose, rtt over the delay', async () => {
    const slow = await relay({ behaviour: 'slow', delayMs: 250, events: STORED });
    const conn = await open(slow.url);
    const early = await probeRead(conn, { timeoutMs: 100 });
    assert.deepEqual(early, { answer: 'timeout', events: 0, invalid: 0 });
    const patient = await probeRead(conn, { timeoutMs: 800 });
    assert.equal(patient.answer, 'eose');
    assert.ok(patient.rttReadMs! >= 240, `rtt ${patient.rttReadMs}`);
  });

  it('no-upgrade: handshake, naming the relay and status 200', async () => {
    const web = await relay({ behaviour: 'no-upgrade' });
    await assert.rejects(openRelay(web.url, OPEN), (err) => {
      relayError('handshake', web.url, /HTTP 200/)(err);
      assert.equal((err as RelayError).status, 200);
      return true;
    });
  });

  it('nothing listening: refused', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    await assert.rejects(openRelay(url, OPEN), relayError('refused', url));
  });

  it('TCP accepted but no HTTP answer: timeout; an AbortSignal ends an open in progress: aborted', async () => {
    const url = await mute();
    const t0 = Date.now();
    await assert.rejects(openRelay(url, { timeoutMs: 150 }), relayError('timeout', url, /accepted the connection but did not upgrade to a WebSocket within 150 ms/));
    assert.ok(Date.now() - t0 < 1000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(openRelay(url, { timeoutMs: 5000, signal: controller.signal }), relayError('aborted', url));
    await assert.rejects(openRelay(url, { timeoutMs: 5000, signal: AbortSignal.abort() }), relayError('aborted', url));
  });

  it('an AbortSignal fired on an open connection rejects what waits with aborted', async () => {
    const silent = await relay({ behaviour: 'silent' });
    const controller = new AbortController();
    const conn = await open(silent.url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(probeRead(conn, { timeoutMs: 2000 }), relayError('aborted', silent.url));
  });

  it('wss to a port that speaks plain HTTP: tls', async () => {
    const web = await relay({ behaviour: 'no-upgrade' });
    const url = `wss://127.0.0.1:${web.port}`;
    await assert.rejects(openRelay(url, OPEN), relayError('tls', url));
  });

  it('silent: the read probe times out', async () => {
    const silent = await relay({ behaviour: 'silent' });
    const conn = await open(silent.url);
    assert.deepEqual(await probeRead(conn, { timeoutMs: 150 }), { answer: 'timeout', events: 0, invalid: 0 });
    const w = await probeWrite(conn, signed({ kind: 1, content: 'into the void' }), { timeoutMs: 150 });
    assert.deepEqual(w, { accepted: false, message: 'no OK within 150 ms', readBack: false });
  });

  it('close-at-once: closed', async () => {
    const rude = await relay({ behaviour: 'close-at-once' });
    await assert.rejects(async () => {
      const conn = await open(rude.url); // the 101 may come before the close frame is read
      await probeRead(conn, { timeoutMs: 500 });
    }, relayError('closed', rude.url));
  });

  it('malformed: garbage frames counted and skipped, no crash, the probe times out', async () => {
    const garbage = await relay({ behaviour: 'malformed' });
    const conn = await open(garbage.url);
    const r = await probeRead(conn, { timeoutMs: 200 });
    assert.equal(r.answer, 'timeout');
    assert.equal(conn.malformed, 7); // not JSON, object, string, [], unknown type, EVENT without event, binary
  });

  it('auth: the challenge on connect and the auth-required CLOSED; writes refused the same way', async () => {
    const auth = await relay({ behaviour: 'auth' });
    const conn = await open(auth.url);
    const r = await probeRead(conn, { timeoutMs: 500 });
    assert.equal(r.answer, 'auth-required'); // the answer to the REQ wins over the challenge
    assert.equal(r.message, 'auth-required: we only serve authenticated users');
    assert.match(r.challenge ?? '', /^[0-9a-f]{32}$/);
    const w = await probeWrite(conn, signed({ kind: 1, content: 'let me in' }), { timeoutMs: 500 });
    assert.equal(w.accepted, false);
    assert.match(w.message, /^auth-required:/);
  });

  it('a challenge and no answer to the REQ: auth, with the challenge', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    started.push({ stop: () => new Promise((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(() => resolve()); }) });
    wss.on('connection', (ws) => ws.send(JSON.stringify(['AUTH', 'prove-it'])));
    const conn = await open(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    const r = await probeRead(conn, { timeoutMs: 150 });
    assert.deepEqual(r, { answer: 'auth', events: 0, invalid: 0, challenge: 'prove-it', message: 'prove-it' });
  });

  it('notice-only: a NOTICE and nothing else', async () => {
    const chatty = await relay({ behaviour: 'notice-only' });
    const conn = await open(chatty.url);
    const r = await probeRead(conn, { timeoutMs: 150 });
    assert.deepEqual(r, { answer: 'notice-only', events: 0, invalid: 0, message: 'we do not serve subscriptions here' });
  });

  it('closed: the CLOSED message', async () => {
    const closing = await relay({ behaviour: 'closed' });
    const conn = await open(closing.url);
    const r = await probeRead(conn, { timeoutMs: 500 });
    assert.deepEqual({ answer: r.answer, message: r.message }, { answer: 'closed', message: 'error: shutting down' });
  });
});

describe('through a SOCKS5 proxy', () => {
  const onion = `${onionName()}.onion`;
  let good: LocalRelay;
  let proxy: Awaited<ReturnType<typeof startSocks5>>;
  before(async () => {
    good = await relay({ events: STORED });
    proxy = await startSocks5({ resolve: (host) => (host === onion ? { host: '127.0.0.1', port: good.port } : undefined) });
    started.push(proxy);
  });

  it('reaches ws://<onion>.onion, the name resolved by the proxy, not locally', async () => {
    const url = `ws://${onion}`;
    const parsed = parseRelayUrl(url);
    assert.ok(parsed.ok && parsed.network === 'tor', 'a valid v3 onion URL');
    const before = good.connections;
    const conn = await open(url, { agent: socksAgent(proxy.url) });
    const r = await probeRead(conn, { timeoutMs: 500 });
    assert.deepEqual({ answer: r.answer, events: r.events }, { answer: 'eose', events: 1 });
    assert.ok(proxy.requested.includes(`${onion}:80`), JSON.stringify(proxy.requested));
    assert.equal(good.connections, before + 1);
  });

  it('without the proxy the onion name does not resolve: dns', async () => {
    const url = `ws://${onion}`;
    await assert.rejects(openRelay(url, OPEN), relayError('dns', url));
  });

  it('a name the proxy cannot reach: refused, with the proxy\'s reason', async () => {
    const url = `ws://${onionName()}.onion`;
    await assert.rejects(openRelay(url, { ...OPEN, agent: socksAgent(proxy.url) }), relayError('refused', url, /HostUnreachable/));
  });

  it('no proxy listening: no-proxy, naming the proxy', async () => {
    const port = await freePort();
    const url = `ws://${onion}`;
    await assert.rejects(openRelay(url, { ...OPEN, agent: socksAgent(`socks5h://127.0.0.1:${port}`) }), relayError('no-proxy', url, new RegExp(`127\\.0\\.0\\.1:${port}`)));
  });

  it('a proxy URL that is not SOCKS5 is refused at once', () => {
    assert.throws(() => socksAgent('http://127.0.0.1:9050'), relayError('no-proxy', 'http://127.0.0.1:9050'));
  });
});
