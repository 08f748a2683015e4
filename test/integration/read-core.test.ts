// The read core (read/) against a real archive whose every figure is known (read-fixture.ts):
// every resource's answer, every page walk seeing each row once, bad and hostile parameters
// refused with the parameter named, the indexes each events query uses, the reader role, and
// lilbrotr.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Config } from '../../common/config.js';
import { eventsQuery } from '../../read/events.js';
import { connectReader, createReader, RESOURCE_TABLE, RESOURCES, ReadInputError, type Page, type Reader } from '../../read/index.js';
import { StartupError } from '../../workers/errors.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { AUTHOR, LONG_TAG, loadFixture, R1, R2, R3, R4, T0, type Fixture } from '../helpers/read-fixture.js';

let t: TestDatabase;
let f: Fixture;
let reader: Reader;
before(async () => {
  t = await freshDatabase({ deployment: 'bigbrotr' });
  f = await loadFixture(t.db, 'bigbrotr');
  reader = createReader(t.db, 'bigbrotr');
});
after(() => t.drop());

const read = <T = Record<string, unknown>>(name: string, params: Record<string, unknown> = {}) => reader.read(name, params) as Promise<T>;
const page = <T = Record<string, unknown>>(name: string, params: Record<string, unknown> = {}) => read<Page<T>>(name, params);

/** Every page of a resource, following `next`. */
async function walk<T>(r: Reader, name: string, params: Record<string, unknown>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const p = (await r.read(name, { ...params, ...(cursor ? { cursor } : {}) })) as Page<T>;
    out.push(...p.items);
    if (!p.next) return out;
    cursor = p.next;
  }
  throw new Error('more than 1000 pages');
}

/** Rejects with ReadInputError naming `param`, its message matching `message` and bounded. */
async function refused(p: Promise<unknown>, param: string, message?: RegExp): Promise<ReadInputError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ReadInputError, `expected ReadInputError, got ${String(err)}`);
    assert.equal(err.param, param, err.message);
    if (message) assert.match(err.message, message);
    assert.ok(err.message.length <= 300, 'messages are bounded');
    return err;
  }
  assert.fail(`expected ReadInputError(${param})`);
}

const newestFirst = (a: { created_at: number; id: string }, b: { created_at: number; id: string }) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1);
type Ev = { id: string; pubkey: string; created_at: number; kind: number; tags?: string[][]; content?: string; sig: string };

