// Content-addressed storage of relay metadata (NIP-11 documents, NIP-66 results): a document's id
// is the sha256 of its canonical JSON, so an unchanged document is stored once and each
// measurement costs one small row in the relay_metadata time series. The Monitor's check outcomes
// (failures included) go the same way into relay_check: one narrow row per check and pass, a
// failure's reason a document.
import { createHash } from 'node:crypto';
import { storableJson, storableText } from '../../common/index.js';
import type { Db } from './db.js';

export const METADATA_TYPES = ['nip11', 'nip66_rtt', 'nip66_ssl', 'nip66_geo', 'nip66_net', 'nip66_dns', 'nip66_http'] as const;
export type MetadataType = (typeof METADATA_TYPES)[number];

/** JSON with object keys sorted at every depth and no insignificant space: one text per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

export function contentId(value: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(value)).digest();
}

export interface MetadataRow {
  relayUrl: string;
  type: MetadataType;
  generatedAt: number;
  payload: unknown;
}

/** The checks a Monitor pass records an outcome of (relay_check.check_name). */
export const CHECK_NAMES = ['nip11', 'open', 'read', 'write', 'ssl', 'dns', 'geo', 'net', 'http'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/**
 * One check's outcome in one pass. `ok`: passed; `failed`: the relay failed it; `absent`: nothing
 * to check, and not the relay's fault (no NIP-11 document served). `code` is short and stable;
 * `reason` must hold no variable parts (see stableReason), so that a repeated failure is one document.
 */
export type CheckOutcome = { relayUrl: string; check: CheckName; generatedAt: number } & (
  | { outcome: 'ok' }
  | { outcome: 'failed' | 'absent'; code: string; reason: string }
);

/**
 * A failure's reason without what changes from one pass or one relay to the next: the relay's URL
 * and host, durations in ms, byte counts. What is left says why, and is the same text each time a
 * relay fails the same way (and often for many relays).
 */
export function stableReason(reason: string, relayUrl: string): string {
  let host = '';
  try {
    host = new URL(relayUrl).hostname.replace(/^\[|\]$/g, '');
  } catch {
    // not a URL: only the URL itself is taken out
  }
  let out = reason.split(relayUrl).join('<relay>').split(relayUrl.replace(/\/$/, '')).join('<relay>');
  if (host) out = out.split(host).join('<host>');
  return out
    .replace(/\b\d+(\.\d+)? ?ms\b/g, '<n> ms')
    .replace(/\b\d+ bytes\b/g, '<n> bytes')
    .trim()
    .slice(0, 500);
}

/** Stores documents and their time-series rows: two set-based calls for the whole batch. */
export async function storeMetadata(db: Db, rows: MetadataRow[]): Promise<{ documents: number; snapshots: number }> {
  const { documents, snapshots } = await storeChecks(db, rows, []);
  return { documents, snapshots };
}

/**
 * Stores documents and their time-series rows, and the checks' outcomes (each failure's
 * {check, code, reason} as a document too): three set-based calls for the whole batch, one transaction.
 * Every string is made storable first (a relay's words may hold NUL or lone surrogates), and the
 * id is the hash of what is stored.
 */
export async function storeChecks(
  db: Db, rows: MetadataRow[], outcomes: CheckOutcome[],
): Promise<{ documents: number; snapshots: number; outcomes: number }> {
  if (rows.length === 0 && outcomes.length === 0) return { documents: 0, snapshots: 0, outcomes: 0 };
  const outcomeDocs = outcomes.map((o) => (o.outcome === 'ok' ? null : storableJson({ check: o.check, code: o.code, reason: o.reason })));
  const payloads = [...rows.map((r) => storableJson(r.payload)), ...outcomeDocs.filter((d) => d !== null)];
  const ids = payloads.map((p) => contentId(p));
  const outcomeIds = outcomeDocs.map((d) => (d === null ? null : contentId(d)));
  const client = await db.connect();
  try {
    // One transaction: a snapshot never points at a document that is not there.
    await client.query('BEGIN');
    const docs = await client.query<{ n: number }>('SELECT metadata_insert($1::bytea[], $2::jsonb[]) AS n', [
      ids,
      payloads.map((p) => canonicalJson(p)),
    ]);
    const snaps = await client.query<{ n: number }>('SELECT relay_metadata_insert($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS n', [
      rows.map((r) => r.relayUrl),
      rows.map((r) => r.type),
      rows.map((r) => r.generatedAt),
      ids.slice(0, rows.length),
    ]);
    const checks = outcomes.length === 0 ? undefined : await client.query<{ n: number }>(
      'SELECT relay_check_insert($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[]) AS n',
      [
        outcomes.map((o) => o.relayUrl),
        outcomes.map((o) => o.check),
        outcomes.map((o) => o.generatedAt),
        outcomes.map((o) => o.outcome),
        outcomes.map((o) => (o.outcome === 'ok' ? null : storableText(o.code))),
        outcomeIds,
      ],
    );
    await client.query('COMMIT');
    return { documents: docs.rows[0]?.n ?? 0, snapshots: snaps.rows[0]?.n ?? 0, outcomes: checks?.rows[0]?.n ?? 0 };
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
