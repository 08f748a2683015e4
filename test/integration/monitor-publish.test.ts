// Publishing: the monitor's events reach a relay this test starts, signed, with NIP-66's tags.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { storeMetadata } from '../../activities/db/metadata.js';
import { createMonitorActivities, type PublishResult } from '../../activities/monitor/monitor.js';
import { insertRelays } from '../../activities/db/store.js';
import type { Config } from '../../workers/config.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';

const sk = generateSecretKey();
let t: TestDatabase;
let target: LocalRelay;
let refusing: LocalRelay;
let config: Config;
before(async () => {
  [t, target, refusing] = await Promise.all([freshDatabase(), startLocalRelay(), startLocalRelay({ behaviour: 'silent' })]);
  const base = testConfig(t.url);
  config = {
    ...base,
    networks: { ...base.networks, clearnet: { ...base.networks.clearnet, timeout: 500 } },
    monitor: { ...base.monitor, private_key: bytesToHex(sk), publish_relays: [target.url, refusing.url] },
  };
});
after(async () => {
  await Promise.all([target.stop(), refusing.stop(), t.drop()]);
});

describe('monitor publishing', () => {
  it('announces the monitor: 10166 with frequency, timeouts and checks; kind 0; kind 10002', async () => {
    const acts = createMonitorActivities({ db: t.db, config });
    const r: PublishResult = await new MockActivityEnvironment().run(acts.publishAnnouncement);
    assert.equal(r.accepted, 3, 'three events accepted by the good relay');
    assert.equal(r.targets, 2);
    assert.match(r.errors.join('\n'), new RegExp(`${refusing.url}: .*(timeout|no OK|within)`), 'the silent relay is reported, and stops nothing');
    const byKind = new Map(target.events.map((e) => [e.kind, e]));
    for (const kind of [10166, 0, 10002]) {
      const ev = byKind.get(kind);
      assert.ok(ev && verifyEvent(ev), `kind ${kind} signed`);
      assert.equal(ev.pubkey, getPublicKey(sk));
    }
    const ann = byKind.get(10166)!;
    assert.deepEqual(ann.tags.find((x) => x[0] === 'frequency'), ['frequency', '3600']);
    assert.deepEqual(ann.tags.filter((x) => x[0] === 'c').map((x) => x[1]), config.monitor.checks);
    assert.deepEqual(ann.tags.find((x) => x[0] === 'timeout' && x[1] === 'open'), ['timeout', 'open', '500']);
    assert.deepEqual(byKind.get(10002)!.tags, [['r', target.url], ['r', refusing.url]]);
  });

  it('publishes a relay 30166 from the documents its check stored', async () => {
    const url = 'wss://checked.example';
    await insertRelays(t.db, [{ url, network: 'clearnet', discoveredAt: 1 }]);
    await storeMetadata(t.db, [
      { relayUrl: url, type: 'nip11', generatedAt: 500, payload: { name: 'Checked', supported_nips: [1, 11], limitation: { auth_required: true } } },
      { relayUrl: url, type: 'nip66_rtt', generatedAt: 500, payload: { rtt_open: 40, rtt_read: 55, read_answer: 'eose' } },
      { relayUrl: url, type: 'nip66_http', generatedAt: 500, payload: { server: 'nginx' } },
      { relayUrl: url, type: 'nip66_rtt', generatedAt: 400, payload: { rtt_open: 999 } }, // an older check: not this one
    ]);
    const acts = createMonitorActivities({ db: t.db, config });
    const r: PublishResult = await new MockActivityEnvironment().run(acts.publishDiscovery, { url, network: 'clearnet' as const, generatedAt: 500 });
    assert.equal(r.accepted, 1);
    const ev = target.events.find((e) => e.kind === 30166);
    assert.ok(ev && verifyEvent(ev));
    const tags = (name: string) => ev.tags.filter((x) => x[0] === name).map((x) => x.slice(1));
    assert.deepEqual(tags('d'), [[url]]);
    assert.deepEqual(tags('rtt-open'), [['40']]);
    assert.deepEqual(tags('rtt-read'), [['55']]);
    assert.deepEqual(tags('N'), [['1'], ['11']]);
    assert.deepEqual(tags('R'), [['auth'], ['!payment'], ['!writes'], ['!pow']]);
    assert.deepEqual(tags('http-server'), [['nginx']]);
    assert.deepEqual(JSON.parse(ev.content).name, 'Checked');
  });

  it('with no key or no target relays, nothing is published and it says why', async () => {
    const acts = createMonitorActivities({ db: t.db, config: { ...config, monitor: { ...config.monitor, private_key: '' } } });
    const r: PublishResult = await new MockActivityEnvironment().run(acts.publishAnnouncement);
    assert.deepEqual(r, { accepted: 0, targets: 0, errors: ['publishing is off (monitor.private_key, monitor.publish_relays)'] });
  });
});
