// A relay's words with NUL (U+0000) or a lone surrogate, which PostgreSQL's text and jsonb refuse:
// the Monitor and the Validator store them with U+FFFD in their place, in one attempt, and a
// document PostgreSQL still refuses is recorded as a failed check ('unstorable'), not retried.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSecretKey } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { WebSocketServer, type WebSocket } from 'ws';
import { contentId } from '../../activities/db/metadata.js';
import { isDataError, type Db } from '../../activities/db/db.js';
import { createNetworkActivities } from '../../activities/network.js';
import { createValidatorActivities } from '../../activities/validator/validator.js';
import type { MonitorCheck, MonitorSummary, ProbeOutcome } from '../../common/index.js';
import type { Config } from '../../workers/config.js';
import { localRelayConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

// NUL and a lone surrogate in top-level and nested fields, as JSON escapes (JSON.parse turns them into the characters).
const NIP11 = String.raw`{"name":"bad\u0000name","description":"lone \ud800 and \u0000","software":"x\udc00y",
  "fees":{"admission":[{"amount":1,"unit":"sa\u0000ts"}]},"supported_nips":[1,11]}`;

interface PoisonRelay {
  url: string;
  stop(): Promise<void>;
}

/** A relay on 127.0.0.1 whose NIP-11 body and answers are given: `onReq(send, subId)`, `onEvent(send, id)`. */
async function startPoisonRelay(o: {
  nip11: string;
  onConnect?: (send: (m: unknown[]) => void) => void;
  onReq?: (send: (m: unknown[]) => void, subId: string) => void;
  onEvent?: (send: (m: unknown[]) => void, id: string) => void;
}): Promise<PoisonRelay> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/nostr+json' });
    res.end(o.nip11);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', () => {});
    const send = (m: unknown[]) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    o.onConnect?.(send);
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as unknown[];
      if (msg[0] === 'REQ') o.onReq?.(send, String(msg[1]));
      if (msg[0] === 'EVENT') o.onEvent?.(send, String((msg[1] as { id: string }).id));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let t: TestDatabase;
let config: Config;
const relays: Record<'closed' | 'notice' | 'auth' | 'notJson', PoisonRelay> = {} as never;

before(async () => {
  t = await freshDatabase();
  const base = localRelayConfig(t.url);
  config = { ...base, monitor: { ...base.monitor, private_key: bytesToHex(generateSecretKey()) } };
  relays.closed = await startPoisonRelay({
    nip11: NIP11,
    onReq: (send, sub) => send(['CLOSED', sub, 'error: shutting\u0000down \ud800']),
    onEvent: (send, id) => send(['OK', id, false, 'blocked: no\u0000pe']),
  });
  relays.notice = await startPoisonRelay({ nip11: NIP11, onReq: (send) => send(['NOTICE', 'slow\u0000down']) });
  relays.auth = await startPoisonRelay({ nip11: NIP11, onConnect: (send) => send(['AUTH', 'chal\u0000lenge']) });
  // Not JSON, with NUL bytes: JSON.parse's message quotes them.
  relays.notJson = await startPoisonRelay({ nip11: '\u0000\u0000 not json' });
});
after(async () => {
  await Promise.all(Object.values(relays).map((r) => r.stop()));
  await t.drop();
});

async function check(url: string, checks: MonitorCheck[], db: Db = t.db, generatedAt = 1000): Promise<MonitorSummary> {
  await t.db.query(`INSERT INTO relay (url, network, discovered_at) VALUES ($1::text, 'clearnet', 1) ON CONFLICT DO NOTHING`, [url]);
  const acts = createNetworkActivities({ config, network: 'clearnet', db });
  // One attempt: MockActivityEnvironment runs the activity once, and a throw fails the test.
  return new MockActivityEnvironment().run(acts.checkRelay, { url, network: 'clearnet' as const, generatedAt, checks });
}

interface Outcome { outcome: string; code: string | null; payload: { reason: string } | null }
async function outcomes(url: string, generatedAt = 1000): Promise<Record<string, Outcome>> {
  const { rows } = await t.db.query<Outcome & { check_name: string }>(
    `SELECT c.check_name, c.outcome, c.code, m.payload FROM relay_check c LEFT JOIN metadata m ON m.id = c.metadata_id
     WHERE c.relay_url = $1::text AND c.generated_at = $2::bigint`,
    [url, generatedAt],
  );
  return Object.fromEntries(rows.map((r) => [r.check_name, r]));
}

async function document(url: string, type: string, generatedAt = 1000) {
  const { rows } = await t.db.query<{ id: Buffer; payload: Record<string, unknown> }>(
    `SELECT m.id, m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
     WHERE rm.relay_url = $1::text AND rm.metadata_type = $2::text AND rm.generated_at = $3::bigint`,
    [url, type, generatedAt],
  );
  return rows[0];
}

const ALL: MonitorCheck[] = ['nip11', 'open', 'read', 'write', 'http'];

describe('the Monitor stores a relay\'s NUL and lone surrogates as U+FFFD', () => {
  it('NIP-11 with NUL and lone surrogates, CLOSED and OK texts with NUL: NIP-11, RTT and every check stored in one attempt', async () => {
    const url = relays.closed.url;
    const s = await check(url, ALL);
    assert.deepEqual(s.failed.store, undefined);

    const nip11 = await document(url, 'nip11');
    assert.ok(nip11, 'the NIP-11 document is stored');
    assert.equal(nip11.payload.name, 'bad\uFFFDname');
    assert.equal(nip11.payload.description, 'lone \uFFFD and \uFFFD');
    assert.equal(nip11.payload.software, 'x\uFFFDy');
    assert.deepEqual(nip11.payload.fees, { admission: [{ amount: 1, unit: 'sa\uFFFDts' }] });
    assert.deepEqual(nip11.id, contentId(nip11.payload), 'the id is the hash of the stored document');

    const rtt = await document(url, 'nip66_rtt');
    assert.ok(rtt, 'the RTT document is stored');
    assert.equal(typeof rtt.payload.rtt_open, 'number');
    assert.equal(rtt.payload.write_message, 'blocked: no\uFFFDpe');
    assert.deepEqual(rtt.id, contentId(rtt.payload));

    const o = await outcomes(url);
    assert.deepEqual([o.nip11?.outcome, o.open?.outcome, o.http?.outcome], ['ok', 'ok', 'ok']);
    assert.deepEqual([o.read?.outcome, o.read?.code, o.read?.payload?.reason], ['failed', 'closed', 'error: shutting\uFFFDdown \uFFFD']);
    assert.deepEqual([o.write?.outcome, o.write?.code, o.write?.payload?.reason], ['failed', 'blocked', 'blocked: no\uFFFDpe']);
    assert.ok(s.stored >= 2);
  });

  it('a NOTICE with NUL (notice-only) and an AUTH challenge with NUL are stored as reasons', async () => {
    const notice = relays.notice.url;
    await check(notice, ['open', 'read']);
    assert.deepEqual([(await outcomes(notice)).read?.code, (await outcomes(notice)).read?.payload?.reason], ['notice-only', 'slow\uFFFDdown']);
    const auth = relays.auth.url;
    await check(auth, ['open', 'read']);
    assert.deepEqual([(await outcomes(auth)).read?.code, (await outcomes(auth)).read?.payload?.reason], ['auth-required', 'chal\uFFFDlenge']);
  });

  it('a NIP-11 body that is not JSON, with NUL bytes: absent, its reason stored', async () => {
    const url = relays.notJson.url;
    await check(url, ['nip11']);
    const o = await outcomes(url);
    assert.deepEqual([o.nip11?.outcome, o.nip11?.code], ['absent', 'not-json']);
    assert.match(o.nip11?.payload?.reason ?? '', /\uFFFD\uFFFD not json/);
  });
});

describe('a document PostgreSQL still refuses is a failed check, not a retry', () => {
  // A pool whose metadata documents go to PostgreSQL with U+FFFD turned back into a \u0000 escape:
  // what a text that escaped storableJson would do. PostgreSQL refuses it (22P05).
  function unsanitising(db: Db): Db {
    const poison = (params: unknown) =>
      Array.isArray(params) && Array.isArray(params[1])
        ? [params[0], params[1].map((p: unknown) => (typeof p === 'string' ? p.replaceAll('\uFFFD', '\\u0000') : p)), ...params.slice(2)]
        : params;
    return new Proxy(db, {
      get(target, prop) {
        if (prop !== 'connect') return Reflect.get(target, prop, target);
        return async () => {
          const client = await target.connect();
          return new Proxy(client, {
            get(c, p) {
              if (p === 'query') return (text: string, params?: unknown[]) =>
                  c.query(text, (/^SELECT metadata_insert/.test(text) ? poison(params) : params) as unknown[]);
              const v = Reflect.get(c, p, c);
              return typeof v === 'function' ? v.bind(c) : v;
            },
          });
        };
      },
    });
  }

  it('the NIP-11 refused: nip11 failed "unstorable" with PostgreSQL\'s message, the RTT and the other checks stored', async () => {
    const url = relays.closed.url;
    const s = await check(url, ['nip11', 'open', 'http'], unsanitising(t.db), 2000);
    assert.match(s.failed.nip11 ?? '', /^unstorable: .*Unicode escape/);
    assert.ok(!s.ok.includes('nip11'));
    const o = await outcomes(url, 2000);
    assert.deepEqual([o.nip11?.outcome, o.nip11?.code], ['failed', 'unstorable']);
    assert.match(o.nip11?.payload?.reason ?? '', /Unicode escape/);
    assert.deepEqual([o.open?.outcome, o.http?.outcome], ['ok', 'ok']);
    assert.equal(await document(url, 'nip11', 2000), undefined, 'no NIP-11 row for the refused document');
    assert.ok(await document(url, 'nip66_rtt', 2000), 'the RTT is stored');
  });
});

describe('the Validator stores a candidate\'s failure reason with U+FFFD', () => {
  it('a CLOSED reason with NUL and a lone surrogate: the failure is counted, last_error stored', async () => {
    const url = relays.closed.url;
    await t.db.query(`INSERT INTO candidate (url, network, source, discovered_at) VALUES ($1::text, 'clearnet', 'seed', 1)`, [url]);
    const acts = createNetworkActivities({ config, network: 'clearnet', db: t.db });
    const probe: ProbeOutcome = await new MockActivityEnvironment().run(acts.probeRelay, { url, network: 'clearnet' as const });
    assert.equal(probe.verdict, 'invalid');
    const r = await createValidatorActivities({ db: t.db, config }).recordValidation({ ...probe, network: 'clearnet' });
    assert.equal(r.result, 'failed');
    const { rows } = await t.db.query<{ last_error: string; failures: number }>('SELECT last_error, failures FROM candidate WHERE url = $1::text', [url]);
    assert.deepEqual(rows, [{ last_error: 'closed: closed the REQ "error: shutting\uFFFDdown \uFFFD"', failures: 1 }]);
  });
});

describe('isDataError', () => {
  it('class 22 and class 23 (but 23503, "the relay is gone") are data errors; outages and others are not', async () => {
    for (const code of ['22P05', '22021', '22001', '22012', '23505', '23514', '23502']) assert.equal(isDataError({ code }), true, code);
    for (const code of ['23503', '08006', '57P01', '53300', '40001', 'ECONNREFUSED', undefined]) assert.equal(isDataError({ code }), false, String(code));
    for (const err of [null, undefined, 'text', new Error('x')]) assert.equal(isDataError(err), false);
    // and what PostgreSQL really throws
    const real = await t.db.query(`SELECT '"\\u0000"'::jsonb`).catch((e: unknown) => e);
    assert.equal((real as { code?: string }).code, '22P05');
    assert.equal(isDataError(real), true);
    const gone = await t.db.query(`INSERT INTO relay_metadata VALUES ('wss://nowhere.example', 'nip11', 1, sha256(''::bytea))`).catch((e: unknown) => e);
    assert.equal(isDataError(gone), false, (gone as Error).message);
  });
});
