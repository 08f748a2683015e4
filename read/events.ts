// Events: pages by author, kind, time, tag or ids, newest first; one event with its relays; the
// current replaceable and addressable events. Each query is served by an index (EXPLAIN in
// test/integration/read-core.test.ts): (created_at, id), (pubkey, created_at, id),
// (kind, created_at, id) (0014), the GIN index on single-letter tags (bigbrotr 0015), the
// primary keys.
import { z } from 'zod';
import type { Deployment } from '../common/config.js';
import { decodeCursor } from './cursor.js';
import { ReadInputError } from './errors.js';
import { cursor, hex64, hexBytes, int, kind, limit, list, MAX_LIMIT, text, unixTime } from './params.js';
import { Query, hexString, pageOf, resource, toPage, unixSeconds, type ReadContext } from './resource.js';

/** The archive cuts indexed tag values to this many characters (bigbrotr 0015, event_tag_values). */
const INDEXED_TAG_VALUE = 200;
const MAX_TAG_VALUE = 1024;
const EVENT_RELAYS_SHOWN = 100;

/** An event as NIP-01 serialises it; lilbrotr keeps no tags and no content. */
export const nostrEvent = z
  .object({
    id: hexString,
    pubkey: hexString,
    created_at: unixSeconds,
    kind: z.number().int(),
    tags: z.array(z.array(z.string())).optional().meta({ description: 'bigbrotr only' }),
    content: z.string().optional().meta({ description: 'bigbrotr only' }),
    sig: z.string().meta({ description: '128 lower-case hex characters' }),
  })
  .meta({ description: 'a Nostr event (NIP-01)' });

/**
 * The select list of an event row `e`, as one JSON object in NIP-01's field order. An event whose
 * text PostgreSQL could not hold as it is comes whole from its `exact` column (bigbrotr 0017): the
 * json type keeps the \u0000 escapes that text and jsonb refuse.
 */
export function eventJson(deployment: Deployment, e = 'e'): string {
  const built = (full: string) => `json_build_object('id', encode(${e}.id, 'hex'), 'pubkey', encode(${e}.pubkey, 'hex'), 'created_at', ${e}.created_at, 'kind', ${e}.kind, ${full}'sig', encode(${e}.sig, 'hex'))`;
  if (deployment !== 'bigbrotr') return built('');
  return `CASE WHEN ${e}.exact IS NULL THEN ${built(`'tags', ${e}.tags, 'content', ${e}.content, `)} ELSE ${e}.exact::json END`;
}

/** One event by id: the lateral form prunes to the id's partition (see event_find, sql/0007). */
const eventById = (idParam: string) => `CROSS JOIN LATERAL (SELECT * FROM event WHERE event.id = ${idParam} LIMIT 1) AS e`;

const eventKey = z.tuple([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[0-9a-f]{64}$/)]);

const tag = text(2 + MAX_TAG_VALUE, 'a single-letter tag as `<letter>:<value>`, e.g. `t:nostr` or `p:<hex>` (bigbrotr only)').regex(/^[A-Za-z]:/, {
  error: 'expected a single-letter tag as <letter>:<value>, e.g. t:nostr',
});

const eventsParams = z.strictObject({
  ids: list(hex64('event id'), MAX_LIMIT, `event ids (up to ${MAX_LIMIT}, comma-separated)`).optional(),
  author: hex64('author pubkey').optional(),
  kind: kind.optional(),
  since: unixTime('created_at at or after (Unix seconds)').optional(),
  until: unixTime('created_at at or before (Unix seconds)').optional(),
  tag: tag.optional(),
  limit,
  cursor,
});

