// Relays: the list (relay_summary, rebuilt by each analytics refresh), one relay in full (its
// latest documents, uptime per check, the Monitor's ladder, sync status and open gaps), and a
// relay's metadata history.
import { z } from 'zod';
import { NETWORKS } from '../common/relay-url.js';
import { decodeCursor } from './cursor.js';
import { ReadInputError } from './errors.js';
import { cursor, int, limit, network, relayUrl, text } from './params.js';
import { Query, pageOf, resource, toPage, unixSeconds } from './resource.js';

const METADATA_TYPES = ['nip11', 'nip66_rtt', 'nip66_ssl', 'nip66_geo', 'nip66_net', 'nip66_dns', 'nip66_http'] as const;
const GAPS_SHOWN = 20;

const nullableInt = z.number().int().nullable();
export const relaySummary = z
  .object({
    url: z.string(),
    network: z.enum(NETWORKS),
    discovered_at: unixSeconds,
    name: z.string().nullable(),
    description: z.string().nullable(),
    software: z.string().nullable(),
    version: z.string().nullable(),
    supported_nips: z.array(z.number().int()),
    country: z.string().nullable().meta({ description: 'ISO 3166-1 alpha-2, from the geo check' }),
    asn: nullableInt,
    nip11_at: nullableInt,
    up: z.boolean().nullable().meta({ description: 'its WebSocket opened at the last check; null: never checked' }),
    last_checked_at: nullableInt,
    rtt_open_ms: nullableInt,
    uptime_24h: z.number().nullable(),
    uptime_7d: z.number().nullable(),
    uptime_30d: z.number().nullable(),
    backoff_step: z.number().int(),
    events: z.number().int(),
    pubkeys: z.number().int(),
    first_event_at: nullableInt,
    last_event_at: nullableInt,
    last_seen_at: nullableInt,
    sync_lag: nullableInt.meta({ description: 'seconds from the newest event archived from it to the refresh' }),
    open_gaps: z.number().int(),
    refused: z.string().nullable(),
    refreshed_at: unixSeconds,
  })
  .meta({ description: 'a relay as the last analytics refresh summarised it' });

// Each sort is a key that orders every relay (ties broken by URL); NULLs sort last as -1.
const SORTS = {
  url: null,
  events: 's.events',
  uptime: 'coalesce(s.uptime_7d, -1)',
  last_event: 'coalesce(s.last_event_at, -1)',
} as const;
type Sort = keyof typeof SORTS;

const relaysKey = z.tuple([z.enum(Object.keys(SORTS) as [Sort, ...Sort[]]), z.number().nullable(), z.string().max(2048)]);

export const relays = resource({
  summary: 'Relays, filtered by network, status, uptime, NIP, software and country',
  params: z.strictObject({
    network: network.optional(),
    status: z.enum(['up', 'down'], { error: 'expected up or down' }).meta({ description: 'up: its WebSocket opened at the last check; down: it did not (relays never checked are neither)' }).optional(),
    min_uptime: z
      .preprocess((v) => (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v), z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }))
      .meta({ description: 'least share of passed open checks over 7 days (0 to 1)' })
      .optional(),
    nip: int(0, 999_999, 'a NIP the relay says it supports (NIP-11)').optional(),
    software: text(200, 'NIP-11 software, exactly').optional(),
    country: z
      .string({ error: 'expected a two-letter country code (ISO 3166-1)' })
      .regex(/^[A-Za-z]{2}$/, { error: 'expected a two-letter country code (ISO 3166-1)' })
      .transform((c) => c.toUpperCase())
      .meta({ description: 'ISO 3166-1 alpha-2 code' })
      .optional(),
    sort: z
      .enum(Object.keys(SORTS) as [Sort, ...Sort[]], { error: `expected one of ${Object.keys(SORTS).join(', ')}` })
      .meta({ description: 'url (A-Z) or, largest first: events, uptime (7 days), last_event' })
      .optional()
      .default('url'),
    limit,
    cursor,
  }),
  output: pageOf(relaySummary),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    if (p.network) q.where.push(`s.network = ${q.param(p.network)}::text`);
    if (p.status) q.where.push(p.status === 'up' ? 's.up' : 's.up IS FALSE');
    if (p.min_uptime !== undefined) q.where.push(`s.uptime_7d >= ${q.param(p.min_uptime)}::numeric`);
    if (p.nip !== undefined) q.where.push(`s.supported_nips @> ARRAY[${q.param(p.nip)}::int]`);
    if (p.software !== undefined) q.where.push(`s.software = ${q.param(p.software)}::text`);
    if (p.country) q.where.push(`s.country = ${q.param(p.country)}::text`);
    const sortKey = SORTS[p.sort];
    if (p.cursor !== undefined) {
      const [sort, value, url] = decodeCursor('relays', p.cursor, relaysKey);
      if (sort !== p.sort || (sortKey === null) !== (value === null)) {
        throw new ReadInputError('cursor', `a cursor of sort=${sort}, not sort=${p.sort}: keep the sort when paging`);
      }
      const u = q.param(url);
      if (sortKey === null) q.where.push(`s.url > ${u}::text`);
      else {
        const v = q.param(value);
        q.where.push(`(${sortKey} < ${v}::numeric OR (${sortKey} = ${v}::numeric AND s.url > ${u}::text))`);
      }
    }
    const order = sortKey === null ? 's.url' : `${sortKey} DESC, s.url`;
    // The JSON is built for the page's rows only, after the limit (built in the select list, it
    // would be made for every row the sort reads).
    const { rows } = await db.query<{ item: { url: string }; k: string | null }>(
      `SELECT row_to_json(x.r) AS item, x.k FROM (
         SELECT s AS r, ${sortKey ?? 'NULL::numeric'} AS k, s.url FROM relay_summary s ${q.whereClause()}
         ORDER BY ${order} LIMIT ${q.param(p.limit + 1)}) AS x
       ORDER BY ${sortKey === null ? 'x.url' : 'x.k DESC, x.url'}`,
      q.values,
    );
    return toPage('relays', rows, p.limit, (r) => [p.sort, r.k === null ? null : Number(r.k), r.item.url]);
  },
});