describe('read core: resources', () => {
  it('lists the sixteen resources of the contract', () => {
    assert.deepEqual([...RESOURCES].sort(), ['addressable', 'days', 'event', 'event_relays', 'events', 'kinds', 'networks', 'nips', 'pubkey', 'pubkeys', 'relay', 'relay_metadata', 'relays', 'replaceable', 'software', 'summary'].sort());
  });

  it('relays: filters by network, status, uptime, NIP, software and country; sorts', async () => {
    const all = await page<{ url: string }>('relays');
    assert.deepEqual(all.items.map((r) => r.url), [R3, R4, R1, R2].sort());
    assert.equal(all.next, null);
    const urls = async (p: Record<string, unknown>) => (await page<{ url: string }>('relays', p)).items.map((r) => r.url);
    assert.deepEqual(await urls({ network: 'tor' }), [R3]);
    assert.deepEqual(await urls({ status: 'up' }), [R3, R1].sort());
    assert.deepEqual(await urls({ status: 'down' }), [R2]);
    assert.deepEqual(await urls({ min_uptime: '0.9' }), [R3, R1].sort());
    assert.deepEqual(await urls({ nip: '50' }), [R1]);
    assert.deepEqual(await urls({ nip: 11 }), [R1, R2]);
    assert.deepEqual(await urls({ software: 'strfry' }), [R1]);
    assert.deepEqual(await urls({ country: 'de' }), [R1]);
    assert.deepEqual(await urls({ sort: 'events' }), [R1, R2, R3, R4]);
    assert.deepEqual((await urls({ sort: 'last_event' })).slice(0, 2), [R1, R3]);
    const one = (await page<Record<string, unknown>>('relays', { network: 'clearnet', software: 'strfry' })).items[0]!;
    assert.equal(one.name, 'One');
    assert.deepEqual(one.supported_nips, [1, 11, 50]);
    assert.equal(one.events, f.events.length);
    assert.equal(one.uptime_7d, 1);
  });

  it('relay: summary, latest documents, uptime per check, back-off, sync status and gaps; null when unknown', async () => {
    const r = await read<Record<string, any>>('relay', { url: 'WSS://Relay.Two.Example/' }); // normalised as the archive stores URLs
    assert.equal(r.url, R2);
    assert.equal(r.summary.up, false);
    assert.equal(r.nip11.document.version, '0.9', 'the latest NIP-11 document');
    assert.deepEqual(r.nip66, {});
    const open = r.uptime.find((u: { check: string }) => u.check === 'open');
    assert.equal(open.checks_24h, 2);
    assert.equal(open.uptime_24h, 0.5);
    assert.ok(open.last_ok_at < open.last_failed_at);
    assert.deepEqual({ step: r.backoff.step, failures: r.backoff.failures }, { step: 1, failures: 3 });
    assert.equal(r.sync.events, f.byAuthor.b.length);
    assert.equal(r.sync.open_gaps, 2);
    assert.deepEqual(r.sync.gaps.map((g: { second: number }) => g.second), [T0 + 10, T0 + 11]);
    assert.deepEqual(r.sync.gaps.map((g: { missing: number | null }) => g.missing), [700, null], 'each gap\'s size, where the relay counted');
    assert.deepEqual({ missing: r.sync.missing_events, unsized: r.sync.unsized_gaps }, { missing: 700, unsized: 1 }, 'the filled gap counts in neither');
    assert.equal(r.sync.refusal, null);
    const one = await read<Record<string, any>>('relay', { url: R1 });
    assert.deepEqual(Object.keys(one.nip66).sort(), ['geo', 'rtt']);
    assert.equal(one.nip66.geo.document.country, 'DE');
    assert.equal((await read<Record<string, any>>('relay', { url: R3 })).sync.refusal.reason, 'auth-required: no key configured');
    const never = await read<Record<string, any>>('relay', { url: R4 });
    assert.deepEqual([never.nip11, never.backoff, never.uptime, never.sync.events], [null, null, [], 0]);
    assert.equal(await read('relay', { url: 'wss://not-archived.example' }), null);
  });

  it('relay_metadata: the history newest first, of one type or all', async () => {
    const all = await walk<{ type: string; generated_at: number }>(reader, 'relay_metadata', { url: R1, limit: 1 });
    assert.equal(all.length, 4);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.generated_at >= all[i]!.generated_at);
    assert.equal(new Set(all.map((m) => `${m.type}@${m.generated_at}`)).size, 4, 'each row once');
    const rtt = await page<{ type: string }>('relay_metadata', { url: R1, type: 'nip66_rtt' });
    assert.deepEqual(rtt.items.map((m) => m.type), ['nip66_rtt', 'nip66_rtt']);
    assert.equal((await page('relay_metadata', { url: R2, type: 'nip11' })).items.length, 2);
  });

  it('events: NIP-01 objects newest first, filtered by author, kind, time, tag and ids', async () => {
    const first = await page<Ev>('events', { limit: 3 });
    assert.deepEqual(first.items, [...f.events].sort(newestFirst).slice(0, 3).map((e) => ({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig })));
    assert.deepEqual(Object.keys(first.items[0]!), ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig']);
    const ids = async (p: Record<string, unknown>) => (await walk<Ev>(reader, 'events', { limit: 500, ...p })).map((e) => e.id);
    const expect = (pred: (e: Ev) => boolean) => f.events.filter(pred).sort(newestFirst).map((e) => e.id);
    assert.deepEqual(await ids({ author: AUTHOR.b }), expect((e) => e.pubkey === AUTHOR.b));
    assert.deepEqual(await ids({ kind: '7' }), expect((e) => e.kind === 7));
    assert.deepEqual(await ids({ author: AUTHOR.a, kind: 0 }), expect((e) => e.pubkey === AUTHOR.a && e.kind === 0));
    assert.deepEqual(await ids({ since: T0 + 100_000, until: String(T0 + 110_000) }), expect((e) => e.created_at >= T0 + 100_000 && e.created_at <= T0 + 110_000));
    assert.deepEqual(await ids({ tag: 't:nostr' }), expect((e) => (e.tags ?? []).some((x) => x[0] === 't' && x[1] === 'nostr')));
    assert.deepEqual(await ids({ tag: `p:${AUTHOR.b}`, kind: 3 }), expect((e) => e.kind === 3));
    assert.deepEqual(await ids({ tag: `r:${LONG_TAG}` }), [f.byAuthor.a[7]!.id], 'a value longer than the index keeps is matched whole');
    assert.deepEqual(await ids({ tag: `r:${LONG_TAG.slice(0, 250)}` }), [], 'and not by its first 200 characters');
    const wanted = [f.events[5]!.id, f.events[150]!.id, 'f'.repeat(64)];
    assert.deepEqual(await ids({ ids: wanted.join(',') }), expect((e) => wanted.includes(e.id)));
    assert.deepEqual(await ids({ ids: wanted, author: AUTHOR.a }), expect((e) => wanted.includes(e.id) && e.pubkey === AUTHOR.a));
    assert.deepEqual(await ids({ tag: 't:nothing-like-it' }), []);
  });

  it('event and event_relays: the event with its relays; null when not archived', async () => {
    const e = f.byAuthor.b[0]!;
    const r = await read<{ event: Ev; relays: Array<{ url: string; seen_at: number }>; relays_total: number }>('event', { id: e.id });
    assert.deepEqual(r.event, e);
    assert.deepEqual(r.relays.map((x) => x.url).sort(), [R1, R2]);
    assert.equal(r.relays_total, 2);
    assert.equal(await read('event', { id: 'a'.repeat(64) }), null);
    const walked = await walk<{ url: string }>(reader, 'event_relays', { id: e.id, limit: 1 });
    assert.deepEqual(walked.map((x) => x.url), [R1, R2]);
    assert.deepEqual(await page('event_relays', { id: 'a'.repeat(64) }), { items: [], next: null });
  });

  it('kinds, pubkeys, pubkey, days: the analytics tables, overall and per relay', async () => {
    const kinds = await walk<{ kind: number; events: number }>(reader, 'kinds', { limit: 2 });
    assert.deepEqual(kinds.map((k) => [k.kind, k.events]), [[1, 150], [7, 5], [30023, 3], [0, 2], [3, 1], [10002, 1]]);
    const r3 = await page<{ kind: number; events: number }>('kinds', { relay: R3 });
    assert.deepEqual(r3.items.map((k) => [k.kind, k.events]), [[7, 5]]);
    const authors = await walk<{ pubkey: string; events: number }>(reader, 'pubkeys', { limit: 1 });
    assert.deepEqual(authors.map((a) => [a.pubkey, a.events]), [[AUTHOR.a, 124], [AUTHOR.b, 33], [AUTHOR.c, 5]]);
    assert.deepEqual((await page<{ pubkey: string }>('pubkeys', { relay: R2 })).items.map((a) => a.pubkey), [AUTHOR.b]);
    const a = await read<Record<string, any>>('pubkey', { pubkey: AUTHOR.a });
    assert.equal(a.events, 124);
    assert.equal(a.profile_id, f.profile.current.id, 'the newer kind 0');
    assert.equal(a.contacts_id, f.byAuthor.a.find((e) => e.kind === 3)!.id);
    assert.equal(a.relay_list_id, f.byAuthor.a.find((e) => e.kind === 10002)!.id);
    assert.deepEqual(a.replaceable.map((x: { kind: number }) => x.kind), [0, 3, 10002]);
    assert.equal(await read('pubkey', { pubkey: 'b'.repeat(64) }), null);
    const days = await walk<{ day: string; events: number }>(reader, 'days', { limit: 1 });
    assert.deepEqual(days.map((d) => d.day), ['2023-11-14', '2023-11-15', '2023-11-16']);
    assert.equal(days.reduce((s, d) => s + d.events, 0), f.events.length);
    const oneDay = await page<{ day: string; events: number }>('days', { since: '2023-11-14', until: '2023-11-14', kind: '7' });
    assert.deepEqual(oneDay.items, [{ day: '2023-11-14', events: 5 }]);
  });

  it('networks, software, nips and summary: the views and the totals', async () => {
    assert.deepEqual((await page('networks')).items.map((n: any) => [n.network, n.relays, n.up]), [['clearnet', 3, 1], ['tor', 1, 1]]);
    assert.deepEqual((await walk<any>(reader, 'software', { limit: 1 })).map((s) => [s.software, s.relays]), [['', 2], ['nostr-rs-relay', 1], ['strfry', 1]]);
    assert.deepEqual((await walk<any>(reader, 'nips', { limit: 2 })).map((n) => [n.nip, n.relays]), [[1, 2], [11, 2], [50, 1]]);
    const s = await read<Record<string, unknown>>('summary');
    assert.deepEqual(
      { relays: s.relays, up: s.relays_up, events: s.events, kinds: s.kinds, pubkeys: s.pubkeys, exact: s.pubkeys_exact, links: s.links, networks: s.networks },
      { relays: 4, up: 2, events: f.events.length, kinds: 6, pubkeys: 3, exact: true, links: f.events.length + f.byAuthor.b.length + f.byAuthor.c.length, networks: { clearnet: 3, tor: 1 } },
    );
    assert.equal(typeof s.refreshed_at, 'number');
  });

  it('replaceable and addressable: the current version; null when there is none', async () => {
    assert.deepEqual(await read('replaceable', { pubkey: AUTHOR.a, kind: '0' }), f.profile.current);
    assert.equal(await read('replaceable', { pubkey: AUTHOR.c, kind: 0 }), null);
    assert.deepEqual(await read('addressable', { pubkey: AUTHOR.b, kind: 30023, d: 'article-1' }), f.article.current);
    assert.deepEqual(await read('addressable', { pubkey: AUTHOR.b, kind: 30023, d: '' }), f.article.noD);
    assert.equal(await read('addressable', { pubkey: AUTHOR.b, kind: 30023, d: 'article-2' }), null);
    await refused(read('replaceable', { pubkey: AUTHOR.a, kind: 1 }), 'kind', /replaceable kind/);
    await refused(read('addressable', { pubkey: AUTHOR.b, kind: 1, d: '' }), 'kind', /30000 to 39999/);
  });

  it('every answer matches its resource\'s documented output schema', async () => {
    const samples: Record<string, Record<string, unknown>> = {
      relays: {}, relay: { url: R1 }, relay_metadata: { url: R1 }, events: {}, event: { id: f.events[0]!.id }, event_relays: { id: f.events[0]!.id },
      kinds: {}, pubkeys: {}, pubkey: { pubkey: AUTHOR.a }, days: {}, networks: {}, software: {}, nips: {},
      replaceable: { pubkey: AUTHOR.a, kind: 0 }, addressable: { pubkey: AUTHOR.b, kind: 30023, d: 'article-1' }, summary: {},
    };
    for (const name of RESOURCES) {
      const out = await reader.read(name, samples[name]!);
      const r = RESOURCE_TABLE[name].output.safeParse(out);
      assert.ok(r.success, `${name}: ${r.error?.message}`);
    }
  });
});

