// Every event of every relay, whatever the relay caps: the Synchronizer's activities, driven as its
// workflow drives them (cursor and what it learned of the relay carried from one activity to the
// next), against relays that cap their answers silently, advertise a cap, hold dense seconds, need
// NIP-42, read `until` as exclusive or lower their cap between two syncs; and against relay
// software nobody here wrote (@nostr-relay/core, the PyPI nostr-relay). Each test knows what the
// relay holds and asserts the archive holds exactly that, or that a recorded gap names the second
// of each event missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { NetworkActivities } from '../../activities/network.js';
import { insertRelays, type NostrEvent } from '../../activities/db/store.js';
import { storeMetadata } from '../../activities/db/metadata.js';
import type { RelayKnowledge, SpanResult } from '../../common/index.js';
import { archiveEvents } from '../../activities/synchronizer/archive.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay, type LocalRelayOptions } from '../helpers/local-relay.js';
import { testNetworkActivities } from '../helpers/sync.js';
import { generateEvents, startNostrRelayCore, startPythonNostrRelay, type ThirdPartyRelay } from '../helpers/third-party-relays.js';

const LIMIT = 500; // the shipped config's
let t: TestDatabase;
const relays: Array<{ stop(): Promise<void> }> = [];

before(async () => {
  t = await freshDatabase();
});
after(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await t?.drop();
});

async function local(events: NostrEvent[], o: LocalRelayOptions = {}): Promise<LocalRelay> {
  const relay = await startLocalRelay({ events, ...o });
  relays.push(relay);
  await insertRelays(t.db, [{ url: relay.url, network: 'clearnet', discoveredAt: 1 }], { allowLocal: true });
  return relay;
}

interface Synced {
  spans: number;
  relay: RelayKnowledge;
  totals: { received: number; reqs: number; gaps: number; capLowered: number; overlapFound: number };
  refused?: string;
}

/** syncWindows from `from` to `to`, activity after activity as the workflow runs them (the first of a round `fresh`). */
async function syncAll(acts: NetworkActivities, url: string, from: number, to: number, relay?: RelayKnowledge, denseLimit?: number, windowSec = to - from + 1): Promise<Synced> {
  const env = new MockActivityEnvironment();
  let q = { url, network: 'clearnet' as const, cursor: from - 1, windowSec, target: to, limit: LIMIT, denseLimit, maxWindowSec: 365 * 86_400, relay, fresh: true };
  const totals = { received: 0, reqs: 0, gaps: 0, capLowered: 0, overlapFound: 0 };
  let r: SpanResult | undefined;
  let spans = 0;
  while (q.cursor < to) {
    assert.ok(++spans < 200, `${url}: 200 activities did not reach ${to} (cursor ${q.cursor})`);
    const got: SpanResult = await env.run(acts.syncWindows, q);
    r = got;
    for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += got[k];
    if (got.refused) return { spans, relay: got.relay, totals, refused: got.refused };
    q = { ...q, cursor: got.cursor, windowSec: got.windowSec, relay: got.relay, fresh: false };
  }
  return { spans, relay: r ? r.relay : relay!, totals };
}

/** The archive holds exactly what the relay holds, but for events of recorded gap seconds; returns the gaps. */
async function assertArchived(url: string, held: Map<string, number>): Promise<number[]> {
  const { rows } = await t.db.query<{ id: string }>(`SELECT encode(event_id, 'hex') AS id FROM event_relay WHERE relay_url = $1`, [url]);
  const archived = new Set(rows.map((r) => r.id));
  const gaps = (await t.db.query<{ second: string }>(`SELECT second FROM sync_gap WHERE relay_url = $1 AND filled_at IS NULL`, [url])).rows.map((r) => Number(r.second));
  const extra = [...archived].filter((id) => !held.has(id));
  assert.deepEqual(extra, [], `${url}: linked events the relay does not hold`);
  const missing = [...held].filter(([id]) => !archived.has(id));
  const unexplained = missing.filter(([, createdAt]) => !gaps.includes(createdAt));
  assert.equal(unexplained.length, 0, `${url}: ${missing.length} of ${held.size} events missing, ${unexplained.length} outside any recorded gap (e.g. created_at ${unexplained[0]?.[1]})`);
  console.log(`# ${url}: relay holds ${held.size}, archive linked ${archived.size}, gaps ${gaps.length}`);
  return gaps;
}

const heldOf = (events: NostrEvent[]) => new Map(events.map((e) => [e.id, e.created_at]));

// Three thousand events over a day, a second of 20 among them: every cap below is met by many windows.
const day = generateEvents({ count: 3000, dense: 20, spanSeconds: 86_400, seed: 7 });