const document = z.object({
  generated_at: unixSeconds,
  metadata_id: z.string().meta({ description: 'sha256 of the canonical JSON (content address)' }),
  document: z.unknown(),
});
const uptime = z.object({
  check: z.string(),
  checks_24h: z.number().int(),
  uptime_24h: z.number().nullable(),
  checks_7d: z.number().int(),
  uptime_7d: z.number().nullable(),
  checks_30d: z.number().int(),
  uptime_30d: z.number().nullable(),
  last_ok_at: nullableInt,
  last_failed_at: nullableInt,
});

/** The latest document of type `type` of relay r.url, as JSON, or NULL. */
const latestDocument = (type: string) => `(SELECT json_build_object('generated_at', rm.generated_at, 'metadata_id', encode(m.id, 'hex'), 'document', m.payload)
  FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
  WHERE rm.relay_url = r.url AND rm.metadata_type = ${type} ORDER BY rm.generated_at DESC LIMIT 1)`;

/** A share of passed checks over the hours after `since` of relay_check_hour h, as relay_summary computes it. */
const share = (since: string) =>
  `round(sum(h.ok) FILTER (WHERE h.hour > ${since})::numeric / nullif(sum(h.ok + h.failed) FILTER (WHERE h.hour > ${since}), 0), 4)`;
const checks = (since: string) => `coalesce(sum(h.ok + h.failed) FILTER (WHERE h.hour > ${since}), 0)`;
const lastCheck = (outcome: string) => `(SELECT c.generated_at FROM relay_check c
  WHERE c.relay_url = r.url AND c.check_name = h.check_name AND c.outcome = '${outcome}' ORDER BY c.generated_at DESC LIMIT 1)`;

