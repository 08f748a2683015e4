// NIP-11 validation: a table of documents, from a complete valid one to every kind of wrong field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NIP11_LIMITS, nip11HttpUrl, validateNip11, type Nip11Document } from '../../activities/relay/nip11.js';

const PK = 'a'.repeat(64);
const SELF = '0123456789abcdef'.repeat(4);

/** Every field the validation knows, each with a good value. */
const FULL: Nip11Document = {
  name: 'JellyFish',
  description: 'Stay Immortal!\n\nA relay.',
  banner: 'https://image.example/banner.jpg',
  icon: 'https://image.example/icon.png',
  pubkey: PK,
  self: SELF,
  contact: 'mailto:admin@relay.example',
  supported_nips: [1, 9, 11, 13, 17, 40, 42, 59, 62, 70],
  software: 'https://github.com/dezh-tech/immortal',
  version: 'immortal - 0.0.9',
  terms_of_service: 'https://relay.example/terms',
  privacy_policy: 'https://relay.example/privacy',
  limitation: {
    max_message_length: 16384,
    max_subscriptions: 300,
    max_filters: 100,
    max_limit: 5000,
    max_subid_length: 100,
    max_event_tags: 100,
    max_content_length: 8196,
    min_pow_difficulty: 30,
    auth_required: true,
    payment_required: true,
    restricted_writes: true,
    created_at_lower_limit: 31536000,
    created_at_upper_limit: 3,
    default_limit: 500,
  },
  retention: [
    { kinds: [0, 1, [5, 7], [40, 49]], time: 3600 },
    { kinds: [[40000, 49999]], time: 100 },
    { kinds: [[30000, 39999]], count: 1000 },
    { time: 3600, count: 10000 },
    { kinds: [4], time: null },
  ],
  relay_countries: ['CA', 'US', 'EU', '*'],
  language_tags: ['en', 'en-419', 'zh-Hant-TW', '*'],
  tags: ['sfw-only', 'bitcoin-only', 'anime'],
  posting_policy: 'https://relay.example/posting-policy.html',
  payments_url: 'http://relay.example/payments',
  fees: {
    admission: [{ amount: 1000000, unit: 'msats' }],
    subscription: [{ amount: 5000000, unit: 'msats', period: 2592000 }],
    publication: [{ kinds: [4], amount: 100, unit: 'msats' }],
  },
};

function ok(raw: unknown) {
  const r = validateNip11(raw);
  if ('error' in r) throw new Error(`unexpected error: ${r.error}`);
  return r;
}

