import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RELAY_URL_LENGTH, normaliseRelayUrl, parseRelayUrl } from '../../common/relay-url.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad'; // 56 base32 characters
const B32 = 'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq'; // 52 base32 characters

// [input, canonical URL, network]
const GOOD: Array<[string, string, string]> = [
  ['wss://relay.damus.io', 'wss://relay.damus.io', 'clearnet'],
  ['wss://relay.damus.io/', 'wss://relay.damus.io', 'clearnet'],
  ['  wss://relay.damus.io  ', 'wss://relay.damus.io', 'clearnet'],
  ['WSS://Relay.Damus.IO', 'wss://relay.damus.io', 'clearnet'],
  ['ws://relay.damus.io', 'wss://relay.damus.io', 'clearnet'],
  ['wss://relay.damus.io:443', 'wss://relay.damus.io', 'clearnet'],
  ['ws://relay.damus.io:443', 'wss://relay.damus.io', 'clearnet'],
  ['wss://relay.damus.io:4848', 'wss://relay.damus.io:4848', 'clearnet'],
  ['wss://relay.damus.io/?key=value', 'wss://relay.damus.io', 'clearnet'],
  ['wss://relay.damus.io#fragment', 'wss://relay.damus.io', 'clearnet'],
  ['wss://nostr.example.com/relay/', 'wss://nostr.example.com/relay', 'clearnet'],
  ['wss://nostr.example.com//relay///sub//', 'wss://nostr.example.com/relay/sub', 'clearnet'],
  ['wss://nostr.example.com/a/../relay', 'wss://nostr.example.com/relay', 'clearnet'],
  ['wss://nostr.example.com/Relay', 'wss://nostr.example.com/Relay', 'clearnet'],
  ['wss://relay.example.com.', 'wss://relay.example.com', 'clearnet'],
  ['wss://münchen.example', 'wss://xn--mnchen-3ya.example', 'clearnet'],
  ['wss://my_relay.example.com', 'wss://my_relay.example.com', 'clearnet'],
  ['wss://8.8.8.8', 'wss://8.8.8.8', 'clearnet'],
  ['wss://[2606:4700:4700::1111]:7777', 'wss://[2606:4700:4700::1111]:7777', 'clearnet'],
  [`ws://${ONION}.onion`, `ws://${ONION}.onion`, 'tor'],
  [`wss://${ONION}.onion`, `ws://${ONION}.onion`, 'tor'],
  [`wss://${ONION}.onion:443`, `ws://${ONION}.onion:443`, 'tor'],
  [`ws://${ONION.toUpperCase()}.ONION/nostr`, `ws://${ONION}.onion/nostr`, 'tor'],
  [`ws://${B32}.b32.i2p`, `ws://${B32}.b32.i2p`, 'i2p'],
  ['ws://relay.i2p', 'ws://relay.i2p', 'i2p'],
  [`ws://${B32}.loki`, `ws://${B32}.loki`, 'loki'],
];

// [input, reason code, a word the reason must name]
const BAD: Array<[unknown, string, string]> = [
  ['', 'empty', 'empty'],
  [42, 'not-string', 'number'],
  [null, 'not-string', 'null'],
  ['relay.damus.io', 'no-scheme', 'scheme'],
  ['https://relay.damus.io', 'bad-scheme', 'https'],
  ['javascript:alert(1)', 'bad-scheme', 'javascript'],
  ['wss:relay.damus.io', 'no-host', '//'],
  ['wss://', 'no-host', '//'],
  ['wss://relay.damus.io:0', 'bad-port', '0'],
  ['wss://relay.damus.io:70000', 'bad-port', '70000'],
  ['wss://relay damus.io', 'control-characters', 'whitespace'],
  ['wss://relay.damus.io/\u0000', 'control-characters', 'control'],
  [`wss://relay.damus.io/${'a'.repeat(10_000)}`, 'too-long', String(MAX_RELAY_URL_LENGTH)],
  ['wss://user:pass@relay.damus.io', 'credentials', 'credentials'],
  ['wss://localhost', 'local', 'localhost'],
  ['wss://127.0.0.1:7777', 'local', '127.0.0.1'],
  ['wss://10.1.2.3', 'local', '10.1.2.3'],
  ['wss://192.168.1.20', 'local', '192.168.1.20'],
  ['wss://100.64.1.1', 'local', '100.64.1.1'],
  ['wss://[::1]', 'local', '::1'],
  ['wss://[fd00::1]', 'local', 'fd00::1'],
  ['wss://2130706433', 'local', '127.0.0.1'], // 127.0.0.1 written as one number
  ['wss://relay', 'bad-host', 'top-level'],
  ['wss://relay.123', 'malformed', 'host'], // a numeric last label makes URL read an IPv4 address
  ['wss://-relay.example.com', 'bad-host', '-relay'],
  ['wss://re*lay.example.com', 'bad-host', 're*lay'],
  ['wss://100.127.36.484/8:4848', 'malformed', 'host'],
  ['ws://short.onion', 'bad-onion', 'onion'],
  [`ws://${ONION.slice(0, 55)}1.onion`, 'bad-onion', 'onion'],
  ['ws://abc.b32.i2p', 'bad-i2p', 'i2p'],
  ['ws://abc.loki', 'bad-loki', 'loki'],
  ['wss://relay.damus.io/wss://nos.lol', 'bad-path', 'another URL'],
  ['wss://relay.damus.io/a%20b', 'bad-path', 'a%20b'],
];

describe('relay URLs', () => {
  for (const [input, url, network] of GOOD) {
    it(`accepts ${JSON.stringify(input)} as ${url}`, () => {
      assert.deepEqual(parseRelayUrl(input), { ok: true, url, network, local: false });
    });
  }
  for (const [input, code, named] of BAD) {
    const label = typeof input === 'string' ? JSON.stringify(input.slice(0, 60)) : String(input);
    it(`rejects ${label}: ${code}`, () => {
      const r = parseRelayUrl(input);
      assert.equal(r.ok, false, `accepted as ${r.ok ? r.url : ''}`);
      if (r.ok) return;
      assert.equal(r.code, code, r.reason);
      assert.ok(r.reason.includes(named), `reason "${r.reason}" should name ${named}`);
    });
  }

  it('has at least 40 cases', () => assert.ok(GOOD.length + BAD.length >= 40));

  it('accepts local addresses when allowed, keeping the scheme a test relay was given', () => {
    assert.deepEqual(parseRelayUrl('ws://127.0.0.1:7777/', { allowLocal: true }), {
      ok: true, url: 'ws://127.0.0.1:7777', network: 'clearnet', local: true,
    });
    assert.deepEqual(parseRelayUrl('wss://localhost:8443', { allowLocal: true }), {
      ok: true, url: 'wss://localhost:8443', network: 'clearnet', local: true,
    });
  });

  it('is idempotent: a canonical URL normalises to itself', () => {
    for (const [, url] of GOOD) assert.equal(normaliseRelayUrl(url), url);
  });

  it('normaliseRelayUrl throws with the URL and the reason', () => {
    assert.throws(() => normaliseRelayUrl('http://x.com'), /invalid relay URL "http:\/\/x.com": unsupported scheme/);
  });
});
