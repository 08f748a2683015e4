// `npm run bench:disk`: the disk a bigbrotr archive and a lilbrotr archive take for the same
// 200,000 events (BENCH_EVENTS to change), each stored the way the Synchronizer stores them: the
// real archive path (archiveEvents: id and signature verified, events and links in one
// transaction), window by window in created_at order, from three relays that each hold part of the
// traffic (an event is on one, two or three of them, as events spread over real relays). Prints
// the size of event and event_relay (every partition, with its TOAST and indexes), the whole
// database's growth, and lilbrotr/bigbrotr.
//
// The traffic (test/helpers/bulk-events.ts, trafficTemplate): 78% kind 1 notes of 100-300
// characters with 0-3 e tags and 1-3 p tags, 19% kind 7 reactions (one e, one p tag), 3% kind 3
// contact lists of 20-600 p tags; 5,000 authors; 30 days of created_at.
import { archiveEvents } from '../activities/synchronizer/archive.js';
import type { Db } from '../activities/db/db.js';
import type { Deployment } from '../common/config.js';
import { insertRelays, type NostrEvent } from '../activities/db/store.js';
import { BulkSigner, seeded, trafficTemplate } from '../test/helpers/bulk-events.js';
import { databaseServer } from '../test/helpers/database-server.js';
import { freshDatabase } from '../test/helpers/db.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
/** Events per window, as the Synchronizer's `limit` would give them. */
const WINDOW = 1000;
const RELAYS = ['wss://relay.damus.io', 'wss://nos.lol', 'wss://relay.primal.net'];
const say = (m: string) => console.log(`[bench:disk] ${m}`);

interface Sizes {
  /** Bytes of each table over its partitions: heap, TOAST, indexes, total. */
  event: TableSize;
  eventRelay: TableSize;
  /** pg_database_size after the archive minus before it. */
  databaseGrowth: number;
  events: number;
  links: number;
  compression: string;
}
interface TableSize {
  heap: number;
  toast: number;
  indexes: number;
  total: number;
}

async function tableSize(db: Db, table: string): Promise<TableSize> {
  // A partitioned table holds no rows itself: its size is its partitions'. The heap counts its
  // free-space and visibility maps; pg_table_size adds the TOAST table (with its index).
  const { rows } = await db.query<{ heap: string; table: string; indexes: string; total: string }>(
    `SELECT sum(pg_relation_size(relid, 'main') + pg_relation_size(relid, 'fsm') + pg_relation_size(relid, 'vm')) AS heap,
            sum(pg_table_size(relid)) AS table, sum(pg_indexes_size(relid)) AS indexes, sum(pg_total_relation_size(relid)) AS total
     FROM pg_partition_tree($1::regclass) WHERE isleaf`,
    [table],
  );
  const r = rows[0]!;
  return { heap: Number(r.heap), toast: Number(r.table) - Number(r.heap), indexes: Number(r.indexes), total: Number(r.total) };
}

async function archive(deployment: Deployment, events: NostrEvent[], holders: number[]): Promise<Sizes> {
  const t = await freshDatabase({ deployment });
  try {
    await insertRelays(t.db, RELAYS.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1_700_000_000 })));
    await t.db.query('VACUUM ANALYZE');
    const before = Number((await t.db.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
    const t0 = Date.now();
    for (let i = 0; i < events.length; i += WINDOW) {
      // One window of the sync, asked of each relay: each serves the events of it that it holds.
      for (const [r, url] of RELAYS.entries()) {
        const served = events.slice(i, i + WINDOW).filter((_, j) => holders[i + j]! & (1 << r));
        const result = await archiveEvents(t.db, url, served, events[i]!.created_at + 60);
        if (Object.keys(result.invalid).length > 0) throw new Error(`refused: ${JSON.stringify(result.invalid)}`);
      }
    }
    say(`${deployment}: archived in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // As a running archive would be: vacuumed by autovacuum (visibility and free-space maps),
    // its rows no longer in flight.
    await t.db.query('VACUUM ANALYZE');
    await t.db.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint: only tidies WAL
    const after = Number((await t.db.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
    const counted = (await t.db.query<{ events: string; links: string }>('SELECT (SELECT count(*) FROM event) AS events, (SELECT count(*) FROM event_relay) AS links')).rows[0]!;
    const { rows: c } = await t.db.query<{ attname: string; attcompression: string }>(
      `SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'event_p0'::regclass AND attname IN ('tags', 'content')`,
    );
    const fallback = (await t.db.query<{ m: string }>('SELECT current_setting($1::text) AS m', ['default_toast_compression'])).rows[0]!.m;
    const method = (a: string) => (a === 'l' ? 'lz4' : a === 'p' ? 'pglz' : fallback); // '': the server's default
    const compression = c.length === 0 ? 'no tags/content columns' : c.map((a) => `${a.attname} ${method(a.attcompression)}`).join(', ');
    return {
      event: await tableSize(t.db, 'event'),
      eventRelay: await tableSize(t.db, 'event_relay'),
      databaseGrowth: after - before,
      events: Number(counted.events),
      links: Number(counted.links),
      compression,
    };
  } finally {
    await t.drop();
  }
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const perEvent = (n: number) => `${Math.round(n / EVENTS)} B/event`;

const server = await databaseServer();
try {
  say(`signing ${EVENTS.toLocaleString()} events`);
  const g0 = Date.now();
  const rand = seeded(200_000);
  const signer = new BulkSigner(5000);
  const newest = 1_760_000_000;
  const events = Array.from({ length: EVENTS }, (_, i) => signer.sign(trafficTemplate(rand, newest - Math.floor(rand() * 30 * 86_400), signer.pubkeys), i % 5000));
  events.sort((a, b) => a.created_at - b.created_at); // the sync archives oldest first
  const holders = events.map(() => 1 + Math.floor(rand() * 7)); // bit r: relay r holds the event
  const kinds = new Map<number, number>();
  for (const e of events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  const json = events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);
  say(`signed in ${((Date.now() - g0) / 1000).toFixed(1)} s; kinds ${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')}; ${mb(json)} as NIP-01 JSON (${perEvent(json)})`);

  const big = await archive('bigbrotr', events, holders);
  const lil = await archive('lilbrotr', events, holders);
  for (const [name, s] of [['bigbrotr', big], ['lilbrotr', lil]] as const) {
    say(`${name} (${s.events.toLocaleString()} events, ${s.links.toLocaleString()} links; ${s.compression})`);
    for (const [table, size] of [['event', s.event], ['event_relay', s.eventRelay]] as const) {
      say(`  ${table.padEnd(12)} ${mb(size.total).padStart(9)} (${perEvent(size.total)}): heap ${mb(size.heap)}, TOAST ${mb(size.toast)}, indexes ${mb(size.indexes)}`);
    }
    say(`  database growth ${mb(s.databaseGrowth).padStart(9)} (${perEvent(s.databaseGrowth)})`);
  }
  const ratio = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
  say(`lilbrotr/bigbrotr: event ${ratio(lil.event.total, big.event.total)}, event_relay ${ratio(lil.eventRelay.total, big.eventRelay.total)}, ` +
    `both ${ratio(lil.event.total + lil.eventRelay.total, big.event.total + big.eventRelay.total)}, database growth ${ratio(lil.databaseGrowth, big.databaseGrowth)}`);
} finally {
  await server.stop();
}