describe('a valid document', () => {
  it('keeps every field, as it was', () => {
    const r = ok(structuredClone(FULL));
    assert.deepEqual(r.document, FULL);
    assert.deepEqual(r.dropped, []);
  });

  it('keeps empty arrays and drops unknown fields silently', () => {
    const r = ok({ name: 'x', tags: [], retention: [], supported_nips: [], attributes: ['Free'], max_filters: 3, extra: { a: 1 } });
    assert.deepEqual(r.document, { name: 'x', tags: [], retention: [], supported_nips: [] });
    assert.deepEqual(r.dropped, []);
  });

  it('accepts an empty object', () => {
    assert.deepEqual(ok({}), { document: {}, dropped: [] });
  });

  it('survives a __proto__ key without touching prototypes', () => {
    const r = ok(JSON.parse('{"__proto__": {"polluted": true}, "name": "p"}'));
    assert.deepEqual(r.document, { name: 'p' });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

/** [field or path, bad value, expected words in the reason] */
const WRONG_TOP_LEVEL: Array<[keyof Nip11Document, unknown, string]> = [
  ['name', 42, 'expected a string, got 42'],
  ['name', null, 'expected a string, got null'],
  ['description', ['a'], 'expected a string, got an array of 1 item'],
  ['banner', 'ftp://files.example/banner.png', 'expected an http(s) URL'],
  ['banner', 'not a url', 'expected an http(s) URL'],
  ['icon', { url: 'https://x.example' }, 'expected an http(s) URL of at most 2048 characters, got an object'],
  ['icon', `https://x.example/${'i'.repeat(3000)}`, 'expected an http(s) URL'],
  ['pubkey', PK.toUpperCase(), 'expected 64 lower-case hex characters'],
  ['pubkey', 'npub1xyz', 'expected 64 lower-case hex characters, got "npub1xyz"'],
  ['pubkey', 'a'.repeat(63), 'expected 64 lower-case hex characters'],
  ['self', 'g'.repeat(64), 'expected 64 lower-case hex characters'],
  ['contact', 7, 'expected a string, got 7'],
  ['supported_nips', '1,2,11', 'expected an array of integers, got "1,2,11"'],
  ['supported_nips', { 1: true }, 'expected an array of integers, got an object'],
  ['software', true, 'expected a string, got true'],
  ['version', 1.2, 'expected a string, got 1.2'],
  ['terms_of_service', 'javascript:alert(1)', 'expected an http(s) URL'],
  ['privacy_policy', 'relay.example/privacy', 'expected an http(s) URL'],
  ['posting_policy', 'mailto:x@y.example', 'expected an http(s) URL'],
  ['payments_url', 'lightning:lnurl1abc', 'expected an http(s) URL'],
  ['limitation', [1, 2], 'expected an object, got an array of 2 items'],
  ['limitation', 'none', 'expected an object, got "none"'],
  ['retention', { time: 1 }, 'expected an array of objects, got an object'],
  ['relay_countries', 'US', 'expected an array of country codes, got "US"'],
  ['language_tags', 'en', 'expected an array of language tags, got "en"'],
  ['tags', 'sfw-only', 'expected an array of strings, got "sfw-only"'],
  ['fees', [{ amount: 1 }], 'expected an object, got an array of 1 item'],
];

describe('wrong top-level fields', () => {
  for (const [field, value, expected] of WRONG_TOP_LEVEL) {
    it(`${field} = ${JSON.stringify(value)?.slice(0, 40)}: dropped, the rest kept`, () => {
      const r = ok({ ...structuredClone(FULL), [field]: value });
      const { [field]: _gone, ...rest } = FULL;
      assert.deepEqual(r.document, rest);
      assert.equal(r.dropped.length, 1, JSON.stringify(r.dropped));
      assert.equal(r.dropped[0]?.field, field);
      assert.ok(r.dropped[0]?.reason.startsWith(`${field}: `), r.dropped[0]?.reason);
      assert.ok(r.dropped[0]?.reason.includes(expected), `${r.dropped[0]?.reason} should include ${expected}`);
    });
  }
});

describe('arrays, element by element', () => {
  it('keeps the good elements of supported_nips and names the bad ones', () => {
    const r = ok({ supported_nips: [1, '2', 11, 1.5, -3, true, null, 1e400, 42] });
    assert.deepEqual(r.document.supported_nips, [1, 11, 42]);
    assert.deepEqual(r.dropped.map((d) => d.field), ['supported_nips[1]', 'supported_nips[3]', 'supported_nips[4]', 'supported_nips[5]', 'supported_nips[6]', 'supported_nips']);
    assert.equal(r.dropped[0]?.reason, 'supported_nips[1]: expected a non-negative integer, got "2"');
    assert.equal(r.dropped.at(-1)?.reason, 'supported_nips: 1 more invalid items dropped'); // the 6th bad one, Infinity
  });

  it('drops the whole array when no element is good', () => {
    const r = ok({ supported_nips: ['1', '11'] });
    assert.equal(r.document.supported_nips, undefined);
    assert.deepEqual(r.dropped.map((d) => d.reason), [
      'supported_nips[0]: expected a non-negative integer, got "1"',
      'supported_nips[1]: expected a non-negative integer, got "11"',
      'supported_nips: no valid item among 2',
    ]);
  });

  it('caps array length', () => {
    const nips = Array.from({ length: 10_000 }, (_, i) => i);
    const r = ok({ supported_nips: nips });
    assert.equal(r.document.supported_nips?.length, NIP11_LIMITS.items);
    assert.deepEqual(r.dropped, [{ field: 'supported_nips', reason: `supported_nips: truncated to ${NIP11_LIMITS.items} items (had 10000)` }]);
  });

  it('checks the shape of countries, language tags and tags', () => {
    const r = ok({
      relay_countries: ['US', 'usa', 'de', 'Germany', 3],
      language_tags: ['en', 'en-US', 'english language', '', 'x'.repeat(10)],
      tags: ['anime', '', '   ', 5, 'y'.repeat(500)],
    });
    assert.deepEqual(r.document.relay_countries, ['US', 'de']);
    assert.deepEqual(r.document.language_tags, ['en', 'en-US']);
    assert.deepEqual(r.document.tags, ['anime', 'y'.repeat(NIP11_LIMITS.tag)]);
    assert.deepEqual(r.dropped.map((d) => d.field), [
      'relay_countries[1]', 'relay_countries[3]', 'relay_countries[4]',
      'language_tags[2]', 'language_tags[3]', 'language_tags[4]',
      'tags[1]', 'tags[2]', 'tags[3]', 'tags[4]',
    ]);
    assert.equal(r.dropped.at(-1)?.reason, `tags[4]: truncated to ${NIP11_LIMITS.tag} characters (had 500)`);
  });

  it('bounds the list of dropped entries', () => {
    const r = ok({ retention: Array.from({ length: 200 }, () => ({ kinds: ['a', 'b'], time: 'x' })) });
    assert.equal(r.dropped.length, NIP11_LIMITS.dropped + 1);
    assert.match(r.dropped.at(-1)?.reason ?? '', /^\d+ more dropped fields or items not listed$/);
  });
});

describe('limitation, field by field', () => {
  const cases: Array<[string, unknown, string]> = [
    ['max_message_length', '16384', 'expected an integer, got "16384"'],
    ['max_subscriptions', 20.5, 'expected an integer, got 20.5'],
    ['max_filters', null, 'expected an integer, got null'],
    ['max_limit', 1e400, 'expected an integer, got Infinity'],
    ['max_subid_length', 2 ** 60, 'expected an integer'],
    ['max_event_tags', [100], 'expected an integer, got an array of 1 item'],
    ['max_content_length', {}, 'expected an integer, got an object'],
    ['min_pow_difficulty', false, 'expected an integer, got false'],
    ['auth_required', 'false', 'expected true or false, got "false"'],
    ['payment_required', 1, 'expected true or false, got 1'],
    ['restricted_writes', null, 'expected true or false, got null'],
    ['created_at_lower_limit', '1y', 'expected an integer, got "1y"'],
    ['created_at_upper_limit', 3.3, 'expected an integer, got 3.3'],
    ['default_limit', 'all', 'expected an integer, got "all"'],
  ];
  for (const [key, value, expected] of cases) {
    it(`limitation.${key} = ${JSON.stringify(value)}: only that one dropped`, () => {
      const r = ok({ limitation: { ...FULL.limitation, [key]: value } });
      const { [key as keyof typeof FULL.limitation]: _gone, ...rest } = FULL.limitation!;
      assert.deepEqual(r.document.limitation, rest);
      assert.equal(r.dropped.length, 1, JSON.stringify(r.dropped));
      assert.equal(r.dropped[0]?.field, `limitation.${key}`);
      assert.ok(r.dropped[0]?.reason.startsWith(`limitation.${key}: ${expected}`), r.dropped[0]?.reason);
    });
  }

  it('keeps negative integers as published, drops unknown keys silently, leaves out an empty result', () => {
    assert.deepEqual(ok({ limitation: { max_limit: -1, oddity: 'x' } }), { document: { limitation: { max_limit: -1 } }, dropped: [] });
    const r = ok({ limitation: { max_limit: 'lots' } });
    assert.equal(r.document.limitation, undefined);
    assert.equal(r.dropped.length, 1);
  });
});

describe('retention and fees, entry by entry', () => {
  it('retention: checks kinds, ranges, time and count', () => {
    const r = ok({
      retention: [
        { kinds: [1, [5, 7], [7, 5], [1, 2, 3], 70000, -1, 'x'], time: 60 },
        { time: -5, count: 10 },
        { time: 'forever' },
        'all',
        {},
      ],
    });
    assert.deepEqual(r.document.retention, [{ kinds: [1, [5, 7]], time: 60 }, { count: 10 }, {}]);
    assert.deepEqual(r.dropped.map((d) => d.field), [
      'retention[0].kinds[2]', 'retention[0].kinds[3]', 'retention[0].kinds[4]', 'retention[0].kinds[5]', 'retention[0].kinds[6]',
      'retention[1].time', 'retention[2].time', 'retention[2]', 'retention[3]',
    ]);
    assert.equal(r.dropped[0]?.reason, 'retention[0].kinds[2]: expected a kind (0 to 65535) or a [start, end] range of kinds, got an array of 2 items');
    assert.equal(r.dropped[5]?.reason, 'retention[1].time: expected a non-negative integer or null, got -5');
  });

  it('fees: entries need an amount; unit, period and kinds checked', () => {
    const r = ok({
      fees: {
        admission: [{ amount: 21, unit: 'sats' }, { unit: 'msats' }, { amount: '1000', unit: 'msats' }],
        subscription: { amount: 1 },
        publication: [{ amount: 0.5, unit: 'usd', kinds: [1, 'x'], period: -1 }],
        donation: [{ amount: 1 }],
      },
    });
    assert.deepEqual(r.document.fees, {
      admission: [{ amount: 21, unit: 'sats' }],
      publication: [{ amount: 0.5, unit: 'usd', kinds: [1] }],
    });
    assert.deepEqual(r.dropped.map((d) => d.reason), [
      'fees.admission[1]: expected an object with an amount, got an object',
      'fees.admission[2].amount: expected a finite non-negative number, got "1000"',
      'fees.admission[2]: expected an object with an amount, got an object',
      'fees.subscription: expected an array of fee objects, got an object',
      'fees.publication[0].period: expected a non-negative integer, got -1',
      'fees.publication[0].kinds[1]: expected a kind (an integer from 0 to 65535), got "x"',
    ]);
  });
});

describe('strings', () => {
  it('caps huge strings and says so', () => {
    const huge = 'd'.repeat(5_000_000);
    const r = ok({ name: 'n'.repeat(10_000), description: huge, version: 'v1' });
    assert.equal(r.document.description?.length, NIP11_LIMITS.longText);
    assert.equal(r.document.name?.length, NIP11_LIMITS.shortText);
    assert.equal(r.document.version, 'v1');
    assert.deepEqual(r.dropped, [
      { field: 'name', reason: `name: truncated to ${NIP11_LIMITS.shortText} characters (had 10000)` },
      { field: 'description', reason: `description: truncated to ${NIP11_LIMITS.longText} characters (had 5000000)` },
    ]);
  });

  it('does not cut a surrogate pair in half', () => {
    const s = `${'a'.repeat(NIP11_LIMITS.shortText - 1)}😀tail`;
    const r = ok({ name: s });
    assert.equal(r.document.name, 'a'.repeat(NIP11_LIMITS.shortText - 1));
  });

  it('makes strings safe for jsonb: no NUL, no lone surrogate', () => {
    const r = ok({ name: 'a\u0000b', description: 'x\uD800y\uDC00z 😀' });
    assert.equal(r.document.name, 'a\uFFFDb');
    assert.equal(r.document.description, 'x\uFFFDy\uFFFDz 😀');
  });

  it('trims URLs and keeps http as well as https', () => {
    const r = ok({ icon: '  https://x.example/i.png ', banner: 'http://x.example/b.png' });
    assert.deepEqual(r.document, { icon: 'https://x.example/i.png', banner: 'http://x.example/b.png' });
  });
});

describe('not a document', () => {
  const cases: Array<[unknown, string]> = [
    [[{ name: 'x' }], 'expected a JSON object, got an array of 1 item'],
    ['{"name": "x"}', 'expected a JSON object, got "{\\"name\\": \\"x\\"}"'],
    [null, 'expected a JSON object, got null'],
    [42, 'expected a JSON object, got 42'],
    [undefined, 'expected a JSON object, got undefined'],
    [new Date(0), 'expected a JSON object, got an object'],
  ];
  for (const [raw, error] of cases) {
    it(`${String(JSON.stringify(raw))}: an error`, () => {
      assert.deepEqual(validateNip11(raw), { error });
    });
  }

  it('never throws, even on a hostile object', () => {
    const hostile = Object.defineProperty({}, 'name', { enumerable: true, get() { throw new Error('boom'); } });
    assert.deepEqual(validateNip11(hostile), { error: 'could not read the document: boom' });
  });
});

describe('the NIP-11 URL of a relay', () => {
  const cases: Array<[string, string | null]> = [
    ['wss://relay.example', 'https://relay.example/'],
    ['ws://relay.example/nostr', 'http://relay.example/nostr'],
    ['wss://relay.example:443/', 'https://relay.example/'],
    ['wss://relay.example:8443/a/b', 'https://relay.example:8443/a/b'],
    ['ws://relay.example:80', 'http://relay.example/'],
    ['wss://relay.example:80', 'https://relay.example:80/'],
    ['ws://127.0.0.1:7777/path?x=1', 'http://127.0.0.1:7777/path?x=1'],
    ['ws://[::1]:7000/', 'http://[::1]:7000/'],
    ['ws://abcdefghijklmnop.onion', 'http://abcdefghijklmnop.onion/'],
    ['https://relay.example', null],
    ['relay.example', null],
    ['', null],
  ];
  for (const [relay, http] of cases) {
    it(`${relay || '(empty)'} -> ${http}`, () => assert.equal(nip11HttpUrl(relay), http));
  }
});
