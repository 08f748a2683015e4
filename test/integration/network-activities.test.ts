// The Validator's probe and the Monitor's health check, against relays this test starts on
// 127.0.0.1 (and a SOCKS5 proxy for an .onion relay), writing to a real database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSecretKey } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { createNetworkActivities } from '../../activities/network.js';
import { insertRelays } from '../../activities/db/store.js';
import { MONITOR_CHECKS, type MonitorSummary, type ProbeOutcome } from '../../common/index.js';
import type { Config } from '../../workers/config.js';
import { localRelayConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay, type RelayBehaviour } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { startSocks5 } from '../helpers/socks5-server.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion';
const relays: Partial<Record<RelayBehaviour | 'nip11', LocalRelay>> = {};
let t: TestDatabase;
let config: Config;

before(async () => {
  t = await freshDatabase();
  const base = localRelayConfig(t.url);
  config = {
    ...base,
    networks: { ...base.networks, tor: { ...base.networks.tor, timeout: 700 } },
    monitor: { ...base.monitor, private_key: bytesToHex(generateSecretKey()) },
  };
  for (const behaviour of ['good', 'auth', 'notice-only', 'silent', 'no-upgrade', 'closed', 'malformed'] as const) {
    relays[behaviour] = await startLocalRelay({ behaviour, events: [signed({ kind: 1, content: 'hello' })] });
  }
  relays.nip11 = await startLocalRelay({
    serverHeader: 'strfry/1.0',
    events: [signed({ kind: 1, content: 'hi' })],
    nip11: { name: 'Local relay', supported_nips: [1, 11, 42], limitation: { max_limit: 500, auth_required: 'no' } },
  });
});
after(async () => {
  await Promise.all(Object.values(relays).map((r) => r?.stop()));
  await t.drop();
});

const probe = (network: 'clearnet' | 'tor', url: string, cfg = config): Promise<ProbeOutcome> =>
  new MockActivityEnvironment().run(createNetworkActivities({ config: cfg, network, db: t.db }).probeRelay, { url, network });

describe('validator probe', () => {
  it('valid: EOSE after events, or a NIP-42 demand to authenticate', async () => {
    const good = await probe('clearnet', relays.good!.url);
    assert.equal(good.verdict, 'valid', good.reason);
    assert.match(good.reason, /^eose: answered a REQ with 1 event\(s\) and EOSE/);
    assert.ok((good.rttOpenMs ?? 0) > 0);
    const auth = await probe('clearnet', relays.auth!.url);
    assert.equal(auth.verdict, 'valid', auth.reason);
    assert.match(auth.reason, /^auth/);
  });

  const invalid: Array<[RelayBehaviour, RegExp]> = [
    ['notice-only', /^notice-only: /],
    ['silent', /^timeout: /],
    ['no-upgrade', /^handshake: .*200/],
    ['closed', /^closed: .*shutting down/],
    ['malformed', /^timeout: /],
  ];
  for (const [behaviour, reason] of invalid) {
    it(`invalid: a relay that is ${behaviour}`, async () => {
      const r = await probe('clearnet', relays[behaviour]!.url);
      assert.equal(r.verdict, 'invalid');
      assert.match(r.reason, reason);
    });
  }

  it('invalid: nothing listening', async () => {
    const r = await probe('clearnet', 'ws://127.0.0.1:1');
    assert.equal(r.verdict, 'invalid');
    assert.match(r.reason, /^refused: /);
  });

  it('an .onion relay is reached through the SOCKS5 proxy of the tor network', async () => {
    const proxy = await startSocks5({ resolve: (host) => (host === ONION ? { host: '127.0.0.1', port: relays.good!.port } : undefined) });
    try {
      const cfg = { ...config, networks: { ...config.networks, tor: { ...config.networks.tor, proxy: proxy.url } } };
      const r = await probe('tor', `ws://${ONION}`, cfg);
      assert.equal(r.verdict, 'valid', r.reason);
      assert.deepEqual(proxy.requested, [`${ONION}:80`], 'the proxy, not this machine, resolved the name');
    } finally {
      await proxy.stop();
    }
  });

  it('without a proxy for tor, an .onion relay is skipped with the reason, not failed', async () => {
    const r = await probe('tor', `ws://${ONION}`);
    assert.deepEqual(r, { url: `ws://${ONION}`, verdict: 'skipped', reason: 'no SOCKS5 proxy is configured for tor (networks.tor.proxy)' });
  });
});

describe('monitor health check', () => {
  it('NIP-11, RTT open/read/write and HTTP headers of a local relay, stored content-addressed', async () => {
    const url = relays.nip11!.url;
    await insertRelays(t.db, [{ url, network: 'clearnet', discoveredAt: 1 }], { allowLocal: true });
    const acts = createNetworkActivities({ config, network: 'clearnet', db: t.db });
    const s: MonitorSummary = await new MockActivityEnvironment().run(acts.checkRelay, {
      url, network: 'clearnet' as const, generatedAt: 1000, checks: [...MONITOR_CHECKS],
    });
    assert.deepEqual(s.ok.sort(), ['http', 'nip11', 'open', 'read', 'write']);
    assert.deepEqual(s.failed, {}, 'ssl, dns, geo and net do not apply to ws://127.0.0.1');
    assert.equal(s.stored, 3);
    const { rows } = await t.db.query(`SELECT metadata_type, payload FROM relay_metadata_latest WHERE relay_url = $1 ORDER BY metadata_type`, [url]);
    assert.deepEqual(rows.map((r) => r.metadata_type), ['nip11', 'nip66_http', 'nip66_rtt']);
    // the NIP-11 field of the wrong type was dropped, the rest kept
    assert.deepEqual(rows[0].payload, { name: 'Local relay', supported_nips: [1, 11, 42], limitation: { max_limit: 500 } });
    assert.deepEqual(rows[1].payload, { server: 'strfry/1.0', powered_by: 'strfry/1.0' });
    const rtt = rows[2].payload;
    assert.equal(rtt.read_answer, 'eose');
    assert.equal(rtt.write_accepted, true);
    for (const k of ['rtt_open', 'rtt_read', 'rtt_write']) assert.ok(typeof rtt[k] === 'number' && rtt[k] >= 0, k);
    // the write probe's event is on the relay now, signed by the monitor
    assert.ok(relays.nip11!.events.some((e) => e.kind === 30078));
    // and each check's outcome, in the relay_check time series
    const checks = await t.db.query(`SELECT check_name, outcome FROM relay_check WHERE relay_url = $1::text AND generated_at = 1000 ORDER BY check_name`, [url]);
    assert.deepEqual(checks.rows, ['http', 'nip11', 'open', 'read', 'write'].map((c) => ({ check_name: c, outcome: 'ok' })));
  });

  it('a dead relay: every check fails with its reason, and nothing is stored as if good', async () => {
    const url = 'ws://127.0.0.1:1';
    const acts = createNetworkActivities({ config, network: 'clearnet', db: t.db });
    const s: MonitorSummary = await new MockActivityEnvironment().run(acts.checkRelay, {
      url, network: 'clearnet' as const, generatedAt: 1000, checks: ['nip11' as const, 'open' as const, 'read' as const, 'http' as const],
    });
    assert.deepEqual(s.ok, []);
    assert.match(s.failed.nip11 ?? '', /^network: /);
    assert.match(s.failed.open ?? '', /^refused: /);
    assert.equal(s.stored, 0);
  });
});
