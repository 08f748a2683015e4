// A small archive whose every figure is known, for the read core's and the API's tests: four
// relays (one on Tor, one never checked) with NIP-11 and NIP-66 documents, checks, a back-off,
// gaps and a refusal; 162 signed events by three authors (replaceable and addressable versions,
// tags, ties on created_at), linked to the relays; analytics refreshed as the Refresher does.
import { createHash } from 'node:crypto';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { Db } from '../../activities/db/db.js';
import { refreshAll } from '../../activities/refresher/refresher.js';
import { insertEvents, type NostrEvent } from '../../activities/db/store.js';
import type { Deployment } from '../../common/config.js';

export const NOW = Math.floor(Date.now() / 1000);
export const T0 = 1_700_000_000; // 2023-11-14 22:13:20 UTC
export const R1 = 'wss://relay.one.example';
export const R2 = 'wss://relay.two.example';
export const R3 = `ws://${'a'.repeat(56)}.onion`;
export const R4 = 'wss://never-checked.example';
export const LONG_TAG = 'x'.repeat(300);

const keys = { a: generateSecretKey(), b: generateSecretKey(), c: generateSecretKey() };
export const AUTHOR = { a: getPublicKey(keys.a), b: getPublicKey(keys.b), c: getPublicKey(keys.c) };

/** A signed event as a plain object (nostr-tools marks its own with a symbol, which deepEqual would see). */
function sign(sk: Uint8Array, kind: number, created_at: number, tags: string[][] = [], content = ''): NostrEvent {
  const e = finalizeEvent({ kind, created_at, tags, content }, sk);
  return { id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig };
}

export interface Fixture {
  events: NostrEvent[];
  byAuthor: Record<'a' | 'b' | 'c', NostrEvent[]>;
  profile: { old: NostrEvent; current: NostrEvent };
  article: { old: NostrEvent; current: NostrEvent; noD: NostrEvent };
}

export function makeEvents(): Fixture {
  const a: NostrEvent[] = [];
  for (let i = 0; i < 120; i++) {
    const tags = i % 3 === 0 ? [['t', 'nostr']] : i % 3 === 1 ? [['t', 'bitcoin'], ['p', AUTHOR.b]] : [];
    if (i === 7) tags.push(['r', LONG_TAG]);
    a.push(sign(keys.a, 1, T0 + i * 1000, tags, `note ${i} ✓ ünïcödé`));
  }
  const profileOld = sign(keys.a, 0, T0, [], '{"name":"old"}');
  const profile = sign(keys.a, 0, T0 + 50, [], '{"name":"alice"}');
  a.push(profileOld, profile, sign(keys.a, 3, T0 + 60, [['p', AUTHOR.b]]), sign(keys.a, 10002, T0 + 70, [['r', R1]]));
  const b: NostrEvent[] = [];
  for (let i = 0; i < 30; i++) b.push(sign(keys.b, 1, T0 + 500 + i * 7, [['t', 'nostr']], `b ${i}`));
  const articleOld = sign(keys.b, 30023, T0 + 100, [['d', 'article-1']], 'draft');
  const article = sign(keys.b, 30023, T0 + 200, [['d', 'article-1']], 'final');
  const noD = sign(keys.b, 30023, T0 + 150, [], 'no d tag');
  b.push(articleOld, article, noD);
  // Five at the same second: paging must tell them apart by id.
  const c = Array.from({ length: 5 }, (_, i) => sign(keys.c, 7, T0 + 3000, [['e', a[0]!.id]], `+${i}`));
  return { events: [...a, ...b, ...c], byAuthor: { a, b, c }, profile: { old: profileOld, current: profile }, article: { old: articleOld, current: article, noD } };
}

const sha = (doc: unknown) => createHash('sha256').update(JSON.stringify(doc)).digest();