describe('relays that cap their answers', () => {
  for (const cap of [50, 100, 300, 500]) {
    it(`a silent cap of ${cap} (no NIP-11): every event archived, the cap learned`, async () => {
      const relay = await local(day.events, { maxLimit: cap });
      const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
      assert.deepEqual(await assertArchived(relay.url, heldOf(day.events)), []);
      assert.equal(s.relay.largestAnswer, cap);
      console.log(`# cap ${cap}: ${s.totals.reqs} REQs, ${s.totals.received} events received for ${day.events.length}`);
    });
  }

  it('a silent cap of 100 behind a NIP-11 that says nothing of limits: every event archived', async () => {
    const relay = await local(day.events, { maxLimit: 100, nip11: { name: 'quiet', supported_nips: [1, 11] } });
    const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(day.events)), []);
    assert.equal(s.relay.negentropy, 'no', 'its NIP-11 does not list 77: NEG-OPEN is not tried');
    assert.equal(relay.negOpens, 0);
  });

  it('a cap advertised in NIP-11: the REQs ask for it, and every event is archived', async () => {
    const relay = await local(day.events, { maxLimit: 100, nip11: { name: 'says', limitation: { max_limit: 100 } } });
    const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(day.events)), []);
    assert.equal(s.relay.maxLimit, 100);
    assert.ok(relay.reqs.every((filters) => (filters[0] as { limit?: number }).limit! <= 100), 'no REQ asked past the advertised cap');
  });

  it('a max_limit in the NIP-11 the Monitor stored bounds the REQs; one that is not a number is ignored', async () => {
    const relay = await local(day.events.slice(0, 400), { maxLimit: 50 });
    const odd = await local(day.events.slice(0, 400), { maxLimit: 50 });
    await storeMetadata(t.db, [
      { relayUrl: relay.url, type: 'nip11', generatedAt: 1, payload: { limitation: { max_limit: 50 } } },
      { relayUrl: odd.url, type: 'nip11', generatedAt: 1, payload: { limitation: { max_limit: 'lots' } } },
    ]);
    const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
    assert.equal(s.relay.maxLimit, 50);
    assert.ok(relay.reqs.every((f) => (f[0] as { limit?: number }).limit! <= 50));
    const o = await syncAll(testNetworkActivities(t), odd.url, day.since, day.until);
    assert.equal(o.relay.maxLimit, undefined);
    assert.ok(odd.reqs.some((f) => (f[0] as { limit?: number }).limit === LIMIT));
    for (const r of [relay, odd]) assert.deepEqual(await assertArchived(r.url, heldOf(day.events.slice(0, 400))), []);
  });

  it('a relay that lowers its cap between two syncs: the second sync audits, learns, and misses nothing', async () => {
    const first = generateEvents({ count: 1500, dense: 10, spanSeconds: 3 * 3600, end: day.until - 86_400, seed: 9 });
    const later = generateEvents({ count: 1500, dense: 10, spanSeconds: 3 * 3600, end: day.until, seed: 10 });
    const relay = await local(first.events, { maxLimit: 500 });
    const acts = testNetworkActivities(t);
    const one = await syncAll(acts, relay.url, first.since, first.until);
    relay.events.push(...later.events);
    relay.setMaxLimit(60);
    const two = await syncAll(acts, relay.url, first.until, later.until, one.relay);
    await assertArchived(relay.url, heldOf([...first.events, ...later.events]));
    assert.equal(two.relay.largestAnswer, 60, 'the lower cap was learned');
  });
});

