// IPv6 ranges that tunnel to, embed or stand for IPv4 addresses, and other special-purpose ranges:
// refused by the address guard (blockedAddress) and, as IP literals, in relay URLs (code 'local').
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockedAddress, guardedLookup } from '../../activities/relay/address-guard.js';
import { embeddedIpv4, parseRelayUrl } from '../../common/relay-url.js';

const LOCAL = 'a local, private or special-purpose address';

/** Range -> addresses in it: each is refused by the guard and, in brackets, as a relay URL's host. */
const REFUSED: Record<string, string[]> = {
  'local-use NAT64 64:ff9b:1::/48 (RFC 8215)': ['64:ff9b:1::a00:1', '64:ff9b:1::808:808', '64:ff9b:1:ffff:ffff::1'],
  '6to4 2002::/16, whatever IPv4 it embeds': ['2002:a00:1::', '2002:7f00:1::1', '2002:808:808::1', '2002:ffff:ffff::'],
  'IPv4-compatible ::/96': ['::a00:1', '::10.0.0.1', '::808:808', '::0.0.0.2'],
  'site-local fec0::/10': ['fec0::1', 'fed0:1::1', 'feff:ffff::1'],
  'IPv4-translated ::ffff:0:0:0/96': ['::ffff:0:a00:1', '::ffff:0:10.0.0.1', '::ffff:0:808:808'],
  'Teredo 2001::/32': ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::1'],
  'documentation 3fff::/20 (RFC 9637)': ['3fff::1', '3fff:fff:ffff::1'],
  'SRv6 SIDs 5f00::/16 (RFC 9602)': ['5f00::1', '5f00:ffff::1'],
};

describe('special IPv6 ranges', () => {
  for (const [range, addresses] of Object.entries(REFUSED)) {
    it(`${range}: refused by the guard and in a relay URL`, () => {
      for (const ip of addresses) {
        assert.equal(blockedAddress(ip), LOCAL, ip);
        const r = parseRelayUrl(`ws://[${ip}]/`);
        assert.equal(r.ok, false, ip);
        assert.equal(!r.ok && r.code, 'local', ip);
      }
    });
  }

  it('NAT64 64:ff9b::/96 is judged by its embedded IPv4 address in the guard (DNS64 answers with it)', () => {
    for (const ip of ['64:ff9b::10.0.0.1', '64:ff9b::7f00:1', '64:ff9b::c0a8:101', '64:ff9b::', '64:ff9b::1']) {
      assert.equal(blockedAddress(ip), LOCAL, ip);
    }
    assert.equal(blockedAddress('64:ff9b::169.254.169.254'), 'the cloud metadata address');
    for (const ip of ['64:ff9b::808:808', '64:ff9b::8.8.8.8', '64:FF9B:0:0:0:0:5DB8:D822']) assert.equal(blockedAddress(ip), undefined, ip);
  });

  it('a relay URL naming an IPv4 address through NAT64 or IPv4-mapped IPv6 is refused whatever the address', () => {
    for (const ip of ['64:ff9b::a00:1', '64:ff9b::7f00:1', '64:ff9b::808:808', '::ffff:808:808']) {
      const r = parseRelayUrl(`wss://[${ip}]:7777/`);
      assert.equal(!r.ok && r.code, 'local', ip);
    }
  });

  it('a DNS64 answer for an IPv4-only name is connected to unless it embeds a local address', async () => {
    const lookup = guardedLookup((hostname, _options, callback) =>
      callback(null, [{ address: hostname === 'v4only.example' ? '64:ff9b::5db8:d822' : '64:ff9b::a00:7', family: 6 }]));
    const ask = (host: string) => new Promise<unknown>((resolve) => lookup(host, { all: true }, (err, address) => resolve(err ?? address)));
    assert.deepEqual(await ask('v4only.example'), [{ address: '64:ff9b::5db8:d822', family: 6 }]);
    assert.match(String(await ask('inside.example')), /inside\.example resolves to 64:ff9b::a00:7, a local/);
  });

  it('public addresses next to these ranges are let through', () => {
    for (const ip of ['2001:4860:4860::8888', '2003:de::1', '2001:1::1', '3fff:1000::1', '5f01::1', '64:ff9b:2::1', '2a00:1450::1']) {
      assert.equal(blockedAddress(ip), undefined, ip);
      const r = parseRelayUrl(`wss://[${ip}]`);
      assert.equal(r.ok && r.network, 'clearnet', ip);
    }
  });

  it('embeddedIpv4 reads the IPv4 address of IPv4-mapped and NAT64 addresses only', () => {
    assert.equal(embeddedIpv4('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(embeddedIpv4('64:ff9b::10.0.0.1'), '10.0.0.1');
    assert.equal(embeddedIpv4('64:FF9B::A9FE:A9FE'), '169.254.169.254');
    for (const ip of ['2002:a00:1::', '::a00:1', '::ffff:0:a00:1', '64:ff9b:1::a00:1', 'not an address']) assert.equal(embeddedIpv4(ip), undefined, ip);
  });
});