export async function loadFixture(db: Db, deployment: Deployment): Promise<Fixture> {
  const f = makeEvents();
  await db.query(`SELECT relay_insert($1::text[], $2::text[], $3::bigint[])`, [
    [R1, R2, R3, R4],
    ['clearnet', 'clearnet', 'tor', 'clearnet'],
    [T0 - 100, T0 - 90, T0 - 80, T0 - 70],
  ]);
  const docs = {
    nip11One: { name: 'One', software: 'strfry', version: '1.0', supported_nips: [1, 11, 50] },
    nip11TwoOld: { name: 'Two', software: 'nostr-rs-relay', version: '0.8', supported_nips: [1] },
    nip11Two: { name: 'Two', software: 'nostr-rs-relay', version: '0.9', supported_nips: [1, 11] },
    geoOne: { country: 'DE', city: 'Berlin' },
    rttOne: { rtt_open: 120, rtt_read: 200 },
    failTwo: { check: 'open', code: 'timeout', reason: 'timed out' },
  };
  const ids = Object.fromEntries(Object.entries(docs).map(([k, d]) => [k, sha(d)])) as Record<keyof typeof docs, Buffer>;
  await db.query(`SELECT metadata_insert($1::bytea[], $2::jsonb[])`, [Object.values(ids), Object.values(docs).map((d) => JSON.stringify(d))]);
  const rm: Array<[string, string, number, Buffer]> = [
    [R1, 'nip11', NOW - 7200, ids.nip11One],
    [R1, 'nip66_geo', NOW - 7200, ids.geoOne],
    [R1, 'nip66_rtt', NOW - 7200, ids.rttOne],
    [R1, 'nip66_rtt', NOW - 3600, ids.rttOne],
    [R2, 'nip11', NOW - 86400 * 2, ids.nip11TwoOld],
    [R2, 'nip11', NOW - 3600, ids.nip11Two],
  ];
  await db.query(`SELECT relay_metadata_insert($1::text[], $2::text[], $3::bigint[], $4::bytea[])`, [
    rm.map((r) => r[0]),
    rm.map((r) => r[1]),
    rm.map((r) => r[2]),
    rm.map((r) => r[3]),
  ]);
  const checks: Array<[string, string, number, string, string | null, Buffer | null]> = [
    [R1, 'open', NOW - 7200, 'ok', null, null],
    [R1, 'open', NOW - 3600, 'ok', null, null],
    [R1, 'nip11', NOW - 3600, 'ok', null, null],
    [R2, 'open', NOW - 7200, 'ok', null, null],
    [R2, 'open', NOW - 3600, 'failed', 'timeout', ids.failTwo],
    [R3, 'open', NOW - 3600, 'ok', null, null],
  ];
  await db.query(`SELECT relay_check_insert($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])`, [
    checks.map((c) => c[0]),
    checks.map((c) => c[1]),
    checks.map((c) => c[2]),
    checks.map((c) => c[3]),
    checks.map((c) => c[4]),
    checks.map((c) => c[5]),
  ]);
  await db.query(`INSERT INTO relay_backoff VALUES ($1, 3, 1, 10800000, $2)`, [R2, NOW - 3600]);
  await db.query(
    `INSERT INTO sync_gap (relay_url, second, received, reason, recorded_at, tried_at, tries, filled_at, missing) VALUES
       ($1, $2, 500, 'cap', $3, $3, 1, NULL, 700), ($1, $2 + 1, 500, 'cap', $3, $3, 2, NULL, NULL), ($1, $2 + 2, 500, 'cap', $3, $3, 1, $3, 5)`,
    [R2, T0 + 10, NOW - 1000],
  );
  await db.query(`INSERT INTO sync_refusal VALUES ($1, 'auth-required: no key configured', $2, $2)`, [R3, NOW - 500]);

  const { inserted, rejected } = await insertEvents(db, f.events);
  if (inserted !== f.events.length) throw new Error(`fixture: ${inserted} events inserted, ${JSON.stringify(rejected)}`);
  const link = (events: NostrEvent[], url: string, seenAt: number) =>
    db.query(`SELECT event_relay_link($1::bytea[], $2::text, $3::bigint)`, [events.map((e) => Buffer.from(e.id, 'hex')), url, seenAt]);
  await link(f.events, R1, NOW - 100);
  await link(f.byAuthor.b, R2, NOW - 50);
  await link(f.byAuthor.c, R3, NOW - 10);
  await refreshAll(db, deployment);
  return f;
}

