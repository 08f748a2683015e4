// The address guard's judgement of IP addresses and its lookup hook, with an injected resolver.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, it } from 'node:test';
import { BlockedAddressError, blockedAddress, guardConnection, guardedLookup, guardRedirect, isLocalHost } from '../../activities/relay/address-guard.js';

const BLOCKED = [
  '127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.1.1', '100.64.0.1',
  '100.127.255.254', '224.0.0.1', '239.255.255.250', '0.0.0.0', '255.255.255.255',
  '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', '[::1]',
  '::ffff:10.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:C0A8:0101',
];
const PUBLIC = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.253.0.1', '2606:4700:4700::1111', '2a01:4f8::1', '::ffff:8.8.8.8'];

/** A resolver answering from a table, as dns.lookup does (one address, or all with `all`). */
function tableLookup(table: Record<string, LookupAddress[]>, asked: string[] = []): LookupFunction {
  return (hostname, options, callback) => {
    asked.push(hostname);
    const list = table[hostname];
    if (!list) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    if (options.all) callback(null, list);
    else callback(null, list[0]!.address, list[0]!.family);
  };
}

function lookupOnce(lookup: LookupFunction, host: string, all: boolean): Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }> {
  return new Promise((resolve) => lookup(host, { all }, (err, address, family) => resolve({ err, address, family })));
}

