// A synthetic archive made in the database itself, fast (1,000,000 events in about a minute), for
// the read-side benchmarks: events of 10,000 authors over a realistic mix of kinds (notes,
// reactions, profiles, contact lists, relay lists, long-form articles with `d` tags), each linked to
// one or two of `relays` relays, and the Monitor's 'open' checks every 15 minutes for 30 days.
// Ids and signatures are hashes, not real ones: nothing here is verified, only read. Rows go in
// through the same tables and triggers as the Synchronizer's, so the analytics queues fill too.
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

export async function fillSyntheticArchive(db: Db, opts: { events: number; relays?: number; from?: number; say?: (m: string) => void }): Promise<SyntheticArchive> {
  const relayCount = opts.relays ?? 20;
  const relays = Array.from({ length: relayCount }, (_, i) => `wss://relay${i}.bench.example`);
  await db.query(
    `INSERT INTO relay (url, network, discovered_at) SELECT u, 'clearnet', 1 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`,
    [relays],
  );
  const from = opts.from ?? 0;
  for (let start = from; start < from + opts.events; start += CHUNK) {
    const end = Math.min(start + CHUNK, from + opts.events) - 1;
    // One event every 30 s; kinds: 5% profiles, 5% contact lists, 5% relay lists, 5% articles, 30% reactions, 50% notes.
    await db.query(
      `WITH g AS (SELECT g FROM generate_series($1::bigint, $2::bigint) AS g)
       INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig)
       SELECT sha256(('event ' || g)::bytea),
              sha256(('author ' || (g * 7919 % 10000))::bytea),
              $3::bigint + g * 30,
              CASE g % 20 WHEN 0 THEN 0 WHEN 1 THEN 3 WHEN 2 THEN 10002 WHEN 3 THEN 30023
                          WHEN 4 THEN 7 WHEN 5 THEN 7 WHEN 6 THEN 7 WHEN 7 THEN 7 WHEN 8 THEN 7 WHEN 9 THEN 7 ELSE 1 END,
              jsonb_build_array(jsonb_build_array('p', encode(sha256(('author ' || (g * 31 % 10000))::bytea), 'hex')),
                                jsonb_build_array('t', 'tag' || (g % 100)),
                                jsonb_build_array('d', 'article ' || (g % 50))),
              'synthetic event ' || g,
              sha256(('sig a ' || g)::bytea) || sha256(('sig b ' || g)::bytea)
       FROM g`,
      [start, end, SYNTHETIC_START],
    );
    await db.query(
      `INSERT INTO event_relay (event_id, relay_url, seen_at)
       SELECT sha256(('event ' || g)::bytea), ($3::text[])[1 + g % $4::int], $5::bigint + g * 30 + 60
       FROM generate_series($1::bigint, $2::bigint) AS g
       UNION ALL
       SELECT sha256(('event ' || g)::bytea), ($3::text[])[1 + (g + 7) % $4::int], $5::bigint + g * 30 + 90
       FROM generate_series($1::bigint, $2::bigint) AS g WHERE g % 3 = 0`,
      [start, end, relays, relayCount, SYNTHETIC_START],
    );
    opts.say?.(`${(end + 1 - from).toLocaleString()} events`);
  }
  const last = SYNTHETIC_START + (from + opts.events - 1) * 30;
  // 30 days of 'open' checks before the last event, every 15 minutes; one relay in ten down.
  await db.query(
    `INSERT INTO metadata (id, payload) VALUES (sha256('bench failure'::bytea), '{"check":"open","code":"timeout"}') ON CONFLICT DO NOTHING`,
  );
  await db.query(
    `INSERT INTO relay_check (relay_url, check_name, generated_at, outcome, code, metadata_id)
     SELECT r.url, 'open', $2::bigint - s * 900,
            CASE WHEN r.i % 10 = 9 THEN 'failed' ELSE 'ok' END,
            CASE WHEN r.i % 10 = 9 THEN 'timeout' END,
            CASE WHEN r.i % 10 = 9 THEN sha256('bench failure'::bytea) END
     FROM unnest($1::text[]) WITH ORDINALITY AS r (url, i), generate_series(0, 30 * 96 - 1) AS s
     ON CONFLICT DO NOTHING`,
    [relays, last],
  );
  return { relays, events: opts.events, first: SYNTHETIC_START + from * 30, last };
}
