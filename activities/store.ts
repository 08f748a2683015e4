// Set-based writes shared by the services: each call validates its rows, drops the bad ones with
// a reason, and sends the rest to PostgreSQL in one round trip.
import { parseRelayUrl, type Network, type RelayUrlOptions } from '../common/index.js';
import type { Db } from './db.js';

export interface Rejected {
  url: string;
  reason: string;
}

export interface WriteResult {
  /** Rows the database did not have. */
  inserted: number;
  /** Valid rows it had already (or that repeat within the batch). */
  alreadyKnown: number;
  rejected: Rejected[];
}

export interface CandidateRow {
  url: string;
  network: Network;
  source: string;
}

export interface RelayRow {
  url: string;
  network: Network;
  discoveredAt: number;
}

/**
 * Keeps the rows whose URL is already canonical and whose network is the one the URL names:
 * callers pass URLs that went through the relay URL module, so anything else is a bug upstream and
 * must not reach the archive.
 */
function validRelayRows<T extends { url: string; network: Network }>(rows: T[], options: RelayUrlOptions) {
  const good: T[] = [];
  const rejected: Rejected[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const r = parseRelayUrl(row.url, options);
    if (!r.ok) rejected.push({ url: String(row.url), reason: r.reason });
    else if (r.url !== row.url) rejected.push({ url: row.url, reason: `not canonical (expected ${r.url})` });
    else if (r.network !== row.network) rejected.push({ url: row.url, reason: `network is ${r.network}, not ${String(row.network)}` });
    else if (!seen.has(row.url)) {
      seen.add(row.url);
      good.push(row);
    }
  }
  return { good, rejected, duplicates: rows.length - rejected.length - good.length };
}

/** New candidates; URLs already candidates or relays are left as they are. */
export async function insertCandidates(
  db: Db,
  rows: CandidateRow[],
  discoveredAt: number,
  options: RelayUrlOptions = {},
): Promise<WriteResult> {
  const { good, rejected, duplicates } = validRelayRows(rows, options);
  if (good.length === 0) return { inserted: 0, alreadyKnown: duplicates, rejected };
  const { rows: out } = await db.query<{ n: number }>(
    'SELECT candidate_insert($1::text[], $2::text[], $3::text[], $4::bigint) AS n',
    [good.map((r) => r.url), good.map((r) => r.network), good.map((r) => r.source), discoveredAt],
  );
  const inserted = out[0]?.n ?? 0;
  return { inserted, alreadyKnown: good.length - inserted + duplicates, rejected };
}

/** New relays; a relay already known keeps its first discovery time. */
export async function insertRelays(db: Db, rows: RelayRow[], options: RelayUrlOptions = {}): Promise<WriteResult> {
  const { good, rejected, duplicates } = validRelayRows(rows, options);
  if (good.length === 0) return { inserted: 0, alreadyKnown: duplicates, rejected };
  const { rows: out } = await db.query<{ n: number }>(
    'SELECT relay_insert($1::text[], $2::text[], $3::bigint[]) AS n',
    [good.map((r) => r.url), good.map((r) => r.network), good.map((r) => r.discoveredAt)],
  );
  const inserted = out[0]?.n ?? 0;
  return { inserted, alreadyKnown: good.length - inserted + duplicates, rejected };
}

/** A Nostr event as relays send it (NIP-01). */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/**
 * Archives events the caller has verified (id and signature): one call for the batch; an event
 * already archived is left as it is. Rows of the wrong shape are refused before the database.
 */
export async function insertEvents(db: Db, events: NostrEvent[]): Promise<{ inserted: number; rejected: Array<{ id: string; reason: string }> }> {
  const good: NostrEvent[] = [];
  const rejected: Array<{ id: string; reason: string }> = [];
  for (const e of events) {
    const reason = !HEX64.test(e.id) ? 'id is not 64 hex characters'
      : !HEX64.test(e.pubkey) ? 'pubkey is not 64 hex characters'
      : !HEX128.test(e.sig) ? 'sig is not 128 hex characters'
      : !Number.isSafeInteger(e.created_at) || e.created_at < 0 ? 'created_at is not a timestamp'
      : !Number.isInteger(e.kind) || e.kind < 0 || e.kind > 65535 ? 'kind is not 0-65535'
      : !Array.isArray(e.tags) ? 'tags is not an array'
      : typeof e.content !== 'string' ? 'content is not a string'
      : undefined;
    if (reason) rejected.push({ id: String(e.id).slice(0, 64), reason });
    else good.push(e);
  }
  if (good.length === 0) return { inserted: 0, rejected };
  const { rows } = await db.query<{ n: number }>(
    'SELECT event_insert($1::bytea[], $2::bytea[], $3::bigint[], $4::int[], $5::jsonb[], $6::text[], $7::bytea[]) AS n',
    [
      good.map((e) => Buffer.from(e.id, 'hex')),
      good.map((e) => Buffer.from(e.pubkey, 'hex')),
      good.map((e) => e.created_at),
      good.map((e) => e.kind),
      good.map((e) => JSON.stringify(e.tags)),
      good.map((e) => e.content),
      good.map((e) => Buffer.from(e.sig, 'hex')),
    ],
  );
  return { inserted: rows[0]?.n ?? 0, rejected };
}