export const relay = resource({
  summary: 'One relay: its summary, latest NIP-11 and NIP-66 documents, uptime per check, back-off, sync status and open gaps',
  params: z.strictObject({ url: relayUrl }),
  output: z.object({
    url: z.string(),
    network: z.enum(NETWORKS),
    discovered_at: unixSeconds,
    summary: relaySummary.nullable().meta({ description: 'null until the next analytics refresh' }),
    nip11: document.nullable(),
    nip66: z.record(z.string(), document).meta({ description: 'latest document of each NIP-66 check: rtt, ssl, geo, net, dns, http' }),
    uptime: z.array(uptime).meta({ description: 'per check, from the hourly counts of the last 30 days' }),
    backoff: z.object({ failures: z.number().int(), step: z.number().int(), wait_ms: z.number().int(), changed_at: unixSeconds }).nullable(),
    sync: z.object({
      events: z.number().int(),
      pubkeys: z.number().int(),
      first_event_at: nullableInt,
      last_event_at: nullableInt,
      last_seen_at: nullableInt,
      refusal: z.object({ reason: z.string(), since: unixSeconds, checked_at: unixSeconds }).nullable(),
      open_gaps: z.number().int(),
      missing_events: z.number().int().meta({ description: 'events the relay holds and the archive lacks, summed over the open gaps whose size the relay counted (NIP-45)' }),
      unsized_gaps: z.number().int().meta({ description: 'open gaps of unknown size (the relay does not count)' }),
      gaps: z.array(z.object({
        second: unixSeconds, received: z.number().int(),
        missing: z.number().int().nullable().meta({ description: 'events the relay counts (NIP-45) and did not serve: the gap\'s size; null where it does not count' }),
        reason: z.string(), recorded_at: unixSeconds, tried_at: unixSeconds, tries: z.number().int(),
      })).meta({
        description: `the first ${GAPS_SHOWN} open gaps, oldest first`,
      }),
    }),
  }),
  paged: false,
  async run({ db }, p) {
    const now = 'extract(epoch FROM now())::bigint';
    const { rows } = await db.query<{ item: unknown }>(
      `SELECT json_build_object(
         'url', r.url, 'network', r.network, 'discovered_at', r.discovered_at,
         'summary', (SELECT row_to_json(s) FROM relay_summary s WHERE s.url = r.url),
         'nip11', ${latestDocument("'nip11'")},
         'nip66', (SELECT coalesce(json_object_agg(substr(t.type, 7), d.doc ORDER BY t.type) FILTER (WHERE d.doc IS NOT NULL), '{}')
                   FROM unnest($2::text[]) AS t(type) CROSS JOIN LATERAL (SELECT ${latestDocument('t.type')} AS doc) AS d),
         'uptime', (SELECT coalesce(json_agg(u ORDER BY u.check), '[]') FROM (
                      SELECT h.check_name AS check,
                             ${checks(`${now} - 86400`)} AS checks_24h, ${share(`${now} - 86400`)} AS uptime_24h,
                             ${checks(`${now} - 7 * 86400`)} AS checks_7d, ${share(`${now} - 7 * 86400`)} AS uptime_7d,
                             ${checks(`${now} - 30 * 86400`)} AS checks_30d, ${share(`${now} - 30 * 86400`)} AS uptime_30d,
                             ${lastCheck('ok')} AS last_ok_at, ${lastCheck('failed')} AS last_failed_at
                      FROM relay_check_hour h WHERE h.relay_url = r.url AND h.hour > ${now} - 30 * 86400
                      GROUP BY h.check_name) AS u),
         'backoff', (SELECT json_build_object('failures', b.failures, 'step', b.step, 'wait_ms', b.wait_ms, 'changed_at', b.changed_at)
                     FROM relay_backoff b WHERE b.relay_url = r.url),
         'sync', json_build_object(
           'events', coalesce(st.events, 0), 'pubkeys', coalesce(st.pubkeys, 0), 'first_event_at', st.first_event_at,
           'last_event_at', st.last_event_at, 'last_seen_at', st.last_seen_at,
           'refusal', (SELECT json_build_object('reason', f.reason, 'since', f.since, 'checked_at', f.checked_at) FROM sync_refusal f WHERE f.relay_url = r.url),
           'open_gaps', (SELECT count(*) FROM sync_gap g WHERE g.relay_url = r.url AND g.filled_at IS NULL),
           'missing_events', (SELECT coalesce(sum(g.missing), 0) FROM sync_gap g WHERE g.relay_url = r.url AND g.filled_at IS NULL),
           'unsized_gaps', (SELECT count(*) FROM sync_gap g WHERE g.relay_url = r.url AND g.filled_at IS NULL AND g.missing IS NULL),
           'gaps', (SELECT coalesce(json_agg(g ORDER BY g.second), '[]') FROM (
                      SELECT second, received, missing, reason, recorded_at, tried_at, tries FROM sync_gap g
                      WHERE g.relay_url = r.url AND g.filled_at IS NULL ORDER BY second LIMIT ${GAPS_SHOWN}) AS g))
       ) AS item
       FROM relay r LEFT JOIN relay_stats st ON st.relay_url = r.url WHERE r.url = $1::text`,
      [p.url, METADATA_TYPES.filter((t) => t !== 'nip11')],
    );
    return rows[0]?.item ?? null;
  },
});

const metadataKey = z.tuple([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.enum(METADATA_TYPES)]);

export const relayMetadata = resource({
  summary: "A relay's NIP-11 and NIP-66 documents over time, newest first",
  params: z.strictObject({
    url: relayUrl,
    type: z.enum(METADATA_TYPES, { error: `expected one of ${METADATA_TYPES.join(', ')}` }).meta({ description: 'one type only' }).optional(),
    limit,
    cursor,
  }),
  output: pageOf(document.extend({ type: z.enum(METADATA_TYPES) })),
  paged: true,
  async run({ db }, p) {
    const q = new Query();
    const url = q.param(p.url);
    const types = q.param(p.type ? [p.type] : METADATA_TYPES);
    const n = q.param(p.limit + 1);
    let after = '';
    if (p.cursor !== undefined) {
      const [at, type] = decodeCursor('relay_metadata', p.cursor, metadataKey);
      const a = q.param(at);
      // `generated_at <= at` bounds each type's index scan; the row comparison drops what the last page showed.
      after = `AND rm.generated_at <= ${a}::bigint AND (rm.generated_at, rm.metadata_type) < (${a}::bigint, ${q.param(type)}::text)`;
    }
    // One primary-key scan per type, merged: the page costs the same however long the history.
    const { rows } = await db.query<{ item: unknown; generated_at: string; type: string }>(
      `SELECT x.item, x.generated_at, x.type FROM unnest(${types}::text[]) AS t(type)
       CROSS JOIN LATERAL (
         SELECT json_build_object('type', rm.metadata_type, 'generated_at', rm.generated_at, 'metadata_id', encode(m.id, 'hex'), 'document', m.payload) AS item,
                rm.generated_at, rm.metadata_type AS type
         FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
         WHERE rm.relay_url = ${url}::text AND rm.metadata_type = t.type ${after}
         ORDER BY rm.generated_at DESC LIMIT ${n}) AS x
       ORDER BY x.generated_at DESC, x.type DESC LIMIT ${n}`,
      q.values,
    );
    return toPage('relay_metadata', rows, p.limit, (r) => [Number(r.generated_at), r.type]);
  },
});
