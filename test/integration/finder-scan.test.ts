import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFinderActivities } from '../../activities/finder/finder.js';
import { insertEvents } from '../../activities/db/store.js';
import type { ScanPage } from '../../common/index.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from '../helpers/config.js';
import { signed } from '../helpers/nostr.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad';
const PK = 'b'.repeat(64);
const ID = 'c'.repeat(64);

// One event of every kind the Finder reads, plus noise; created_at spreads them over pages.
const EVENTS = [
  signed({ kind: 10002, created_at: 1000, tags: [['r', 'wss://outbox.example'], ['r', 'wss://inbox.example/', 'read']] }),
  signed({ kind: 3, created_at: 1001, tags: [['p', PK, 'wss://contact-hint.example']], content: JSON.stringify({ 'wss://follows-relay.example': { read: true, write: true } }) }),
  signed({ kind: 2, created_at: 1002, content: 'wss://recommended.example' }),
  signed({ kind: 30002, created_at: 1003, tags: [['d', 'favourites'], ['relay', `ws://${ONION}.onion`], ['relay', 'wss://set.example']] }),
  signed({ kind: 30166, created_at: 1004, tags: [['d', 'wss://monitored.example'], ['rtt-open', '120']] }),
  signed({ kind: 1, created_at: 1004, tags: [['e', ID, 'wss://reply-hint.example', 'reply'], ['q', ID, 'wss://quote-hint.example'], ['a', `30023:${PK}:x`, 'wss://article-hint.example']] }),
  signed({ kind: 1, created_at: 1005, tags: [['e', ID, 'wss://reply-hint.example']], content: 'same hint again' }),
  signed({ kind: 10002, created_at: 1006, tags: [['r', 'javascript:alert(1)'], ['r', 'wss://192.168.0.1'], ['r', `wss://${'a'.repeat(3000)}.example`]] }),
  signed({ kind: 3, created_at: 1007, content: 'not json' }),
  signed({ kind: 1, created_at: 1008, tags: [['t', 'nostr']], content: 'no relays here' }),
];

let t: TestDatabase;
before(async () => {
  t = await freshDatabase();
  const r = await insertEvents(t.db, EVENTS);
  assert.equal(r.inserted, EVENTS.length);
});
after(() => t.drop());

async function scanAll(pageSize: number) {
  const acts = createFinderActivities({ db: t.db, config: testConfig(t.url) });
  const pages: ScanPage[] = [];
  let after: ScanPage['cursor'] = null;
  for (;;) {
    const page: ScanPage = await new MockActivityEnvironment().run(acts.scanEventsPage, { after, pageSize });
    pages.push(page);
    after = page.cursor;
    if (page.done) return pages;
  }
}

describe('finder: archive scan', () => {
  it('finds the relay URLs of every kind, page by page, and stores exactly the valid ones as candidates', async () => {
    const pages = await scanAll(3);
    assert.equal(pages.length, 4);
    assert.deepEqual(pages.map((p) => p.events), [3, 3, 3, 1]);
    assert.equal(pages.reduce((n, p) => n + p.inserted, 0), 11);
    const invalid: Record<string, number> = {};
    for (const p of pages) for (const [k, v] of Object.entries(p.invalid)) invalid[k] = (invalid[k] ?? 0) + v;
    assert.deepEqual(invalid, { 'bad-scheme': 1, local: 1, 'too-long': 1, 'bad-content': 1 });
    // the cursor is the last event in (created_at, id) order
    const last = [...EVENTS].sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id)).at(-1);
    assert.deepEqual(pages.at(-1)?.cursor, { createdAt: last?.created_at, id: last?.id });

    const { rows } = await t.db.query('SELECT url, network, source FROM candidate ORDER BY url');
    assert.deepEqual(rows, [
      { url: `ws://${ONION}.onion`, network: 'tor', source: 'event:30002' },
      { url: 'wss://article-hint.example', network: 'clearnet', source: 'event:1' },
      { url: 'wss://contact-hint.example', network: 'clearnet', source: 'event:3' },
      { url: 'wss://follows-relay.example', network: 'clearnet', source: 'event:3' },
      { url: 'wss://inbox.example', network: 'clearnet', source: 'event:10002' },
      { url: 'wss://monitored.example', network: 'clearnet', source: 'event:30166' },
      { url: 'wss://outbox.example', network: 'clearnet', source: 'event:10002' },
      { url: 'wss://quote-hint.example', network: 'clearnet', source: 'event:1' },
      { url: 'wss://recommended.example', network: 'clearnet', source: 'event:2' },
      { url: 'wss://reply-hint.example', network: 'clearnet', source: 'event:1' },
      { url: 'wss://set.example', network: 'clearnet', source: 'event:30002' },
    ]);
  });

  it('scanning again (a retried page, or the next cycle) inserts nothing twice', async () => {
    const pages = await scanAll(100);
    assert.equal(pages.length, 1);
    assert.equal(pages[0]?.events, EVENTS.length);
    assert.equal(pages[0]?.inserted, 0);
    assert.equal(pages[0]?.distinct, 11);
  });

  it('after the last event there is nothing to read, and the cursor stays', async () => {
    const acts = createFinderActivities({ db: t.db, config: testConfig(t.url) });
    const cursor = { createdAt: 1008, id: 'f'.repeat(64) };
    const page: ScanPage = await new MockActivityEnvironment().run(acts.scanEventsPage, { after: cursor, pageSize: 10 });
    assert.deepEqual(page, { events: 0, urls: 0, distinct: 0, inserted: 0, invalid: {}, cursor, done: true });
  });
});

describe('finder: archive scan of large events', () => {
  let big: TestDatabase;
  before(async () => {
    big = await freshDatabase();
    // four relay lists of ~3 MB of tags each: more than one chunk's byte budget (8 MB) together
    // (random, so that compression does not shrink them below the budget)
    const filler = Array.from({ length: 30_000 }, () => ['t', randomBytes(40).toString('hex')]);
    await insertEvents(big.db, Array.from({ length: 4 }, (_, i) => signed({ kind: 10002, created_at: 2000 + i, tags: [['r', `wss://big${i}.example`], ...filler] })));
  });
  after(() => big?.drop());

  it('reads a page of large events in several chunks and misses none', async () => {
    const acts = createFinderActivities({ db: big.db, config: testConfig(big.url) });
    const page: ScanPage = await new MockActivityEnvironment().run(acts.scanEventsPage, { after: null, pageSize: 100 });
    assert.equal(page.events, 4);
    assert.equal(page.inserted, 4);
    assert.equal(page.done, true);
    assert.equal(page.cursor?.createdAt, 2003);
  });
});
