// Content-addressed storage of relay metadata (NIP-11 documents, NIP-66 results): a document's id
// is the sha256 of its canonical JSON, so an unchanged document is stored once and each
// measurement costs one small row in the relay_metadata time series.
import { createHash } from 'node:crypto';
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

/** Stores documents and their time-series rows: two set-based calls for the whole batch. */
export async function storeMetadata(db: Db, rows: MetadataRow[]): Promise<{ documents: number; snapshots: number }> {
  if (rows.length === 0) return { documents: 0, snapshots: 0 };
  const ids = rows.map((r) => contentId(r.payload));
  const client = await db.connect();
  try {
    // One transaction: a snapshot never points at a document that is not there.
    await client.query('BEGIN');
    const docs = await client.query<{ n: number }>('SELECT metadata_insert($1::bytea[], $2::jsonb[]) AS n', [
      ids,
      rows.map((r) => canonicalJson(r.payload)),
    ]);
    const snaps = await client.query<{ n: number }>('SELECT relay_metadata_insert($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS n', [
      rows.map((r) => r.relayUrl),
      rows.map((r) => r.type),
      rows.map((r) => r.generatedAt),
      ids,
    ]);
    await client.query('COMMIT');
    return { documents: docs.rows[0]?.n ?? 0, snapshots: snaps.rows[0]?.n ?? 0 };
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
