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
