// NIP-42 client authentication (authenticate, RelayConnection.challenge) and the local relay's
// modes that sync tests lean on (auth, untilExclusive, setMaxLimit), on real sockets on 127.0.0.1.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate, probeRead, RelayError, type RelayConnection } from '../../activities/relay/relay-socket.js';
import { signed } from '../helpers/nostr.js';
import { relayFixture, STORED } from '../helpers/relay-fixture.js';

const WAIT = { timeoutMs: 2000 }; // an upper bound for answers that do come: tests never sleep it out
const { started, relay, open } = relayFixture();

/** A bare WebSocket server on 127.0.0.1 for relays the local relay does not play; `onMessage` gets each parsed message. */
async function bareRelay(onMessage: (ws: WebSocket, msg: unknown[]) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  started.push({
    stop: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data) => onMessage(ws, JSON.parse(data.toString()) as unknown[]));
  });
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

/** The first message answering subscription `subId` (CLOSED, EOSE, NEG-*), as [type, message]. */
function answerTo(conn: RelayConnection, subId: string): Promise<[string, unknown]> {
  return conn.next((m) => (m[0] !== 'EVENT' && m[0] !== 'AUTH' && m[1] === subId ? ([m[0] as string, m[2]] as [string, unknown]) : undefined), WAIT.timeoutMs);
}

describe('authenticate (NIP-42)', () => {
  it('serve-after: reads refused auth-required until AUTH, then served; the challenge is remembered and still queued', async () => {
    const r = await relay({ events: STORED, auth: 'serve-after' });
    const conn = await open(r.url);
    const challenge = await conn.next((m) => (m[0] === 'AUTH' ? m[1] : undefined), WAIT.timeoutMs);
    assert.match(String(challenge), /^[0-9a-f]{32}$/);
    assert.equal(conn.challenge, challenge);

    const before = await probeRead(conn, { ...WAIT, filter: {} });
    assert.equal(before.answer, 'auth-required');
    assert.match(before.message ?? '', /^auth-required: /);

    const sk = generateSecretKey();
    assert.deepEqual(await authenticate(conn, sk, WAIT), { ok: true });
    assert.deepEqual(r.authenticated, [getPublicKey(sk)]);

    const read = await probeRead(conn, { ...WAIT, filter: {} });
    assert.equal(read.answer, 'eose');
    assert.equal(read.events, STORED.length);
  });

  it('serve-after: NEG-OPEN is refused auth-required before AUTH, not after', async () => {
    const r = await relay({ events: STORED, auth: 'serve-after', nip77: true });
    const conn = await open(r.url);
    conn.send(['NEG-OPEN', 'neg-1', {}, '61']);
    const [type, message] = await answerTo(conn, 'neg-1');
    assert.equal(type, 'CLOSED');
    assert.match(String(message), /^auth-required: /);
    assert.deepEqual(await authenticate(conn, generateSecretKey(), WAIT), { ok: true });
    conn.send(['NEG-OPEN', 'neg-2', {}, '61']);
    const [type2] = await answerTo(conn, 'neg-2');
    assert.notEqual(type2, 'CLOSED'); // a negentropy answer (here NEG-ERR or NEG-MSG), no longer a refusal
    assert.equal(r.negOpens, 2);
  });

  it('restricted-after: AUTH accepted, then every REQ and NEG-OPEN is CLOSED restricted', async () => {
    const r = await relay({ events: STORED, auth: 'restricted-after', nip77: true });
    const conn = await open(r.url);
    assert.deepEqual(await authenticate(conn, generateSecretKey(), WAIT), { ok: true });
    const read = await probeRead(conn, { ...WAIT, filter: {} });
    assert.deepEqual({ answer: read.answer, message: read.message, events: read.events }, { answer: 'closed', message: 'restricted: not allowed', events: 0 });
    conn.send(['NEG-OPEN', 'neg-1', {}, '61']);
    assert.deepEqual(await answerTo(conn, 'neg-1'), ['CLOSED', 'restricted: not allowed']);
  });

  it('authPubkeys: another key gets ok:false with the relay\'s reason and stays unauthenticated; a listed key gets in', async () => {
    const allowed = generateSecretKey();
    const r = await relay({ events: STORED, auth: 'serve-after', authPubkeys: [getPublicKey(allowed)] });
    const stranger = await open(r.url);
    const refused = await authenticate(stranger, generateSecretKey(), WAIT);
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.reason, /^refused: restricted: /);
    assert.equal((await probeRead(stranger, { ...WAIT, filter: {} })).answer, 'auth-required');

    const friend = await open(r.url);
    assert.deepEqual(await authenticate(friend, allowed, WAIT), { ok: true });
    assert.equal((await probeRead(friend, { ...WAIT, filter: {} })).events, STORED.length);
    assert.deepEqual(r.authenticated, [getPublicKey(allowed)]);
  });

  it('the AUTH event: kind 22242, relay tag = conn.url, the challenge tag, signed; sent as ["AUTH", event]', async () => {
    let seen: Record<string, unknown> | undefined;
    const url = await bareRelay((ws, msg) => {
      if (msg[0] === 'REQ') {
        // Challenges only when asked to serve (as NIP-42 allows), so authenticate has to wait for it.
        ws.send(JSON.stringify(['AUTH', 'late-challenge']));
        ws.send(JSON.stringify(['CLOSED', msg[1], 'auth-required: who are you?']));
      } else if (msg[0] === 'AUTH') {
        seen = msg[1] as Record<string, unknown>;
        ws.send(JSON.stringify(['OK', seen.id, true, '']));
      }
    });
    const conn = await open(url);
    assert.equal(conn.challenge, undefined);
    const sk = generateSecretKey();
    const result = authenticate(conn, sk, WAIT); // waits: no challenge yet
    conn.send(['REQ', 'sub-1', {}]);
    assert.deepEqual(await result, { ok: true });
    assert.equal(conn.challenge, 'late-challenge');
    assert.ok(seen);
    assert.equal(seen.kind, 22242);
    assert.equal(seen.pubkey, getPublicKey(sk));
    assert.equal(seen.content, '');
    assert.deepEqual(seen.tags, [['relay', url], ['challenge', 'late-challenge']]);
    assert.ok(Math.abs(Number(seen.created_at) - Date.now() / 1000) < 600);
  });

  it('the latest challenge is answered when the relay sent several', async () => {
    let answered: unknown;
    const url = await bareRelay((ws, msg) => {
      if (msg[0] === 'REQ') for (const c of ['first', 'second', 'third']) ws.send(JSON.stringify(['AUTH', c]));
      if (msg[0] === 'REQ') ws.send(JSON.stringify(['EOSE', msg[1]]));
      if (msg[0] === 'AUTH') {
        const ev = msg[1] as { id: string; tags: string[][] };
        answered = ev.tags.find((t) => t[0] === 'challenge')?.[1];
        ws.send(JSON.stringify(['OK', ev.id, answered === 'third', answered === 'third' ? '' : 'invalid: stale challenge']));
      }
    });
    const conn = await open(url);
    conn.send(['REQ', 'sub-1', {}]);
    await answerTo(conn, 'sub-1'); // EOSE comes after the three challenges
    assert.equal(conn.challenge, 'third');
    assert.deepEqual(await authenticate(conn, generateSecretKey(), WAIT), { ok: true });
    assert.equal(answered, 'third');
    assert.equal(conn.take((m) => (m[0] === 'AUTH' ? m : undefined)), undefined); // the answered challenges are taken
  });

  it('a relay that never challenges: no challenge within the timeout', async () => {
    const r = await relay({ events: STORED });
    const conn = await open(r.url);
    assert.deepEqual(await authenticate(conn, generateSecretKey(), { timeoutMs: 150 }), { ok: false, reason: 'no challenge within 150 ms' });
    assert.equal((await probeRead(conn, WAIT)).answer, 'eose'); // the connection is still usable
  });

  it('a relay that challenges but never answers the AUTH: no OK within the timeout', async () => {
    const r = await relay({ behaviour: 'auth' }); // does not speak AUTH back (a NOTICE, no OK)
    const conn = await open(r.url);
    assert.deepEqual(await authenticate(conn, generateSecretKey(), { timeoutMs: 150 }), { ok: false, reason: 'no OK within 150 ms' });
  });

  it('the socket dying while waiting: RelayError closed', async () => {
    const url = await bareRelay((ws, msg) => {
      if (msg[0] === 'REQ') ws.terminate();
    });
    const conn = await open(url);
    const result = authenticate(conn, generateSecretKey(), WAIT);
    conn.send(['REQ', 'die', {}]);
    await assert.rejects(result, (err: unknown) => err instanceof RelayError && err.code === 'closed');
  });
});