describe('dense seconds', () => {
  it('1,200 events in one second on a relay whose NIP-11 says max_limit 5000: asked again at 5000, every event, no gap', async () => {
    const g = generateEvents({ count: 1500, dense: 1200, spanSeconds: 3600, seed: 11 });
    const relay = await local(g.events, { maxLimit: 5000, nip11: { limitation: { max_limit: 5000 } } });
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(g.events)), []);
    assert.equal(s.totals.gaps, 0);
    assert.ok(relay.reqs.some((f) => (f[0] as { limit?: number }).limit === 5000), 'the dense second was asked at the relay\'s own cap');
  });

  it('6,000 events in one second, above the relay\'s max_limit of 5000, no NIP-77: read kind by kind, and the second recorded as a gap', async () => {
    // A second no other test's relay holds events at (the archive is shared): a lone relay.
    const g = generateEvents({ count: 6300, dense: 6000, spanSeconds: 3600, seed: 12, end: Math.floor(Date.now() / 1000) - 500_000 });
    const relay = await local(g.events, { maxLimit: 5000, nip11: { limitation: { max_limit: 5000 } } });
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until);
    const gaps = await assertArchived(relay.url, heldOf(g.events));
    assert.deepEqual(gaps, [g.denseSecond], 'the gap names the second');
    const gap = (await t.db.query(`SELECT received, reason FROM sync_gap WHERE relay_url = $1`, [relay.url])).rows[0];
    assert.ok(gap.received >= 5000, `received ${gap.received}`);
    assert.match(gap.reason, /kind/);
    assert.ok(s.totals.gaps >= 1);
  });

  it('a second of 1,200 under a silent cap of 100, the relay counting (NIP-45): a gap whose size is what the relay did not serve', async () => {
    const g = generateEvents({ count: 1500, dense: 1200, spanSeconds: 3600, seed: 14 });
    const relay = await local(g.events, { maxLimit: 100, nip45: true, nip11: { supported_nips: [1, 11, 45] } });
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until, undefined, 8000);
    assert.equal(s.relay.count, 'yes');
    assert.ok(relay.countsAsked >= 1, 'the dense second was counted');
    const gaps = await assertArchived(relay.url, heldOf(g.events));
    const atSecond = g.events.filter((e) => e.created_at === g.denseSecond).length;
    const linked = await count(t.db, `SELECT 1 FROM event_relay r JOIN event e ON e.id = r.event_id WHERE r.relay_url = $1 AND e.created_at = $2`, [relay.url, g.denseSecond]);
    if (linked === atSecond) assert.deepEqual(gaps, [], 'whole: no gap');
    else {
      const gap = (await t.db.query<{ missing: number | null }>(`SELECT missing FROM sync_gap WHERE relay_url = $1 AND second = $2`, [relay.url, g.denseSecond])).rows[0];
      assert.equal(gap?.missing, atSecond - linked, `the gap's size: ${atSecond} held, ${linked} linked`);
    }
  });

  it('the same second, half of it archived from another relay: those fetched by id and linked, the gap sized by COUNT', async () => {
    const g = generateEvents({ count: 1500, dense: 1200, spanSeconds: 3600, seed: 16 });
    const other = await local([]);
    const atSecond = g.events.filter((e) => e.created_at === g.denseSecond);
    await archiveEvents(t.db, other.url, atSecond.filter((_, i) => i % 2 === 0), 1);
    const relay = await local(g.events, { maxLimit: 100, nip45: true, nip11: { supported_nips: [1, 11, 45] } });
    await syncAll(testNetworkActivities(t), relay.url, g.since, g.until, undefined, 8000);
    const gaps = await assertArchived(relay.url, heldOf(g.events));
    const linked = await count(t.db, `SELECT 1 FROM event_relay r JOIN event e ON e.id = r.event_id WHERE r.relay_url = $1 AND e.created_at = $2`, [relay.url, g.denseSecond]);
    assert.ok(linked >= 600, `the 600 the archive had are linked to this relay too (${linked})`);
    if (linked === atSecond.length) assert.deepEqual(gaps, []);
    else {
      const gap = (await t.db.query<{ missing: number | null }>(`SELECT missing FROM sync_gap WHERE relay_url = $1 AND second = $2`, [relay.url, g.denseSecond])).rows[0];
      assert.equal(gap?.missing, atSecond.length - linked);
    }
  });

  it('a relay that serves 6,000 and says nothing of its cap: a second of 1,200 asked higher than our limit, archived in full', async () => {
    const g = generateEvents({ count: 1500, dense: 1200, spanSeconds: 3600, seed: 15 });
    const relay = await local(g.events, { maxLimit: 6000 });
    await syncAll(testNetworkActivities(t), relay.url, g.since, g.until, undefined, 8000);
    const linked = await count(t.db, `SELECT 1 FROM event_relay WHERE relay_url = $1`, [relay.url]);
    assert.equal(linked, g.events.length, 'every event archived');
    assert.ok(relay.reqs.some((f) => ((f[0] as { limit?: number }).limit ?? 0) > LIMIT), 'the dense second was asked above our limit');
  });

  it('a relay that caps at 40 and speaks NIP-77: a second of 300 is reconciled whole, no gap', async () => {
    const g = generateEvents({ count: 600, dense: 300, spanSeconds: 3600, seed: 13 });
    const relay = await local(g.events, { maxLimit: 40, nip77: true });
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(g.events)), []);
    assert.equal(s.relay.negentropy, 'yes');
  });
});

describe('NIP-77, lean', () => {
  it('a window of 15,000 ids is listed once (one NEG-OPEN), not halved and listed again, and every event archived', async () => {
    const g = generateEvents({ count: 15_000, dense: 10, spanSeconds: 86_400, seed: 14 });
    const relay = await local(g.events, { maxLimit: 500, nip77: true });
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(g.events)), []);
    assert.equal(relay.negOpens, 1, 'one listing');
    assert.equal(s.relay.negentropy, 'yes');
  });

  it('a relay whose first event came years after the sync\'s start: the empty years cost one NEG-OPEN, not one a year', async () => {
    const g = generateEvents({ count: 2000, dense: 10, spanSeconds: 86_400, seed: 17 });
    const relay = await local(g.events, { maxLimit: 500, nip77: true });
    await syncAll(testNetworkActivities(t), relay.url, g.since - 20 * 365 * 86_400, g.until, undefined, undefined, 365 * 86_400);
    assert.deepEqual(await assertArchived(relay.url, heldOf(g.events)), []);
    assert.ok(relay.negOpens <= 3, `${relay.negOpens} NEG-OPENs for twenty empty years and a day`);
  });
});