describe('read core: pages', () => {
  it('walks every event once, in order, at any page size, across ties on created_at', async () => {
    const all = [...f.events].sort(newestFirst).map((e) => e.id);
    for (const limit of [1, 7, 50, 500]) assert.deepEqual((await walk<Ev>(reader, 'events', { limit })).map((e) => e.id), all, `limit ${limit}`);
    const c = await walk<Ev>(reader, 'events', { author: AUTHOR.c, limit: 2 }); // five events at one second
    assert.deepEqual(c.map((e) => e.id), f.byAuthor.c.map((e) => e.id).sort().reverse());
  });

  it('walks relays in every sort, each once', async () => {
    for (const sort of ['url', 'events', 'uptime', 'last_event']) {
      const urls = (await walk<{ url: string }>(reader, 'relays', { sort, limit: 1 })).map((r) => r.url);
      assert.deepEqual([...urls].sort(), [R1, R2, R3, R4].sort(), sort);
    }
  });

  it('a full page says `next`; the last says null; limit defaults to 50 and is at most 500', async () => {
    const p = await page('events');
    assert.equal(p.items.length, 50);
    assert.equal(typeof p.next, 'string');
    assert.equal((await page('events', { limit: 500 })).next, null);
    await refused(read('events', { limit: 501 }), 'limit', /from 1 to 500/);
    await refused(read('events', { limit: '100000000000' }), 'limit');
    await refused(read('events', { limit: 0 }), 'limit');
    await refused(read('events', { limit: -1 }), 'limit');
    await refused(read('events', { limit: 2.5 }), 'limit');
  });

  it('refuses garbled, forged and other resources\' cursors', async () => {
    const next = (await page('events', { limit: 1 })).next!;
    await refused(read('events', { cursor: 'not a cursor!' }), 'cursor', /not a cursor/);
    await refused(read('events', { cursor: `${next}x` }), 'cursor');
    await refused(read('events', { cursor: 'A'.repeat(5000) }), 'cursor');
    await refused(read('events', { cursor: Buffer.from('{"a":1}').toString('base64url') }), 'cursor', /not a cursor/);
    await refused(read('events', { cursor: Buffer.from(JSON.stringify(['events', "1; DROP TABLE event", 'x'])).toString('base64url') }), 'cursor', /damaged/);
    await refused(read('events', { cursor: Buffer.from(JSON.stringify(['events', 1e300, 'f'.repeat(64)])).toString('base64url') }), 'cursor');
    await refused(read('kinds', { cursor: next }), 'cursor', /another resource/);
    const byUrl = (await page('relays', { limit: 1 })).next!;
    await refused(read('relays', { sort: 'events', cursor: byUrl }), 'cursor', /sort=url/);
    // A well-formed cursor made by hand is only a position: it reads from there.
    const forged = Buffer.from(JSON.stringify(['events', T0 + 1000, 'f'.repeat(64)])).toString('base64url');
    assert.deepEqual((await page<Ev>('events', { cursor: forged, limit: 500 })).items.map((e) => e.created_at <= T0 + 1000), Array(f.events.filter((e) => e.created_at <= T0 + 1000).length).fill(true));
  });
});