describe('the local relay for sync tests', () => {
  const t = 1_700_000_500;
  const atT = [signed({ kind: 1, content: 'a at t', created_at: t }), signed({ kind: 1, content: 'b at t', created_at: t })];
  const before = signed({ kind: 1, content: 'before t', created_at: t - 1 });

  it('untilExclusive: since == until matches nothing; until = t + 1 gives the second t; inclusive by default', async () => {
    const exclusive = await relay({ events: [...atT, before], untilExclusive: true });
    const conn = await open(exclusive.url);
    const count = async (c: RelayConnection, filter: Record<string, unknown>) => {
      const r = await probeRead(c, { ...WAIT, filter });
      assert.equal(r.answer, 'eose');
      return r.events;
    };
    assert.equal(await count(conn, { since: t, until: t }), 0);
    assert.equal(await count(conn, { since: t, until: t + 1 }), 2);
    assert.equal(await count(conn, { until: t }), 1); // only the one before t

    const inclusive = await relay({ events: [...atT, before] });
    const conn2 = await open(inclusive.url);
    assert.equal(await count(conn2, { since: t, until: t }), 2);
    assert.equal(await count(conn2, { until: t }), 3);
  });

  it('setMaxLimit: the cap changes from the next REQ on; undefined lifts it', async () => {
    const r = await relay({ events: STORED, maxLimit: 2 });
    const conn = await open(r.url);
    const events = async (filter: Record<string, unknown>) => (await probeRead(conn, { ...WAIT, filter })).events;
    assert.equal(await events({}), 2);
    assert.equal(await events({ limit: 10 }), 2);
    r.setMaxLimit(1);
    assert.equal(await events({ limit: 10 }), 1);
    assert.equal(await events({}), 1);
    r.setMaxLimit(undefined);
    assert.equal(await events({}), STORED.length);
    assert.equal(await events({ limit: 2 }), 2);
  });
});
