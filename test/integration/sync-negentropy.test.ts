// The Synchronizer's window over NIP-77 (negentropy) against local relays that speak it: a
// one-second flood beyond any limit is archived whole, only what the archive lacks is fetched,
// forged events are refused, and relays that do not speak it (or speak it badly) are read with REQ.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { archiveEvents } from '../../activities/synchronizer/archive.js';
import type { NetworkActivities } from '../../activities/network.js';
import { insertRelays } from '../../activities/db/store.js';
import type { RelayKnowledge } from '../../common/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { syncRange, testNetworkActivities } from '../helpers/sync.js';

const LIMIT = 50;
// Three times the limit in one second: NIP-01 paging cannot get past the newest `limit` of them.
const flood = Array.from({ length: 3 * LIMIT }, (_, i) => signed({ kind: 1, content: `flood ${i}`, created_at: 5000 }));
const spread = Array.from({ length: 20 }, (_, i) => signed({ kind: 1, content: `spread ${i}`, created_at: 6000 + i }));
const good = Array.from({ length: 3 }, (_, i) => signed({ kind: 1, content: `good ${i}`, created_at: 7000 }));
const forged = { ...signed({ kind: 1, content: 'forged', created_at: 7000 }), content: 'changed after signing' };
const plain = Array.from({ length: 12 }, (_, i) => signed({ kind: 1, content: `plain ${i}`, created_at: 1000 + i }));
const small = Array.from({ length: 8 }, (_, i) => signed({ kind: 1, content: `small ${i}`, created_at: 8000 + i }));

let t: TestDatabase;
let neg: LocalRelay; // speaks NIP-77, caps REQs below our limit
let old: LocalRelay; // does not speak NIP-77
let broken: LocalRelay; // answers NEG-OPEN with garbage
let picky: LocalRelay; // refuses negentropy over more than 5 events