describe('relays that bend NIP-01 or need NIP-42', () => {
  it('a relay that reads `until` as exclusive: every event archived, the quirk learned', async () => {
    const relay = await local(day.events, { untilExclusive: true, maxLimit: 100 });
    const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
    assert.deepEqual(await assertArchived(relay.url, heldOf(day.events)), []);
    assert.equal(s.relay.untilExclusive, true);
  });

  const KEY = '7f'.repeat(32);
  const withKey = () => testNetworkActivities(t, { BIGBROTR__synchronizer__private_key: KEY });

  it('a relay that needs AUTH and serves after it: with a key, every event archived', async () => {
    const relay = await local(day.events.slice(0, 500), { auth: 'serve-after' });
    const s = await syncAll(withKey(), relay.url, day.since, day.until);
    assert.equal(s.refused, undefined);
    assert.equal(s.relay.authenticated, true);
    assert.deepEqual(await assertArchived(relay.url, heldOf(day.events.slice(0, 500))), []);
  });

  it('a relay that needs AUTH, without a key: not archivable, recorded with the reason, no error', async () => {
    const relay = await local(day.events.slice(0, 50), { auth: 'serve-after' });
    const s = await syncAll(testNetworkActivities(t), relay.url, day.since, day.until);
    assert.match(s.refused ?? '', /auth-required.*no key/);
    const row = (await t.db.query(`SELECT reason FROM sync_refusal WHERE relay_url = $1`, [relay.url])).rows[0];
    assert.match(row.reason, /auth-required/);
  });

  it('a relay that refuses after AUTH (restricted): not archivable, recorded; the record goes once it serves', async () => {
    const relay = await local(day.events.slice(0, 50), { auth: 'restricted-after' });
    const s = await syncAll(withKey(), relay.url, day.since, day.until);
    assert.match(s.refused ?? '', /restricted/);
    assert.equal((await t.db.query(`SELECT 1 FROM sync_refusal WHERE relay_url = $1`, [relay.url])).rowCount, 1);
    const open = await local(day.events.slice(0, 50), { auth: 'serve-after' });
    await syncAll(withKey(), open.url, day.since, day.until);
    assert.equal((await t.db.query(`SELECT 1 FROM sync_refusal WHERE relay_url = $1`, [open.url])).rowCount, 0);
  });
});

describe('relay software nobody here wrote', () => {
  const LOADED = 10_000;

  async function check(relay: ThirdPartyRelay) {
    relays.push(relay);
    await insertRelays(t.db, [{ url: relay.url, network: 'clearnet', discoveredAt: 1 }], { allowLocal: true });
    const g = generateEvents({ count: LOADED, dense: 1200, spanSeconds: 7 * 86_400, seed: 21 });
    await relay.load(g.events);
    const ids = await relay.heldIds();
    const createdAt = heldOf(g.events);
    const held = new Map([...ids].map((id) => [id, createdAt.get(id)!]));
    const s = await syncAll(testNetworkActivities(t), relay.url, g.since, g.until + 1);
    const gaps = await assertArchived(relay.url, held);
    const reasons = (await t.db.query(`SELECT second, received, reason FROM sync_gap WHERE relay_url = $1`, [relay.url])).rows;
    console.log(`# ${relay.name}: holds ${held.size}, ${s.totals.reqs} REQs, ${s.totals.received} received, gaps ${JSON.stringify(reasons)}, learned ${JSON.stringify(s.relay)}`);
    return { s, gaps, g };
  }

  it('@nostr-relay/core (SQLite, cap 100, no NIP-11): the archive holds what it holds, or the gap names the second', async (ctx) => {
    const relay = await startNostrRelayCore({ maxLimit: 100 });
    if ('skipped' in relay) return ctx.skip(relay.skipped);
    const { s } = await check(relay);
    assert.equal(s.relay.largestAnswer, 100);
  });

  it('nostr-relay from PyPI (cap 100, `until` exclusive): the archive holds what it holds, or the gap names the second', async (ctx) => {
    const relay = await startPythonNostrRelay({ maxLimit: 100 });
    if ('skipped' in relay) return ctx.skip(relay.skipped);
    const { s } = await check(relay);
    assert.equal(s.relay.untilExclusive, true);
  });
});
