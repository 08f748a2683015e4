// The statistics: read from the analytics tables and views (sql/0013), which the Refresher keeps
// current; nothing here counts the archive itself.
import { z } from 'zod';
import { NETWORKS } from '../common/relay-url.js';
import { decodeCursor } from './cursor.js';
import { cursor, day, hex64, hexBytes, kind, limit, relayUrl } from './params.js';
import { Query, hexString, pageOf, resource, toPage, unixSeconds } from './resource.js';

const count = z.number().int();
const pubkeyHex = z.string().regex(/^[0-9a-f]{64}$/);
const bigintKey = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const kinds = resource({
  summary: 'Events per kind, most first (of one relay with `relay`)',
  params: z.strictObject({ relay: relayUrl.optional(), limit, cursor }),
  output: pageOf(z.object({ kind: z.number().int(), events: count, first_at: unixSeconds, last_at: unixSeconds })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    // A few thousand kinds at most (per relay: its primary key's range): sorted whole.
    const table = p.relay ? 'relay_kind_stats' : 'kind_stats';
    if (p.relay) q.where.push(`relay_url = ${q.param(p.relay)}::text`);
    if (p.cursor !== undefined) {
      const [events, kind] = decodeCursor('kinds', p.cursor, z.tuple([bigintKey, z.number().int().min(0).max(65535)]));
      const e = q.param(events);
      q.where.push(`(events < ${e}::bigint OR (events = ${e}::bigint AND kind > ${q.param(kind)}::int))`);
    }
    const { rows } = await db.query<{ item: { kind: number; events: number } }>(
      `SELECT json_build_object('kind', kind, 'events', events, 'first_at', first_at, 'last_at', last_at) AS item
       FROM ${table} ${q.whereClause()} ORDER BY events DESC, kind LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('kinds', rows, p.limit, (r) => [r.item.events, r.item.kind]);
  },
});

export const pubkeys = resource({
  summary: 'Authors by events archived, most first (of one relay with `relay`)',
  params: z.strictObject({ relay: relayUrl.optional(), limit, cursor }),
  output: pageOf(z.object({ pubkey: hexString, events: count, first_at: unixSeconds, last_at: unixSeconds })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    const table = p.relay ? 'relay_pubkey_stats' : 'pubkey_stats';
    const scope = p.relay ? `relay_url = ${q.param(p.relay)}::text AND ` : '';
    const n = q.param(p.limit + 1);
    const item = `json_build_object('pubkey', encode(pubkey, 'hex'), 'events', events, 'first_at', first_at, 'last_at', last_at) AS item, events, pubkey`;
    let sql: string;
    if (p.cursor === undefined) {
      sql = `SELECT ${item} FROM ${table} WHERE ${scope}true ORDER BY events DESC, pubkey LIMIT ${n}`;
    } else {
      const [events, pubkey] = decodeCursor('pubkeys', p.cursor, z.tuple([bigintKey, pubkeyHex]));
      const e = q.param(events);
      // Millions of authors: the page after (events, pubkey) is two ranges of the (events DESC,
      // pubkey) index (the rest of this count's authors, then the lower counts), never a scan from the top.
      sql = `SELECT item FROM (
               (SELECT ${item} FROM ${table} WHERE ${scope}events = ${e}::bigint AND pubkey > ${q.param(hexBytes(pubkey))}::bytea ORDER BY pubkey LIMIT ${n})
               UNION ALL
               (SELECT ${item} FROM ${table} WHERE ${scope}events < ${e}::bigint ORDER BY events DESC, pubkey LIMIT ${n})) AS x
             ORDER BY x.events DESC, x.pubkey LIMIT ${n}`;
    }
    const { rows } = await db.query<{ item: { pubkey: string; events: number } }>(sql, q.values);
    return toPage('pubkeys', rows, p.limit, (r) => [r.item.events, r.item.pubkey]);
  },
});

const REPLACEABLE_SHOWN = 100;

export const pubkey = resource({
  summary: "One author: events archived, first and last, and the ids of its current profile, contacts, relay list and other replaceable events",
  params: z.strictObject({ pubkey: hex64('author pubkey') }),
  output: z.object({
    pubkey: hexString,
    events: count,
    first_at: unixSeconds,
    last_at: unixSeconds,
    profile_id: z.string().nullable().meta({ description: 'current kind 0' }),
    contacts_id: z.string().nullable().meta({ description: 'current kind 3' }),
    relay_list_id: z.string().nullable().meta({ description: 'current kind 10002' }),
    replaceable: z.array(z.object({ kind: z.number().int(), event_id: hexString, created_at: unixSeconds })).meta({ description: `current replaceable events (first ${REPLACEABLE_SHOWN} kinds)` }),
  }),
  paged: false,
  async run({ db }, p) {
    const current = (kind: number) => `(SELECT encode(event_id, 'hex') FROM replaceable_current WHERE pubkey = s.pubkey AND kind = ${kind})`;
    const { rows } = await db.query<{ item: unknown }>(
      `SELECT json_build_object('pubkey', encode(s.pubkey, 'hex'), 'events', s.events, 'first_at', s.first_at, 'last_at', s.last_at,
         'profile_id', ${current(0)}, 'contacts_id', ${current(3)}, 'relay_list_id', ${current(10002)},
         'replaceable', (SELECT coalesce(json_agg(json_build_object('kind', c.kind, 'event_id', encode(c.event_id, 'hex'), 'created_at', c.created_at) ORDER BY c.kind), '[]')
                         FROM (SELECT kind, event_id, created_at FROM replaceable_current WHERE pubkey = s.pubkey ORDER BY kind LIMIT ${REPLACEABLE_SHOWN}) AS c)) AS item
       FROM pubkey_stats s WHERE s.pubkey = $1::bytea`,
      [hexBytes(p.pubkey)],
    );
    return rows[0]?.item ?? null;
  },
});

export const days = resource({
  summary: 'Events per UTC day (of one kind with `kind`), oldest first',
  params: z.strictObject({
    since: day('first day, YYYY-MM-DD').optional(),
    until: day('last day, YYYY-MM-DD').optional(),
    kind: kind.optional(),
    limit,
    cursor,
  }),
  output: pageOf(z.object({ day: z.string().meta({ description: 'YYYY-MM-DD' }), events: count })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    if (p.kind !== undefined) q.where.push(`kind = ${q.param(p.kind)}::int`);
    if (p.since) q.where.push(`day >= ${q.param(p.since)}::date`);
    if (p.until) q.where.push(`day <= ${q.param(p.until)}::date`);
    if (p.cursor !== undefined) {
      const [after] = decodeCursor('days', p.cursor, z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}$/)]));
      q.where.push(`day > ${q.param(after)}::date`);
    }
    const { rows } = await db.query<{ item: { day: string } }>(
      `SELECT json_build_object('day', to_char(day, 'YYYY-MM-DD'), 'events', events) AS item
       FROM ${p.kind === undefined ? 'day_stats' : 'day_kind_stats'} ${q.whereClause()} ORDER BY day LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('days', rows, p.limit, (r) => [r.item.day]);
  },
});

// The three views over relay_summary: one row per network, software or NIP.

export const networks = resource({
  summary: 'Relays per network',
  params: z.strictObject({ limit, cursor }),
  output: pageOf(z.object({ network: z.enum(NETWORKS), relays: count, up: count, events_linked: count, last_seen_at: unixSeconds.nullable() })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    if (p.cursor !== undefined) q.where.push(`network > ${q.param(decodeCursor('networks', p.cursor, z.tuple([z.enum(NETWORKS)]))[0])}::text`);
    const { rows } = await db.query<{ item: { network: string } }>(
      `SELECT json_build_object('network', network, 'relays', relays, 'up', up, 'events_linked', coalesce(events_linked, 0), 'last_seen_at', last_seen_at) AS item
       FROM network_stats ${q.whereClause()} ORDER BY network LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('networks', rows, p.limit, (r) => [r.item.network]);
  },
});

export const software = resource({
  summary: 'Relays per NIP-11 software, most first ("" for none given)',
  params: z.strictObject({ limit, cursor }),
  output: pageOf(z.object({ software: z.string(), relays: count, up: count, versions: count })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    if (p.cursor !== undefined) {
      const [relays, name] = decodeCursor('software', p.cursor, z.tuple([bigintKey, z.string().max(200)]));
      const r = q.param(relays);
      q.where.push(`(relays < ${r}::bigint OR (relays = ${r}::bigint AND software > ${q.param(name)}::text))`);
    }
    const { rows } = await db.query<{ item: { software: string; relays: number } }>(
      `SELECT json_build_object('software', software, 'relays', relays, 'up', up, 'versions', versions) AS item
       FROM software_stats ${q.whereClause()} ORDER BY relays DESC, software LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('software', rows, p.limit, (r) => [r.item.relays, r.item.software]);
  },
});

export const nips = resource({
  summary: 'Relays per supported NIP (NIP-11 supported_nips)',
  params: z.strictObject({ limit, cursor }),
  output: pageOf(z.object({ nip: z.number().int(), relays: count, up: count })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    if (p.cursor !== undefined) q.where.push(`nip > ${q.param(decodeCursor('nips', p.cursor, z.tuple([z.number().int().min(0).max(999_999)]))[0])}::int`);
    const { rows } = await db.query<{ item: { nip: number } }>(
      `SELECT json_build_object('nip', nip, 'relays', relays, 'up', up) AS item FROM nip_stats ${q.whereClause()} ORDER BY nip LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('nips', rows, p.limit, (r) => [r.item.nip]);
  },
});

/** Past this many authors, `pubkeys` is the planner's estimate (an exact count would read them all). */
const EXACT_PUBKEYS = 1_000_000;

export const summary = resource({
  summary: 'Totals: relays, relays up, events, links, kinds, authors, time span, last refresh',
  params: z.strictObject({}),
  output: z.object({
    relays: count,
    relays_up: count,
    relays_checked: count,
    networks: z.record(z.string(), count),
    events: count,
    links: count.meta({ description: 'event-relay links' }),
    kinds: count,
    pubkeys: count,
    pubkeys_exact: z.boolean().meta({ description: `false past ${EXACT_PUBKEYS.toLocaleString('en')} authors: the count is PostgreSQL's estimate` }),
    first_event_at: unixSeconds.nullable(),
    last_event_at: unixSeconds.nullable(),
    refreshed_at: unixSeconds.nullable().meta({ description: 'the last analytics refresh; every figure here is as of it' }),
  }),
  paged: false,
  async run({ db }) {
    const { rows } = await db.query<{ item: unknown }>(
      `WITH k AS (SELECT coalesce(sum(events), 0) AS events, count(*) AS kinds, min(first_at) AS first_at, max(last_at) AS last_at FROM kind_stats),
            r AS (SELECT count(*) AS relays, count(*) FILTER (WHERE up) AS up, count(*) FILTER (WHERE up IS NOT NULL) AS checked FROM relay_summary),
            a AS (SELECT reltuples FROM pg_class WHERE oid = 'pubkey_stats'::regclass)
       SELECT json_build_object(
         'relays', r.relays, 'relays_up', r.up, 'relays_checked', r.checked,
         'networks', (SELECT coalesce(json_object_agg(network, relays ORDER BY network), '{}') FROM network_stats),
         'events', k.events, 'links', (SELECT coalesce(sum(events), 0) FROM relay_stats), 'kinds', k.kinds,
         'pubkeys', CASE WHEN a.reltuples > ${EXACT_PUBKEYS} THEN a.reltuples::bigint ELSE (SELECT count(*) FROM pubkey_stats) END,
         'pubkeys_exact', a.reltuples <= ${EXACT_PUBKEYS},
         'first_event_at', k.first_at, 'last_event_at', k.last_at,
         'refreshed_at', (SELECT max(refreshed_at) FROM analytics_watermark)) AS item
       FROM k, r, a`,
    );
    return rows[0]!.item;
  },
});
