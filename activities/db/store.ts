// Set-based writes shared by the services: each call validates its rows, drops the bad ones with
// a reason, and sends the rest to PostgreSQL in one round trip.
import { hasUnstorable, parseRelayUrl, storableJson, storableText, type Network, type RelayUrlOptions } from '../../common/index.js';
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

/** Validates `rows`, then sends the good ones in one call of `sql` (which returns rows inserted). */
async function writeRelayRows<T extends { url: string; network: Network }>(
  db: Db,
  rows: T[],
  options: RelayUrlOptions,
  sql: string,
  params: (good: T[]) => unknown[],
): Promise<WriteResult> {
  const { good, rejected, duplicates } = validRelayRows(rows, options);
  if (good.length === 0) return { inserted: 0, alreadyKnown: duplicates, rejected };
  const { rows: out } = await db.query<{ n: number }>(sql, params(good));
  const inserted = out[0]?.n ?? 0;
  return { inserted, alreadyKnown: good.length - inserted + duplicates, rejected };
}

/** New candidates; URLs already candidates or relays are left as they are. */
export function insertCandidates(db: Db, rows: CandidateRow[], discoveredAt: number, options: RelayUrlOptions = {}): Promise<WriteResult> {
  return writeRelayRows(db, rows, options, 'SELECT candidate_insert($1::text[], $2::text[], $3::text[], $4::bigint) AS n', (good) => [
    good.map((r) => r.url),
    good.map((r) => r.network),
    good.map((r) => r.source),
    discoveredAt,
  ]);
}

/** New relays; a relay already known keeps its first discovery time. */
export function insertRelays(db: Db, rows: RelayRow[], options: RelayUrlOptions = {}): Promise<WriteResult> {
  return writeRelayRows(db, rows, options, 'SELECT relay_insert($1::text[], $2::text[], $3::bigint[]) AS n', (good) => [
    good.map((r) => r.url),
    good.map((r) => r.network),
    good.map((r) => r.discoveredAt),
  ]);
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

/** Why an object is not a NIP-01 event the archive can store, or undefined when its shape is right. */
export function shapeProblem(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return 'not-an-object';
  const ev = e as Record<string, unknown>;
  if (typeof ev.id !== 'string' || !HEX64.test(ev.id)) return 'bad-id-format';
  if (typeof ev.pubkey !== 'string' || !HEX64.test(ev.pubkey)) return 'bad-pubkey-format';
  if (typeof ev.sig !== 'string' || !HEX128.test(ev.sig)) return 'bad-sig-format';
  if (!Number.isSafeInteger(ev.created_at) || (ev.created_at as number) < 0) return 'bad-created-at';
  if (!Number.isInteger(ev.kind) || (ev.kind as number) < 0 || (ev.kind as number) > 65535) return 'bad-kind';
  if (typeof ev.content !== 'string') return 'bad-content';
  if (!Array.isArray(ev.tags) || !ev.tags.every((t) => Array.isArray(t) && t.every((v) => typeof v === 'string'))) return 'bad-tags';
  return undefined;
}

/**
 * A hex string as a bytea parameter ('\\x' and the hex digits, bytea's input format): what pg
 * sends for a Buffer anyway, without making the Buffer (two hex conversions per value).
 */
export const byteaHex = (hex: string): string => `\\x${hex}`;

/** The call that stores events, its parameters $1-$8 being eventColumns(events). Returns rows inserted. */
export const EVENT_INSERT = 'event_insert($1::bytea[], $2::bytea[], $3::bigint[], $4::int[], $5::jsonb[], $6::text[], $7::bytea[], $8::text[])';

/**
 * The columns of events, as the arrays event_insert takes. An event whose content or tags hold
 * what PostgreSQL cannot (U+0000, a lone surrogate) is stored with those as U+FFFD and, beside,
 * exactly (sql/bigbrotr/0017): valid Nostr is archived as signed, never dropped for our storage.
 */
export function eventColumns(events: NostrEvent[]): unknown[] {
  const exact = events.map((e) => (unstorableEvent(e) ? JSON.stringify({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig }) : null));
  return [
    events.map((e) => byteaHex(e.id)),
    events.map((e) => byteaHex(e.pubkey)),
    events.map((e) => e.created_at),
    events.map((e) => e.kind),
    events.map((e, i) => JSON.stringify(exact[i] ? storableJson(e.tags) : e.tags)),
    events.map((e, i) => (exact[i] ? storableText(e.content) : e.content)),
    events.map((e) => byteaHex(e.sig)),
    exact,
  ];
}

const unstorableEvent = (e: NostrEvent) => hasUnstorable(e.content) || e.tags.some((t) => t.some(hasUnstorable));

/** Stores events whose shape is right (and, for the archive, verified): one set-based call. Returns rows inserted. */
export async function storeEvents(db: Pick<Db, 'query'>, events: NostrEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const { rows } = await db.query<{ n: number }>(`SELECT ${EVENT_INSERT} AS n`, eventColumns(events));
  return rows[0]?.n ?? 0;
}

/**
 * Events for fixtures and benchmarks, which make them signed: shape-checked, not verified (the
 * Synchronizer's path, archiveEvents, verifies). Rows of the wrong shape are refused with a reason.
 */
export async function insertEvents(db: Db, events: NostrEvent[]): Promise<{ inserted: number; rejected: Array<{ id: string; reason: string }> }> {
  const good: NostrEvent[] = [];
  const rejected: Array<{ id: string; reason: string }> = [];
  for (const e of events) {
    const reason = shapeProblem(e);
    if (reason) rejected.push({ id: String(e.id).slice(0, 64), reason });
    else good.push(e);
  }
  return { inserted: await storeEvents(db, good), rejected };
}
