// The Monitor's check outcomes (relay_check): every check of every pass is stored, failures with
// their reason code, against local relays of each bad behaviour; a missing NIP-11 document is
// absent, not a failure; the open RTT survives a failed read; relay_uptime over a known series.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSecretKey } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { storeChecks, type CheckOutcome } from '../../activities/db/metadata.js';
import { createNetworkActivities } from '../../activities/network.js';
import type { MonitorCheck, MonitorSummary } from '../../common/index.js';
import type { Config } from '../../workers/config.js';
import { localRelayConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay, type RelayBehaviour } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';

const BEHAVIOURS = ['good', 'silent', 'no-upgrade', 'close-at-once', 'malformed', 'huge-frame', 'auth', 'notice-only', 'closed'] as const;
const relays: Partial<Record<RelayBehaviour, LocalRelay>> = {};
const http: Record<number, { server: Server; url: string }> = {};
let t: TestDatabase;
let config: Config;

before(async () => {
  t = await freshDatabase();
  const base = localRelayConfig(t.url);
  config = { ...base, monitor: { ...base.monitor, private_key: bytesToHex(generateSecretKey()) } };
  for (const behaviour of BEHAVIOURS) relays[behaviour] = await startLocalRelay({ behaviour, events: [signed({ kind: 1, content: 'hi' })] });
  // Web servers that answer every GET with one status (no WebSocket): for the NIP-11 check alone.
  for (const status of [404, 410, 500]) {
    const server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'text/html' }).end('<h1>no</h1>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    http[status] = { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }
});
after(async () => {
  await Promise.all(Object.values(relays).map((r) => r?.stop()));
  await Promise.all(Object.values(http).map(({ server }) => new Promise((resolve) => server.close(resolve))));
  await t.drop();
});

async function addRelay(url: string) {
  await t.db.query(`INSERT INTO relay (url, network, discovered_at) VALUES ($1::text, 'clearnet', 1) ON CONFLICT DO NOTHING`, [url]);
}

async function check(url: string, checks: MonitorCheck[], generatedAt = 1000, cfg = config): Promise<MonitorSummary> {
  await addRelay(url);
  const acts = createNetworkActivities({ config: cfg, network: 'clearnet', db: t.db });
  return new MockActivityEnvironment().run(acts.checkRelay, { url, network: 'clearnet' as const, generatedAt, checks });
}

interface Row {
  check_name: string;
  outcome: string;
  code: string | null;
  payload: { check: string; code: string; reason: string } | null;
}
async function outcomes(url: string, generatedAt = 1000): Promise<Record<string, Row>> {
  const { rows } = await t.db.query<Row>(
    `SELECT c.check_name, c.outcome, c.code, m.payload FROM relay_check c LEFT JOIN metadata m ON m.id = c.metadata_id
     WHERE c.relay_url = $1::text AND c.generated_at = $2::bigint`,
    [url, generatedAt],
  );
  return Object.fromEntries(rows.map((r) => [r.check_name, r]));
}

const SOCKET: MonitorCheck[] = ['open', 'read', 'write', 'http'];

