import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey, verifyEvent } from 'nostr-tools/pure';
import { announcementEvent, discoveryEvent, profileEvent, relayListEvent, type RelayObservation } from '../../activities/monitor/discovery-event.js';

const FULL: RelayObservation = {
  url: 'wss://relay.example.com',
  network: 'clearnet',
  nip11: {
    name: 'Example', supported_nips: [1, 11, 50], tags: ['nsfw', 'bitcoin'], language_tags: ['en'],
    limitation: { auth_required: false, payment_required: true, restricted_writes: false, min_pow_difficulty: 0 },
    retention: [{ kinds: [4, 1059], time: 0 }, { time: 3600 }],
  },
  rtt: { rtt_open: 120.4, rtt_read: 80, rtt_write: 95, read_answer: 'auth', write_accepted: false, write_message: 'auth-required: sign in' },
  ssl: { verified: true, validTo: 1_800_000_000, issuer: "Let's Encrypt" },
  dns: { a: ['93.184.216.34'], aaaa: ['2606:2800:220:1::1'], ttl: 300 },
  geo: { country: 'US', city: 'Los Angeles', tz: 'America/Los_Angeles', geohash: '9q5ctr186' },
  net: { ip: '93.184.216.34', asn: 15133, asOrg: 'Edgecast' },
  http: { server: 'nginx', powered_by: 'strfry' },
};

// The tags NIP-66 lists, and the result tags the original BigBrotr publishes.
const NIP66_TAGS = new Set(['d', 'rtt-open', 'rtt-read', 'rtt-write', 'n', 'T', 'N', 'R', 't', 'k', 'g', 'l']);
const RESULT_TAGS = new Set(['ssl', 'ssl-expires', 'ssl-issuer', 'net-ip', 'net-asn', 'net-asn-org', 'geo-country', 'geo-city', 'dns-ip', 'dns-ttl', 'http-server', 'http-powered-by']);

describe('NIP-66 events', () => {
  it('a 30166 relay discovery event carries every measurement as NIP-66 tags, signs and verifies', () => {
    const ev = finalizeEvent(discoveryEvent(FULL, 1_700_000_000), generateSecretKey());
    assert.ok(verifyEvent(ev));
    assert.equal(ev.kind, 30166);
    assert.deepEqual(JSON.parse(ev.content), FULL.nip11);
    const tag = (name: string) => ev.tags.filter((t) => t[0] === name).map((t) => t.slice(1));
    assert.deepEqual(ev.tags[0], ['d', 'wss://relay.example.com']);
    assert.deepEqual(tag('n'), [['clearnet']]);
    assert.deepEqual(tag('rtt-open'), [['120']]);
    assert.deepEqual(tag('rtt-read'), [['80']]);
    assert.deepEqual(tag('rtt-write'), [['95']]);
    assert.deepEqual(tag('N'), [['1'], ['11'], ['50']], 'repeated, one value a tag');
    // the read probe was asked to authenticate: auth, though the document says it is not required
    assert.deepEqual(tag('R'), [['auth'], ['payment'], ['!writes'], ['!pow']]);
    assert.deepEqual(tag('T'), [['Search'], ['Paid'], ['PublicInbox']]);
    assert.deepEqual(tag('t'), [['nsfw'], ['bitcoin']]);
    assert.deepEqual(tag('k'), [['!4'], ['!1059']]);
    assert.deepEqual(tag('g'), [['9q5ctr186']]);
    assert.deepEqual(tag('l'), [['en', 'ISO-639-1'], ['15133', 'IANA-asn'], ['Edgecast', 'IANA-asnOrg'], ['US', 'ISO-3166-1'], ['Los Angeles', 'nip66.label.city'], ['America/Los_Angeles', 'IANA-tz']]);
    assert.deepEqual(tag('dns-ip'), [['93.184.216.34'], ['2606:2800:220:1::1']]);
    assert.deepEqual(tag('ssl'), [['valid']]);
    assert.deepEqual(tag('ssl-expires'), [['1800000000']]);
    assert.deepEqual(tag('http-server'), [['nginx']]);
    for (const t of ev.tags) assert.ok(NIP66_TAGS.has(t[0] ?? '') || RESULT_TAGS.has(t[0] ?? ''), `unexpected tag ${t[0]}`);
    for (const t of ev.tags) assert.ok(t.every((v) => typeof v === 'string' && v !== ''), `tag values are non-empty strings: ${JSON.stringify(t)}`);
  });

  it('a relay measured with nothing but its URL still gives a valid event (d and n)', () => {
    const ev = finalizeEvent(discoveryEvent({ url: 'ws://x.onion', network: 'tor' }, 1), generateSecretKey());
    assert.ok(verifyEvent(ev));
    assert.deepEqual(ev.tags.slice(0, 2), [['d', 'ws://x.onion'], ['n', 'tor']]);
    assert.equal(ev.content, '');
  });

  it('a relay whose open succeeded and read failed publishes its rtt-open, no rtt-read, and no invented uptime tag', () => {
    // what checkRelay stores when the socket breaks during the read (a frame over the size cap)
    const ev = discoveryEvent({ url: 'wss://r.example/', network: 'clearnet', rtt: { rtt_open: 42 } }, 1);
    const names = ev.tags.map((t) => t[0]);
    assert.deepEqual(ev.tags.filter((t) => t[0] === 'rtt-open'), [['rtt-open', '42']]);
    assert.ok(!names.includes('rtt-read') && !names.includes('rtt-write'));
    // NIP-66 has no tag for uptime or failures: those stay in relay_check / relay_uptime
    for (const n of names) assert.ok(NIP66_TAGS.has(n ?? '') || RESULT_TAGS.has(n ?? ''), `unexpected tag ${n}`);
  });

  it('a 10166 announcement: frequency, a timeout per check, the checks, the geohash', () => {
    const ev = finalizeEvent(
      announcementEvent({ frequencySec: 3600, checks: ['open', 'read', 'nip11', 'ssl'], timeouts: { open: 10000, nip11: 10000 }, geohash: 'u4pruydqq' }, 1),
      generateSecretKey(),
    );
    assert.ok(verifyEvent(ev));
    assert.equal(ev.kind, 10166);
    assert.deepEqual(ev.tags, [['frequency', '3600'], ['timeout', 'open', '10000'], ['timeout', 'nip11', '10000'], ['c', 'open'], ['c', 'read'], ['c', 'nip11'], ['c', 'ssl'], ['g', 'u4pruydqq']]);
  });

  it('the monitor profile (kind 0) and relay list (kind 10002)', () => {
    const sk = generateSecretKey();
    const p = finalizeEvent(profileEvent({ name: 'BigBrotr monitor', about: 'NIP-66' }, 1), sk);
    assert.deepEqual(JSON.parse(p.content), { name: 'BigBrotr monitor', about: 'NIP-66' });
    const r = finalizeEvent(relayListEvent(['wss://a.example', 'wss://b.example'], 1), sk);
    assert.deepEqual(r.tags, [['r', 'wss://a.example'], ['r', 'wss://b.example']]);
    assert.ok(verifyEvent(p) && verifyEvent(r));
  });
});