before(async () => {
  t = await freshDatabase();
  [neg, old, broken, picky] = await Promise.all([
    startLocalRelay({ nip77: true, maxLimit: 40, events: [...flood, ...spread, ...good, forged] }),
    startLocalRelay({ events: plain }),
    startLocalRelay({ nip77: 'malformed', events: plain }),
    startLocalRelay({ nip77: true, nip77MaxRecords: 5, events: small }),
  ]);
  const urls = [neg, old, broken, picky].map((r) => r.url);
  await insertRelays(t.db, urls.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
});
after(async () => {
  await Promise.all([neg, old, broken, picky].map((r) => r?.stop()));
  await t?.drop();
});

const activities = () => testNetworkActivities(t);
const window = (acts: NetworkActivities, url: string, since: number, until: number, limit = LIMIT, relay?: RelayKnowledge) =>
  syncRange(acts, url, since, until, limit, undefined, relay);

const linked = (url: string, since: number, until: number) =>
  count(t.db, 'SELECT 1 FROM event_relay r JOIN event e ON e.id = r.event_id WHERE r.relay_url = $1 AND e.created_at BETWEEN $2 AND $3', [url, since, until]);

describe('sync window over negentropy (NIP-77)', () => {
  const acts = () => (shared ??= activities());
  let shared: NetworkActivities | undefined;

  it('archives a one-second flood of three times the limit whole, the relay capping its REQs lower still', async () => {
    const r = await window(acts(), neg.url, 5000, 5000);
    assert.deepEqual({ windows: r.windows, negentropyWindows: r.negentropyWindows, cursor: r.cursor }, { windows: 1, negentropyWindows: 1, cursor: 5000 });
    assert.deepEqual({ splits: r.splits, gaps: r.gaps }, { splits: 0, gaps: 0 }); // complete: not split, no gap
    assert.deepEqual({ received: r.received, inserted: r.inserted, linked: r.linked, invalid: r.invalid, unserved: r.unserved }, { received: 150, inserted: 150, linked: 150, invalid: {}, unserved: 0 });
    assert.equal(await linked(neg.url, 5000, 5000), flood.length);
    assert.ok(neg.idsRequested > flood.length, 'the relay sent 40 per REQ: the ids it left out were asked again');
    const stored = await count(t.db, 'SELECT 1 FROM event WHERE id = ANY($1::bytea[])', [flood.map((e) => Buffer.from(e.id, 'hex'))]);
    assert.equal(stored, flood.length, 'none of the flood is lost');
  });

  it('the same window again fetches nothing and rewrites nothing', async () => {
    const [asked, events, links] = [neg.idsRequested, await count(t.db, 'SELECT 1 FROM event'), await count(t.db, 'SELECT 1 FROM event_relay')];
    const r = await window(acts(), neg.url, 5000, 5000);
    // The relay lists the window's 150 ids again; all are archived and linked: nothing is fetched.
    assert.deepEqual(
      { cursor: r.cursor, windows: r.windows, splits: r.splits, negentropyWindows: r.negentropyWindows, received: r.received, inserted: r.inserted, known: r.known, linked: r.linked, reqs: r.reqs },
      { cursor: 5000, windows: 1, splits: 0, negentropyWindows: 1, received: 0, inserted: 0, known: 150, linked: 0, reqs: 0 },
    );
    assert.equal(neg.idsRequested, asked, 'no REQ by id');
    assert.equal(await count(t.db, 'SELECT 1 FROM event'), events);
    assert.equal(await count(t.db, 'SELECT 1 FROM event_relay'), links);
  });

  it('fetches what this relay has not sent before: events from other relays are linked once it sends them, ones linked already are left', async () => {
    await archiveEvents(t.db, old.url, spread.slice(0, 8), 1); // archived from another relay
    await archiveEvents(t.db, neg.url, spread.slice(8, 10), 1); // already linked to this one
    const asked = neg.idsRequested;
    const r = await window(acts(), neg.url, 6000, 6019);
    // Listed is not sent: the 8 the archive has from another relay are fetched too (and only
    // their ids checked), so no relay is linked to an event on its word alone.
    assert.equal(neg.idsRequested - asked, 18, 'the 10 events the archive lacks and the 8 of the other relay are asked for');
    assert.deepEqual(
      { received: r.received, inserted: r.inserted, known: r.known, linked: r.linked, splits: r.splits, negentropyWindows: r.negentropyWindows },
      { received: 18, inserted: 10, known: 10, linked: 18, splits: 0, negentropyWindows: 1 },
    );
    assert.equal(await linked(neg.url, 6000, 6019), spread.length);
    assert.equal(await linked(old.url, 6000, 6019), 8, 'the other relay keeps its links');
  });

  it('refuses a forged event the relay serves by id, and stores nothing of it', async () => {
    const r = await window(acts(), neg.url, 7000, 7000);
    assert.equal(r.negentropyWindows, 1);
    assert.deepEqual(r.invalid, { 'id-mismatch': 1 });
    assert.equal(r.inserted, good.length);
    assert.equal(await count(t.db, 'SELECT 1 FROM event WHERE id = $1', [Buffer.from(forged.id, 'hex')]), 0);
    assert.equal(await linked(neg.url, 7000, 7000), good.length);
  });
});

describe('relays without negentropy', () => {
  it('a relay that does not know NEG-OPEN is read with REQ, and not asked again: what it answered is carried to the next activity', async () => {
    const acts = activities();
    const r = await window(acts, old.url, 1000, 1011, 100);
    assert.deepEqual(
      { cursor: r.cursor, windows: r.windows, negentropyWindows: r.negentropyWindows, inserted: r.inserted, linked: r.linked, gaps: r.gaps },
      { cursor: 1011, windows: 1, negentropyWindows: 0, inserted: 12, linked: 12, gaps: 0 },
    );
    assert.equal(r.relay.negentropy, 'no');
    const again = await window(acts, old.url, 1000, 1005, 5, r.relay);
    assert.equal(again.negentropyWindows, 0);
    assert.ok(again.pages > 0, 'a full REQ window is paged'); // 6 events, limit 5
    assert.equal(again.cursor, 1005);
    assert.equal(old.negOpens, 1, 'the relay is not offered NIP-77 again');
  });

  it('a relay whose NIP-77 answer cannot be read is read with REQ on a new connection, and not offered NIP-77 again', async () => {
    const acts = activities();
    const r = await window(acts, broken.url, 1000, 1011, 100);
    assert.equal(r.negentropyWindows, 0);
    assert.equal(r.linked, 12, 'every event of the window, linked to it (the other relay archived them first)');
    assert.equal(r.relay.negentropy, 'no');
    await window(acts, broken.url, 1000, 1011, 100, r.relay);
    assert.equal(broken.negOpens, 1);
  });

  it('a NEG-ERR "blocked" refuses that window only: it is read with REQ, and a smaller one reconciled', async () => {
    const acts = activities();
    const big = await window(acts, picky.url, 8000, 8007, 100);
    assert.deepEqual({ negentropyWindows: big.negentropyWindows, inserted: big.inserted }, { negentropyWindows: 0, inserted: 8 });
    assert.equal(big.relay.negentropy, 'unknown', 'a refusal of one window says nothing of the next');
    const r = await window(acts, picky.url, 8000, 8003, 100, big.relay);
    // the REQ archived them from this relay: the reconciliation finds all four linked to it, and fetches none
    assert.deepEqual({ negentropyWindows: r.negentropyWindows, received: r.received, known: r.known }, { negentropyWindows: 1, received: 0, known: 4 });
    assert.equal(picky.negOpens, 2);
  });
});