/** The events query: exported so the tests can EXPLAIN each filter combination. */
export function eventsQuery(deployment: Deployment, p: z.output<typeof eventsParams>): Query & { text: string } {
  const q = new Query();
  let from = 'event e';
  if (p.ids) from = `unnest(${q.param(p.ids.map(hexBytes))}::bytea[]) AS wanted(id) ${eventById('wanted.id')}`;
  if (p.author) q.where.push(`e.pubkey = ${q.param(hexBytes(p.author))}::bytea`);
  if (p.kind !== undefined) q.where.push(`e.kind = ${q.param(p.kind)}::int`);
  if (p.since !== undefined) q.where.push(`e.created_at >= ${q.param(p.since)}::bigint`);
  if (p.until !== undefined) q.where.push(`e.created_at <= ${q.param(p.until)}::bigint`);
  if (p.tag !== undefined) {
    if (deployment !== 'bigbrotr') throw new ReadInputError('tag', 'tag search needs the bigbrotr deployment (lilbrotr keeps no tags)');
    const letter = p.tag[0]!;
    const value = p.tag.slice(2);
    q.where.push(`event_tag_values(e.tags) @> ARRAY[${q.param(`${letter}:${value.slice(0, INDEXED_TAG_VALUE)}`)}::text]`);
    // The index holds values cut to 200 characters: a longer one is checked against the tags.
    if (value.length > INDEXED_TAG_VALUE) {
      q.where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements(e.tags) AS t WHERE t->>0 = ${q.param(letter)}::text AND t->>1 = ${q.param(value)}::text)`);
    }
  }
  if (p.cursor !== undefined) {
    const [createdAt, id] = decodeCursor('events', p.cursor, eventKey);
    q.where.push(`(e.created_at, e.id) < (${q.param(createdAt)}::bigint, ${q.param(hexBytes(id))}::bytea)`);
  }
  // The JSON is built for the page's rows only, after the limit: built in the inner select list,
  // it would be made for every row a bitmap scan and its sort read (all of a kind's, an author's).
  const columns = deployment === 'bigbrotr' ? 'e.id, e.pubkey, e.created_at, e.kind, e.tags, e.content, e.sig, e.exact' : 'e.id, e.pubkey, e.created_at, e.kind, e.sig';
  const text = `SELECT ${eventJson(deployment, 'x')} AS item, x.created_at, encode(x.id, 'hex') AS id FROM (
      SELECT ${columns} FROM ${from} ${q.whereClause()} ORDER BY e.created_at DESC, e.id DESC LIMIT ${q.param(p.limit + 1)}) AS x
    ORDER BY x.created_at DESC, x.id DESC`;
  return Object.assign(q, { text });
}

type EventRow = { item: unknown; created_at: string; id: string };

export const events = resource({
  summary: 'Archived events, newest first, filtered by ids, author, kind, time and tag',
  params: eventsParams,
  output: pageOf(nostrEvent),
  paged: true,
  async run({ db, deployment }, p) {
    const q = eventsQuery(deployment, p);
    const { rows } = await db.query<EventRow>(q.text, q.values);
    return toPage('events', rows, p.limit, (r) => [Number(r.created_at), r.id]);
  },
});

const seenOn = z.object({ url: z.string(), seen_at: unixSeconds.meta({ description: 'when the archive first received it from this relay' }) });

export const event = resource({
  summary: 'One event and the relays it was seen on',
  params: z.strictObject({ id: hex64('event id') }),
  output: z.object({
    event: nostrEvent,
    relays: z.array(seenOn).meta({ description: `the first ${EVENT_RELAYS_SHOWN} relays (by seen_at); event_relays pages through all` }),
    relays_total: z.number().int(),
  }),
  paged: false,
  async run({ db, deployment }, p) {
    const { rows } = await db.query<{ item: unknown }>(
      `SELECT json_build_object('event', ${eventJson(deployment)},
         'relays', (SELECT coalesce(json_agg(json_build_object('url', l.relay_url, 'seen_at', l.seen_at) ORDER BY l.seen_at, l.relay_url), '[]')
                    FROM (SELECT relay_url, seen_at FROM event_relay WHERE event_id = $1::bytea ORDER BY seen_at, relay_url LIMIT ${EVENT_RELAYS_SHOWN}) AS l),
         'relays_total', (SELECT count(*) FROM event_relay WHERE event_id = $1::bytea)) AS item
       FROM event e WHERE e.id = $1::bytea`,
      [hexBytes(p.id)],
    );
    return rows[0]?.item ?? null;
  },
});

export const eventRelays = resource({
  summary: 'The relays an event was seen on, by URL',
  params: z.strictObject({ id: hex64('event id'), limit, cursor }),
  output: pageOf(seenOn),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    q.where.push(`event_id = ${q.param(hexBytes(p.id))}::bytea`);
    if (p.cursor !== undefined) q.where.push(`relay_url > ${q.param(decodeCursor('event_relays', p.cursor, z.tuple([z.string().max(2048)]))[0])}::text`);
    const { rows } = await db.query<{ item: { url: string } }>(
      `SELECT json_build_object('url', relay_url, 'seen_at', seen_at) AS item FROM event_relay ${q.whereClause()}
       ORDER BY relay_url LIMIT ${q.param(p.limit + 1)}`,
      q.values,
    );
    return toPage('event_relays', rows, p.limit, (r) => [r.item.url]);
  },
});

const isReplaceable = (k: number) => k === 0 || k === 3 || (k >= 10000 && k < 20000);

export const replaceable = resource({
  summary: "An author's current replaceable event of a kind (0, 3, 10000-19999), as of the last analytics refresh",
  params: z.strictObject({
    pubkey: hex64('author pubkey'),
    kind: kind.refine(isReplaceable, { error: 'expected a replaceable kind: 0, 3 or 10000-19999' }),
  }),
  output: nostrEvent,
  paged: false,
  async run({ db, deployment }, p) {
    const { rows } = await db.query<{ item: unknown }>(
      `SELECT ${eventJson(deployment)} AS item FROM replaceable_current c ${eventById('c.event_id')}
       WHERE c.pubkey = $1::bytea AND c.kind = $2::int`,
      [hexBytes(p.pubkey), p.kind],
    );
    return rows[0]?.item ?? null;
  },
});

export const addressable = resource({
  summary: "An author's current addressable event of a kind (30000-39999) and `d` tag, as of the last analytics refresh (bigbrotr only)",
  params: z.strictObject({
    pubkey: hex64('author pubkey'),
    kind: int(30000, 39999, 'an addressable kind'),
    d: text(1000, 'the `d` tag (empty for none)'),
  }),
  output: nostrEvent,
  paged: false,
  async run({ db, deployment }, p) {
    if (deployment !== 'bigbrotr') throw new ReadInputError('resource', 'addressable events need the bigbrotr deployment (lilbrotr keeps no tags)');
    const { rows } = await db.query<{ item: unknown }>(
      `SELECT ${eventJson(deployment)} AS item FROM addressable_current c ${eventById('c.event_id')}
       WHERE c.pubkey = $1::bytea AND c.kind = $2::int AND c.d = $3::text`,
      [hexBytes(p.pubkey), p.kind, p.d],
    );
    return rows[0]?.item ?? null;
  },
});