describe('check outcomes: every failure stored with its reason', () => {
  it('a good relay: every check ok, no reason documents', async () => {
    const url = relays.good!.url;
    await check(url, ['nip11', ...SOCKET]);
    const o = await outcomes(url);
    for (const c of SOCKET) assert.deepEqual([o[c]?.outcome, o[c]?.code, o[c]?.payload], ['ok', null, null], c);
    // the local relay answers GET with a text/plain page: no NIP-11 document, which is no failure
    assert.equal(o.nip11?.outcome, 'absent');
  });

  // [behaviour, check, code, what the reason says]
  const cases: Array<[RelayBehaviour, string, string, RegExp]> = [
    ['silent', 'read', 'timeout', /no EVENT or EOSE/],
    ['malformed', 'read', 'timeout', /no EVENT or EOSE/],
    ['no-upgrade', 'open', 'handshake', /HTTP 200/],
    ['close-at-once', 'read', 'closed', /closed the connection/],
    ['huge-frame', 'read', 'too-large', /over the size cap/],
    ['auth', 'read', 'auth-required', /authenticated/],
    ['auth', 'write', 'auth-required', /authenticated/],
    ['notice-only', 'read', 'notice-only', /do not serve/],
    ['closed', 'read', 'closed', /shutting down/],
  ];
  for (const [behaviour, c, code, reason] of cases) {
    it(`a relay that is ${behaviour}: ${c} failed, ${code}`, async () => {
      const url = relays[behaviour]!.url;
      const s = await check(url, SOCKET);
      const o = await outcomes(url);
      assert.equal(o[c]?.outcome, 'failed', JSON.stringify(o[c]));
      assert.equal(o[c]?.code, code);
      assert.equal(o[c]?.payload?.check, c);
      assert.equal(o[c]?.payload?.code, code);
      assert.match(o[c]?.payload?.reason ?? '', reason);
      assert.doesNotMatch(o[c]?.payload?.reason ?? '', /127\.0\.0\.1|ws:\/\//, 'the reason names no relay');
      assert.match(s.failed[c] ?? '', new RegExp(`^${code}: `));
    });
  }

  it('an open that failed fails every socket check with its reason', async () => {
    const url = relays['no-upgrade']!.url;
    const o = await outcomes(url);
    for (const c of SOCKET) assert.deepEqual([o[c]?.outcome, o[c]?.code], ['failed', 'handshake'], c);
  });

  it('refused, dns, tls and blocked-address', async () => {
    const refused = 'ws://127.0.0.1:1';
    await check(refused, ['open', 'read']);
    assert.deepEqual([(await outcomes(refused)).open?.code, (await outcomes(refused)).read?.code], ['refused', 'refused']);

    const dns = 'ws://no-such-relay.invalid';
    await check(dns, ['open']);
    assert.equal((await outcomes(dns)).open?.code, 'dns');

    // wss to a relay that speaks plain ws: the TLS handshake fails
    const tls = relays.good!.url.replace('ws://', 'wss://');
    await check(tls, ['open']);
    assert.equal((await outcomes(tls)).open?.code, 'tls');

    // a loopback relay without allow_local: refused by us, and recorded as such
    const blocked = relays.good!.url;
    await check(blocked, ['nip11', 'open'], 2000, { ...config, relay_url: { ...config.relay_url, allow_local: false } });
    const b = await outcomes(blocked, 2000);
    assert.deepEqual([b.nip11?.code, b.open?.code], ['blocked-address', 'blocked-address']);
  });

  it('NIP-11: 404 and 410 are absent, not failures; a 500 is a failure (http-status)', async () => {
    for (const status of [404, 410]) {
      const s = await check(http[status]!.url, ['nip11']);
      const o = await outcomes(http[status]!.url);
      assert.deepEqual([o.nip11?.outcome, o.nip11?.code], ['absent', 'http-status'], String(status));
      assert.match(o.nip11?.payload?.reason ?? '', new RegExp(`HTTP ${status}`));
      assert.equal(s.failed.nip11, undefined, 'not in the summary\'s failures either');
      assert.deepEqual(s.ok, []);
    }
    const s = await check(http[500]!.url, ['nip11']);
    const o = await outcomes(http[500]!.url);
    assert.deepEqual([o.nip11?.outcome, o.nip11?.code], ['failed', 'http-status']);
    assert.match(s.failed.nip11 ?? '', /^http-status: HTTP 500/);
  });

  it('a repeated failure is one more narrow row, pointing at the same reason document', async () => {
    const url = 'ws://127.0.0.1:1';
    const docs = async () => Number((await t.db.query('SELECT count(*) AS n FROM metadata')).rows[0].n);
    const before = await docs();
    await check(url, ['open', 'read'], 1100);
    await check(url, ['open', 'read'], 1200);
    assert.equal(await docs(), before, 'no new document: the reason is the one already stored');
    const { rows } = await t.db.query(
      `SELECT count(*)::int AS n, count(DISTINCT metadata_id)::int AS ids FROM relay_check WHERE relay_url = $1::text AND check_name = 'open'`,
      [url],
    );
    assert.deepEqual(rows[0], { n: 3, ids: 1 });
  });
});

describe('the open RTT survives a failed read', () => {
  it('huge-frame relay: open ok with its rtt_open stored, read failed too-large', async () => {
    const url = relays['huge-frame']!.url;
    const s = await check(url, ['open', 'read'], 3000);
    assert.ok(s.ok.includes('open'));
    assert.match(s.failed.read ?? '', /^too-large: /);
    assert.ok(typeof s.rtt?.open === 'number' && s.rtt.open >= 0, 'the summary has the open RTT');
    assert.ok(s.stored >= 1);
    const { rows } = await t.db.query(
      `SELECT m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
       WHERE rm.relay_url = $1::text AND rm.metadata_type = 'nip66_rtt' AND rm.generated_at = 3000`,
      [url],
    );
    assert.equal(rows.length, 1);
    assert.ok(typeof rows[0].payload.rtt_open === 'number');
    assert.equal(rows[0].payload.rtt_read, undefined);
    const o = await outcomes(url, 3000);
    assert.deepEqual([o.open?.outcome, o.read?.outcome, o.read?.code], ['ok', 'failed', 'too-large']);
  });
});

describe('relay_uptime', () => {
  it('uptime over 24 h, 7 d and 30 d, last success and last failure, over a known series', async () => {
    const url = 'wss://uptime.example.com';
    await addRelay(url);
    const now = Math.floor(Date.now() / 1000);
    const H = 3600;
    const D = 24 * H;
    const fail = { outcome: 'failed' as const, code: 'timeout', reason: 'no answer' };
    // [seconds ago, ok?] for 'open'
    const series: Array<[number, boolean]> = [
      [1 * H, true], [5 * H, true], [10 * H, false], [20 * H, true], // 24 h: 3 / 4
      [2 * D, false], [3 * D, true], [4 * D, false], [5 * D, true], [6 * D, false], [6 * D + H, false], // 7 d: 5 / 10
      ...Array.from({ length: 10 }, (_, i): [number, boolean] => [8 * D + i * D, false]), // 30 d: 5 / 20
      [40 * D, true], // older than 30 d: in no span, but not a later success than the others
    ];
    const rows: CheckOutcome[] = series.map(([ago, ok]) => ({
      relayUrl: url, check: 'open', generatedAt: now - ago, ...(ok ? { outcome: 'ok' as const } : fail),
    }));
    // read: two ok within 24 h, one absent (counts as neither)... and none older
    rows.push(
      { relayUrl: url, check: 'read', generatedAt: now - 2 * H, outcome: 'ok' },
      { relayUrl: url, check: 'read', generatedAt: now - 3 * H, outcome: 'ok' },
      { relayUrl: url, check: 'nip11', generatedAt: now - 2 * H, outcome: 'absent', code: 'http-status', reason: 'HTTP 404' },
    );
    assert.equal((await storeChecks(t.db, [], rows)).outcomes, rows.length);

    const { rows: up } = await t.db.query(
      `SELECT check_name, checks_24h::int, uptime_24h::float, checks_7d::int, uptime_7d::float, checks_30d::int, uptime_30d::float,
              last_ok_at::bigint, last_failed_at::bigint
       FROM relay_uptime WHERE relay_url = $1::text ORDER BY check_name`,
      [url],
    );
    assert.deepEqual(up.map((r) => ({ ...r, last_ok_at: Number(r.last_ok_at), last_failed_at: r.last_failed_at === null ? null : Number(r.last_failed_at) })), [
      { check_name: 'open', checks_24h: 4, uptime_24h: 0.75, checks_7d: 10, uptime_7d: 0.5, checks_30d: 20, uptime_30d: 0.25, last_ok_at: now - H, last_failed_at: now - 10 * H },
      { check_name: 'read', checks_24h: 2, uptime_24h: 1, checks_7d: 2, uptime_7d: 1, checks_30d: 2, uptime_30d: 1, last_ok_at: now - 2 * H, last_failed_at: null },
    ], 'nip11 was only ever absent: no uptime row for it');
  });

  it('a relay not checked within a span has NULL uptime for it, not 0', async () => {
    const url = 'wss://old.example.com';
    await addRelay(url);
    const now = Math.floor(Date.now() / 1000);
    await storeChecks(t.db, [], [{ relayUrl: url, check: 'open', generatedAt: now - 10 * 86400, outcome: 'failed', code: 'refused', reason: 'refused the connection' }]);
    const { rows } = await t.db.query(`SELECT checks_24h::int, uptime_24h, checks_30d::int, uptime_30d::float FROM relay_uptime WHERE relay_url = $1::text`, [url]);
    assert.deepEqual(rows, [{ checks_24h: 0, uptime_24h: null, checks_30d: 1, uptime_30d: 0 }]);
  });
});
