// A synthetic archive made in the database itself, fast (1,000,000 events in about a minute), for
// the read-side benchmarks (bench:refresh, bench:api): events of `authors` authors over a realistic
// mix of kinds (notes, reactions, profiles, contact lists, relay lists, long-form articles with `d`
// tags) and contents of varied length, each linked to one or two of `relays` relays, a NIP-11
// document per relay (one of five programs), and the Monitor's 'open' checks every 15 minutes.
// Ids and signatures are hashes, not real ones: nothing here is verified, only read. Rows go in
// through the same tables and triggers as the Synchronizer's, so the analytics queues fill too,
// unless `queues: false` (a first load whose analytics are then built from the base tables).
import type { Db } from '../activities/db/db.js';

export interface SyntheticArchive {
  relays: string[];
  events: number;
  /** The first and last created_at. */
  first: number;
  last: number;
}

export const SYNTHETIC_START = 1_700_000_000;
const CHUNK = 50_000;
const SOFTWARE = ['strfry', 'nostr-rs-relay', 'khatru', 'nostream', 'relay29'];

export interface SyntheticOptions {
  events: number;
  /** Default 20. */
  relays?: number;
  /** Default 10,000. */
  authors?: number;
  /** The first event's number: a later call adds events after an earlier one's. */
  from?: number;
  /** Days of checks (default 30), ending at `checksUntil` (default: the last event's time). */
  checkDays?: number;
  checksUntil?: number;
  /** False: the rows skip the analytics queues' triggers (default true). */
  queues?: boolean;
  say?: (m: string) => void;
}

export async function fillSyntheticArchive(db: Db, opts: SyntheticOptions): Promise<SyntheticArchive> {
  const relayCount = opts.relays ?? 20;
  const authors = opts.authors ?? 10_000;
  const relays = Array.from({ length: relayCount }, (_, i) => `wss://relay${i}.bench.example`);
  const from = opts.from ?? 0;
  const last = SYNTHETIC_START + (from + opts.events - 1) * 30;
  const c = await db.connect();
  try {
    if (opts.queues === false) await c.query('SET session_replication_role = replica');
    await c.query(`INSERT INTO relay (url, network, discovered_at) SELECT u, 'clearnet', 1 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`, [relays]);
    await c.query(
      `INSERT INTO metadata (id, payload)
       SELECT sha256(('nip11 ' || i)::bytea),
              jsonb_build_object('name', 'relay ' || i, 'software', ($2::text[])[1 + i % 5], 'version', '1.' || (i % 3),
                                 'supported_nips', CASE WHEN i % 2 = 0 THEN '[1,11,42,50]'::jsonb ELSE '[1,11]'::jsonb END)
       FROM generate_series(0, $1::int - 1) AS i ON CONFLICT DO NOTHING`,
      [relayCount, SOFTWARE],
    );
    await c.query(
      `INSERT INTO relay_metadata (relay_url, metadata_type, generated_at, metadata_id)
       SELECT r.url, 'nip11', $2::bigint, sha256(('nip11 ' || (r.i - 1))::bytea) FROM unnest($1::text[]) WITH ORDINALITY AS r (url, i)
       ON CONFLICT DO NOTHING`,
      [relays, opts.checksUntil ?? last],
    );
    for (let start = from; start < from + opts.events; start += CHUNK) {
      const end = Math.min(start + CHUNK, from + opts.events) - 1;
      // One event every 30 s; kinds: 5% profiles, 5% contact lists, 5% relay lists, 5% articles, 30% reactions, 50% notes.
      await c.query(
        `WITH g AS (SELECT g FROM generate_series($1::bigint, $2::bigint) AS g)
         INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig)
         SELECT sha256(('event ' || g)::bytea), sha256(('author ' || (g * 7919 % $4::int))::bytea), $3::bigint + g * 30, k.kind,
                jsonb_build_array(jsonb_build_array('p', encode(sha256(('author ' || (g * 31 % $4::int))::bytea), 'hex')),
                                  jsonb_build_array('t', 'tag' || (g % 100)))
                  || CASE WHEN k.kind = 30023 THEN jsonb_build_array(jsonb_build_array('d', 'article ' || (g % 50))) ELSE '[]'::jsonb END,
                'synthetic event ' || g || ' ' || repeat('x', (g % 200)::int),
                sha256(('sig a ' || g)::bytea) || sha256(('sig b ' || g)::bytea)
         FROM g CROSS JOIN LATERAL (SELECT CASE g % 20 WHEN 0 THEN 0 WHEN 1 THEN 3 WHEN 2 THEN 10002 WHEN 3 THEN 30023
                                                      WHEN 4 THEN 7 WHEN 5 THEN 7 WHEN 6 THEN 7 WHEN 7 THEN 7 WHEN 8 THEN 7 WHEN 9 THEN 7 ELSE 1 END AS kind) AS k`,
        [start, end, SYNTHETIC_START, authors],
      );
      await c.query(
        `INSERT INTO event_relay (event_id, relay_url, seen_at)
         SELECT sha256(('event ' || g)::bytea), ($3::text[])[1 + g % $4::int], $5::bigint + g * 30 + 60
         FROM generate_series($1::bigint, $2::bigint) AS g
         UNION ALL
         SELECT sha256(('event ' || g)::bytea), ($3::text[])[1 + (g + 7) % $4::int], $5::bigint + g * 30 + 90
         FROM generate_series($1::bigint, $2::bigint) AS g WHERE g % 3 = 0 AND (g + 7) % $4::int <> g % $4::int`,
        [start, end, relays, relayCount, SYNTHETIC_START],
      );
      opts.say?.(`${(end + 1 - from).toLocaleString()} events`);
    }
    // 'open' checks every 15 minutes; one relay in ten down.
    await c.query(`INSERT INTO metadata (id, payload) VALUES (sha256('bench failure'::bytea), '{"check":"open","code":"timeout"}') ON CONFLICT DO NOTHING`);
    await c.query(
      `INSERT INTO relay_check (relay_url, check_name, generated_at, outcome, code, metadata_id)
       SELECT r.url, 'open', $2::bigint - s * 900,
              CASE WHEN r.i % 10 = 9 THEN 'failed' ELSE 'ok' END,
              CASE WHEN r.i % 10 = 9 THEN 'timeout' END,
              CASE WHEN r.i % 10 = 9 THEN sha256('bench failure'::bytea) END
       FROM unnest($1::text[]) WITH ORDINALITY AS r (url, i), generate_series(0, $3::int * 96 - 1) AS s
       ON CONFLICT DO NOTHING`,
      [relays, opts.checksUntil ?? last, opts.checkDays ?? 30],
    );
  } finally {
    if (opts.queues === false) await c.query('RESET session_replication_role').catch(() => {});
    c.release();
  }
  return { relays, events: opts.events, first: SYNTHETIC_START + from * 30, last };
}
