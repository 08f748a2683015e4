import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harvest, harvestEvent, harvestJson } from '../../activities/finder/relay-hints.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad';
const ID = 'a'.repeat(64);
const PK = 'b'.repeat(64);

function urlsOf(events: Array<{ kind: number; tags: unknown; content: string | null }>) {
  const h = new Harvest({});
  for (const e of events) harvestEvent(e, h);
  return { urls: h.urls.map((f) => `${f.url} ${f.source}`).sort(), invalid: h.invalid, seen: h.seen };
}

describe('relay URLs in events', () => {
  it('finds them in every place the original looks', () => {
    const r = urlsOf([
      { kind: 10002, tags: [['r', 'wss://r1.example'], ['r', 'wss://r2.example', 'write']], content: '' },
      { kind: 3, tags: [['p', PK, 'wss://hint-p.example/']], content: JSON.stringify({ 'wss://c3.example': { read: true, write: true } }) },
      { kind: 2, tags: [], content: 'wss://recommended.example' },
      { kind: 30002, tags: [['d', 'my set'], ['relay', 'wss://set1.example'], ['relay', `ws://${ONION}.onion`]], content: '' },
      { kind: 30166, tags: [['d', 'wss://monitored.example'], ['n', 'clearnet']], content: '{}' },
      { kind: 1, tags: [['e', ID, 'wss://hint-e.example', 'reply', PK], ['e', ID, '', 'root', 'wss://hint-e5.example']], content: 'hello wss://in-text.example' },
      { kind: 1, tags: [['a', `30023:${PK}:slug`, 'wss://hint-a.example'], ['q', ID, 'WSS://Hint-Q.example']], content: '' },
      { kind: 9734, tags: [['relays', 'wss://zap1.example', 'wss://zap2.example']], content: '' },
    ]);
    assert.deepEqual(r.urls, [
      'ws://oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion event:30002',
      'wss://c3.example event:3',
      'wss://hint-a.example event:1',
      'wss://hint-e.example event:1',
      'wss://hint-e5.example event:1',
      'wss://hint-p.example event:3',
      'wss://hint-q.example event:1',
      'wss://monitored.example event:30166',
      'wss://r1.example event:10002',
      'wss://r2.example event:10002',
      'wss://recommended.example event:2',
      'wss://set1.example event:30002',
      'wss://zap1.example event:9734',
      'wss://zap2.example event:9734',
    ]);
    assert.deepEqual(r.invalid, {});
  });

  it('counts bad input by reason and skips it, never throws', () => {
    const r = urlsOf([
      { kind: 10002, tags: [['r', 'javascript:alert(1)'], ['r', `wss://${'x'.repeat(10_000)}.example`], ['r', 'wss://ctl\u0007.example'], ['r', 'wss://127.0.0.1']], content: '' },
      { kind: 10002, tags: ['not a tag', [1, 2], [null], ['r'], ['r', 42], ['r', ''], ['r', { url: 'wss://obj.example' }]], content: '' },
      { kind: 10002, tags: 'not even an array', content: '' },
      { kind: 3, tags: [], content: 'not json {' },
      { kind: 3, tags: [], content: '["an", "array"]' },
      { kind: 3, tags: [], content: JSON.stringify({ 'https://web.example': {}, 'wss://ok.example': {} }) },
      { kind: 2, tags: [], content: 'just words' },
      { kind: 1, tags: [['imeta', 'url https://img.example/a.png'], ['e', ID, 'not-a-url']], content: '' },
    ]);
    assert.deepEqual(r.urls, ['wss://ok.example event:3']);
    assert.deepEqual(r.invalid, { 'bad-scheme': 2, 'too-long': 1, 'control-characters': 2, local: 1, 'bad-content': 2 });
  });

  it('a URL repeated in a page is stored once and counted each time', () => {
    const r = urlsOf([
      { kind: 10002, tags: [['r', 'wss://dup.example'], ['r', 'wss://dup.example/'], ['r', 'WSS://DUP.EXAMPLE']], content: '' },
      { kind: 1, tags: [['p', PK, 'wss://dup.example']], content: '' },
    ]);
    assert.deepEqual(r.urls, ['wss://dup.example event:10002']);
    assert.equal(r.seen, 4);
  });
});

describe('relay URLs in relay-list API answers', () => {
  const shapes: Array<[string, unknown]> = [
    ['an array of URLs', ['wss://a.example', 'wss://b.example']],
    ['an object holding an array', { relays: ['wss://a.example', 'wss://b.example'], count: 2 }],
    ['an array of objects', [{ url: 'wss://a.example', online: true }, { url: 'wss://b.example', rtt: 120 }]],
    ['an object keyed by URL', { 'wss://a.example': { uptime: 99 }, 'wss://b.example': { uptime: 98 } }],
    ['nested deeper', { data: { items: [{ relay: { address: 'wss://a.example' } }, { relay: { address: 'wss://b.example' } }] } }],
  ];
  for (const [what, doc] of shapes) {
    it(`reads ${what}`, () => {
      const h = new Harvest({});
      harvestJson(doc, 'api:test', h);
      assert.deepEqual(h.urls.map((f) => f.url).sort(), ['wss://a.example', 'wss://b.example']);
      assert.ok(h.urls.every((f) => f.source === 'api:test'));
    });
  }

  it('ignores what is not a relay URL and counts the bad relay URLs', () => {
    const h = new Harvest({});
    harvestJson({ name: 'x', site: 'https://x.example', list: ['wss://ok.example', 'wss://10.0.0.1', 7, null, true] }, 'api:t', h);
    assert.deepEqual(h.urls.map((f) => f.url), ['wss://ok.example']);
    assert.deepEqual(h.invalid, { local: 1 });
  });

  it('stops at a node budget on absurdly large documents', () => {
    const h = new Harvest({});
    harvestJson(Array.from({ length: 100 }, (_, i) => `wss://r${i}.example`), 'api:t', h, { nodes: 11 });
    assert.equal(h.found.size, 10);
  });
});