describe('read core: bad and hostile parameters', () => {
  it('names an unknown resource and unknown parameters', async () => {
    await refused(reader.read('users', {}), 'resource', /unknown resource "users" \(one of relays, relay/);
    await refused(reader.read('__proto__', {}), 'resource');
    await refused(reader.read('x'.repeat(100_000), {}), 'resource');
    await refused(read('events', { author: AUTHOR.a, autor: AUTHOR.a }), 'autor', /unknown parameter "autor" \(allowed: ids, author/);
    await refused(read('summary', { x: 1 }), 'x', /allowed: none/);
    await refused(read('events', { ['k'.repeat(10_000)]: 1 }), 'k'.repeat(63) + '…');
    await refused(reader.read('events', 'limit=5' as never), 'params');
    assert.equal((await reader.read('summary', null as never) as { relays: number }).relays, 4, 'no params: null is fine');
  });

  it('refuses SQL-shaped, oversized, wrongly typed and NUL-holding values without echoing them', async () => {
    const sql = "1' OR '1'='1; DROP TABLE event; --";
    await refused(read('events', { author: sql }), 'author', /64 lower-case hex/);
    await refused(read('events', { author: AUTHOR.a.toUpperCase() }), 'author');
    await refused(read('events', { kind: sql }), 'kind', /integer from 0 to 65535/);
    await refused(read('events', { kind: '1e3' }), 'kind');
    await refused(read('events', { kind: ' 1' }), 'kind');
    await refused(read('events', { kind: true }), 'kind');
    await refused(read('events', { kind: [1] }), 'kind');
    await refused(read('events', { kind: { $gt: 1 } }), 'kind');
    await refused(read('events', { kind: 65536 }), 'kind');
    await refused(read('events', { since: '' }), 'since');
    await refused(read('events', { ids: [] }), 'ids', /at least one/);
    await refused(read('events', { ids: `${AUTHOR.a},${sql}` }), 'ids', /\[1\]/);
    await refused(read('events', { ids: Array(501).fill(AUTHOR.a) }), 'ids', /at most 500/);
    await refused(read('events', { tag: sql }), 'tag', /single-letter tag/);
    await refused(read('events', { tag: `t:${'x'.repeat(100_000)}` }), 'tag', /at most/);
    await refused(read('events', { tag: 't:a\u0000b' }), 'tag', /NUL/);
    await refused(read('relays', { software: 'a\u0000' }), 'software', /NUL/);
    await refused(read('relays', { country: "D'" }), 'country');
    await refused(read('relays', { status: 'sideways' }), 'status', /up or down/);
    await refused(read('relays', { min_uptime: '1.5' }), 'min_uptime');
    await refused(read('relays', { sort: sql }), 'sort', /url, events, uptime, last_event/);
    await refused(read('relays', { network: 'internet' }), 'network');
    await refused(read('relay', { url: sql }), 'url', /not a relay URL/);
    await refused(read('relay', { url: 'https://relay.example' }), 'url', /scheme/);
    await refused(read('relay', { url: `wss://${'a'.repeat(100_000)}.example` }), 'url', /too long/);
    await refused(read('relay', {}), 'url');
    await refused(read('days', { since: '2023-02-30' }), 'since', /real date/);
    await refused(read('days', { since: '20231115' }), 'since');
    for (const e of [await refused(read('relay', { url: `wss://x.example/${'\u202e'.repeat(5000)}` }), 'url')]) assert.ok(!e.message.includes('\u202e'.repeat(50)));
  });

  it('takes unicode where text is free, and finds nothing rather than failing', async () => {
    assert.deepEqual(await page('relays', { software: "strfry' OR 1=1 --" }), { items: [], next: null });
    assert.deepEqual(await page('relays', { software: '日本語 🚀 \ud800' }), { items: [], next: null });
    assert.deepEqual(await page('events', { tag: 't:ünïcödé 🚀' }), { items: [], next: null });
    assert.equal(await read('addressable', { pubkey: AUTHOR.b, kind: 30023, d: "'; DROP TABLE event; --" }), null);
  });
});

describe('read core: indexes', () => {
  // With sequential scans priced out, a plan still holding one means no index can serve the query.
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['newest', {}, /created_at_id/],
    ['author', { author: AUTHOR.a }, /pubkey_created_at_id/],
    ['kind', { kind: 1 }, /kind_created_at_id/],
    ['author + kind', { author: AUTHOR.a, kind: 1 }, /(pubkey|kind)_created_at_id/],
    ['since/until', { since: T0, until: T0 + 5000 }, /created_at_id/],
    ['tag', { tag: 't:nostr' }, /event_tag_values/],
    ['tag + author', { tag: 't:nostr', author: AUTHOR.a }, /event_tag_values|pubkey_created_at_id/],
    ['tag + kind + since', { tag: 't:nostr', kind: 1, since: T0 }, /event_tag_values|kind_created_at_id/],
    ['ids', { ids: [f?.events[0]?.id ?? 'a'.repeat(64)] }, /pkey/],
    ['author + cursor', { author: AUTHOR.a, cursor: Buffer.from(JSON.stringify(['events', T0 + 5000, 'f'.repeat(64)])).toString('base64url') }, /pubkey_created_at_id/],
  ];
  it('each filter combination of `events` reads an index, never the whole archive', async () => {
    const c = await t.db.connect();
    try {
      await c.query('SET enable_seqscan = off');
      for (const [name, params, index] of cases) {
        const q = eventsQuery('bigbrotr', { limit: 51, ...params } as never);
        const plan = (await c.query(`EXPLAIN ${q.text}`, q.values)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
        assert.doesNotMatch(plan, /Seq Scan on event_p/, `${name}:\n${plan}`);
        assert.match(plan, index, `${name}:\n${plan}`);
      }
    } finally {
      c.release();
    }
  });
});

describe('read core: the reader role', () => {
  const config = (over: Partial<Config['api']> = {}, url = t.url): Config => {
    const base = testConfig(url);
    return { ...base, api: { ...base.api, ...over } };
  };

  it('database.url reads as bigbrotr_reader: read-only, with the statement timeout; writes are refused', async () => {
    const db = await connectReader(config({ statement_timeout: 1500 }));
    try {
      const { rows } = await db.query(`SELECT current_user AS u, current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS st`);
      assert.deepEqual(rows[0], { u: 'bigbrotr_reader', ro: 'on', st: '1500ms' });
      assert.equal(((await createReader(db, 'bigbrotr').read('summary', {})) as { events: number }).events, f.events.length);
      await assert.rejects(db.query(`INSERT INTO relay VALUES ('wss://evil.example', 'clearnet', 1)`), /read-only transaction/);
      const c = await db.connect();
      try {
        await c.query('BEGIN READ WRITE');
        await assert.rejects(c.query(`INSERT INTO relay VALUES ('wss://evil.example', 'clearnet', 1)`), (err: pg.DatabaseError) => err.code === '42501' && /permission denied/.test(err.message));
        await c.query('ROLLBACK');
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE');
        await assert.rejects(c.query('SELECT analytics_refresh($1)', ['relay_summary']), /permission denied/);
        await c.query('ROLLBACK');
      } finally {
        c.release();
      }
      await assert.rejects(db.query('SELECT pg_sleep(3)'), /statement timeout/);
    } finally {
      await db.end();
    }
  });

  it('api.database_url: a login role that is a member of bigbrotr_reader', async () => {
    const role = `bigbrotr_api_test_${process.pid}`;
    await t.db.query(`DROP ROLE IF EXISTS ${role}`);
    await t.db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-pw' IN ROLE bigbrotr_reader`);
    try {
      const u = new URL(t.url);
      u.username = role;
      u.password = 'reader-pw';
      const db = await connectReader(config({ database_url: u.toString() }, ''));
      try {
        const { rows } = await db.query(`SELECT current_user AS u, current_setting('transaction_read_only') AS ro`);
        assert.deepEqual(rows[0], { u: role, ro: 'on' });
        assert.equal(((await createReader(db, 'bigbrotr').read('kinds', { limit: 1 })) as Page).items.length, 1);
        await assert.rejects(db.query(`INSERT INTO relay VALUES ('wss://evil.example', 'clearnet', 1)`), /read-only/);
      } finally {
        await db.end();
      }
    } finally {
      await t.db.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('a clear StartupError when the role cannot be taken, or there is no database', async () => {
    const role = `bigbrotr_nobody_${process.pid}`;
    await t.db.query(`DROP ROLE IF EXISTS ${role}`);
    await t.db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    try {
      const u = new URL(t.url);
      u.username = role;
      u.password = 'pw';
      await assert.rejects(connectReader(config({}, u.toString())), (err: Error) => err instanceof StartupError && /cannot read as role bigbrotr_reader/.test(err.message) && /GRANT bigbrotr_reader/.test(err.message));
      await assert.rejects(connectReader(config({}, '')), (err: Error) => err instanceof StartupError && /API_DATABASE_URL/.test(err.message));
    } finally {
      await t.db.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});

describe('read core: lilbrotr', () => {
  let l: TestDatabase;
  let lf: Fixture;
  let lr: Reader;
  before(async () => {
    l = await freshDatabase({ deployment: 'lilbrotr' });
    lf = await loadFixture(l.db, 'lilbrotr');
    lr = createReader(l.db, 'lilbrotr');
  });
  after(() => l?.drop());

  it('serves events with the fields lilbrotr keeps, and every statistic', async () => {
    const p = (await lr.read('events', { author: AUTHOR.c })) as Page<Ev>;
    assert.equal(p.items.length, 5);
    assert.deepEqual(Object.keys(p.items[0]!), ['id', 'pubkey', 'created_at', 'kind', 'sig']);
    const all = await walk<Ev>(lr, 'events', { limit: 100 });
    assert.equal(all.length, lf.events.length);
    assert.equal(((await lr.read('summary', {})) as { events: number }).events, lf.events.length);
    assert.equal(((await lr.read('replaceable', { pubkey: AUTHOR.a, kind: 0 })) as Ev).id, lf.profile.current.id);
    assert.equal(((await lr.read('event', { id: lf.events[0]!.id })) as { relays_total: number }).relays_total, 1);
    for (const name of ['relays', 'kinds', 'pubkeys', 'days', 'networks', 'software', 'nips']) assert.ok(((await lr.read(name, {})) as Page).items.length > 0, name);
  });

  it('refuses tag search and addressable events with a clear message', async () => {
    await refused(lr.read('events', { tag: 't:nostr' }), 'tag', /bigbrotr deployment/);
    await refused(lr.read('addressable', { pubkey: AUTHOR.b, kind: 30023, d: '' }), 'resource', /bigbrotr deployment/);
  });
});