describe('address guard: addresses', () => {
  it('refuses loopback, private, link-local, CGNAT, multicast, unspecified, broadcast and IPv4-mapped ones', () => {
    for (const ip of BLOCKED) assert.equal(blockedAddress(ip), 'a local, private or special-purpose address', ip);
  });

  it('names the cloud metadata address, in IPv4, IPv6 and IPv4-mapped form', () => {
    for (const ip of ['169.254.169.254', 'fd00:ec2::254', 'FD00:EC2:0::254', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe']) {
      assert.equal(blockedAddress(ip), 'the cloud metadata address', ip);
    }
  });

  it('lets public addresses through, and leaves names to the lookup', () => {
    for (const ip of PUBLIC) assert.equal(blockedAddress(ip), undefined, ip);
    for (const name of ['relay.example', 'localhost', 'not an address']) assert.equal(blockedAddress(name), undefined, name);
  });

  it('tells a host that is local by itself (a local IP, localhost) from one that is not', () => {
    for (const host of ['127.0.0.1', '[::1]', 'localhost', 'relay.localhost', '10.1.2.3']) assert.equal(isLocalHost(host), true, host);
    for (const host of ['relay.example', '8.8.8.8', '[2a01:4f8::1]', 'intranet']) assert.equal(isLocalHost(host), false, host);
  });
});

describe('address guard: connections', () => {
  it('refuses a blocked IP literal before any lookup, and needs no lookup for a public one', () => {
    const guard = { allowLocal: false };
    for (const url of ['ws://10.0.0.1/', 'http://169.254.169.254/latest/meta-data', 'wss://[::1]:7777', 'http://[::ffff:127.0.0.1]:80/', 'http://0x7f000001/']) {
      const r = guardConnection(new URL(url), guard, false);
      assert.ok(r.error instanceof BlockedAddressError, url);
      assert.equal(r.error.code, 'EBLOCKEDADDRESS');
    }
    assert.deepEqual(guardConnection(new URL('wss://8.8.8.8/'), guard, false), {});
  });

  it('hooks the lookup of a name unless a proxy resolves it, allowLocal is set, or the origin is trusted', () => {
    const url = new URL('http://127.0.0.1:8080/x');
    assert.equal(typeof (guardConnection(new URL('wss://relay.example/'), { allowLocal: false }, false) as { lookup?: unknown }).lookup, 'function');
    assert.deepEqual(guardConnection(new URL('ws://relay.onion/'), { allowLocal: false }, true), {});
    assert.deepEqual(guardConnection(url, { allowLocal: true }, false), {});
    assert.deepEqual(guardConnection(url, undefined, false), {});
    assert.deepEqual(guardConnection(url, { allowLocal: false, trustedOrigin: 'http://127.0.0.1:8080' }, false), {});
    assert.ok(guardConnection(url, { allowLocal: false, trustedOrigin: 'http://127.0.0.1:8081' }, false).error);
  });
});

describe('address guard: through a SOCKS5 proxy', () => {
  const guard = { allowLocal: false };
  const onion = `${'a'.repeat(56)}.onion`;
  const i2p = `${'b'.repeat(52)}.b32.i2p`;
  const loki = `${'c'.repeat(52)}.loki`;

  it('refuses a localhost name before asking the proxy, which would resolve it to itself', () => {
    for (const url of ['http://localhost:8080/', 'ws://relay.localhost/', 'http://localhost.localdomain/']) {
      const r = guardConnection(new URL(url), guard, true);
      assert.ok(r.error instanceof BlockedAddressError, url);
      assert.match(r.error.message, / is a local name$/);
    }
    assert.deepEqual(guardConnection(new URL(`ws://${onion}/`), guard, true), {});
    assert.deepEqual(guardConnection(new URL('http://localhost:8080/'), { allowLocal: true }, true), {});
  });

  it('a redirect from an overlay network may not leave it', () => {
    const refused: Array<[string, string]> = [
      [`http://${onion}/`, 'http://internal.example/'],
      [`http://${onion}/`, 'http://localhost:8080/'],
      [`http://${onion}/`, `http://${i2p}/`],
      [`http://${onion}/`, 'http://bad.onion/'],
      [`http://${i2p}/`, `http://${onion}/`],
      [`http://${loki}/`, 'https://8.8.8.8/'],
    ];
    for (const [from, to] of refused) {
      const err = guardRedirect(new URL(from), new URL(to), guard);
      assert.ok(err instanceof BlockedAddressError, `${from} -> ${to}`);
      assert.equal(err.message, `${new URL(to).hostname} is off the ${from.includes('.onion') ? 'tor' : from.includes('.i2p') ? 'i2p' : 'loki'} network the request began on`);
    }
  });

  it('lets a hop on the same overlay network through, and leaves clearnet redirects to the address checks', () => {
    const allowed: Array<[string, string]> = [
      [`http://${onion}/`, `https://${'d'.repeat(56)}.onion/x`],
      [`http://${i2p}/`, 'http://forum.i2p/'],
      [`http://${loki}/`, `http://${'e'.repeat(52)}.loki/`],
      ['https://relay.example/', 'https://other.example/'],
    ];
    for (const [from, to] of allowed) assert.equal(guardRedirect(new URL(from), new URL(to), guard), undefined, `${from} -> ${to}`);
    assert.equal(guardRedirect(new URL(`http://${onion}/`), new URL('http://internal.example/'), { allowLocal: true }), undefined);
    assert.equal(guardRedirect(new URL(`http://${onion}/`), new URL('http://internal.example/'), undefined), undefined);
  });
});

describe('address guard: lookup', () => {
  const table: Record<string, LookupAddress[]> = {
    'inside.example': [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }],
    'meta.example': [{ address: '169.254.169.254', family: 4 }],
    'mixed.example': [{ address: '10.0.0.7', family: 4 }, { address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::', family: 6 }],
    'public.example': [{ address: '93.184.216.34', family: 4 }],
  };
  const lookup = guardedLookup(tableLookup(table));

  it('refuses a name whose every address is blocked, with the address it resolved to', async () => {
    for (const all of [false, true]) {
      const { err } = await lookupOnce(lookup, 'inside.example', all);
      assert.ok(err instanceof BlockedAddressError);
      assert.equal(err.address, '127.0.0.1');
      assert.match(err.message, /^inside\.example resolves to 127\.0\.0\.1, a local, private or special-purpose address$/);
    }
    const { err } = await lookupOnce(lookup, 'meta.example', false);
    assert.match(String(err?.message), /169\.254\.169\.254, the cloud metadata address/);
  });

  it('hands on only the public addresses of a name that has both', async () => {
    assert.deepEqual(await lookupOnce(lookup, 'mixed.example', false), { err: null, address: '93.184.216.34', family: 4 });
    const all = await lookupOnce(lookup, 'mixed.example', true);
    assert.deepEqual(all.address, [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::', family: 6 }]);
    assert.deepEqual(await lookupOnce(lookup, 'public.example', false), { err: null, address: '93.184.216.34', family: 4 });
  });

  it('passes resolver errors on untouched', async () => {
    const { err } = await lookupOnce(lookup, 'nowhere.example', false);
    assert.equal(err?.code, 'ENOTFOUND');
  });
});
