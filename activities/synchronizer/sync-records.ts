// What the Synchronizer keeps in the database besides events and links: the gaps it could not
// fill (sync_gap) and the relays that refuse to be read (sync_refusal), both for analysts to query
// and for the sync to find again; and the relay's latest stored NIP-11, read before its windows.
import { storableText } from '../../common/index.js';
import type { Db } from '../db/db.js';
import type { Nip11Document } from '../relay/nip11.js';
import type { Gap } from './sync-proof.js';

const now = () => Math.floor(Date.now() / 1000);

/** The relay's latest NIP-11 document as the Monitor (or an earlier sync) stored it; undefined: none stored. */
export async function storedNip11(db: Db, url: string): Promise<Nip11Document | undefined> {
  const { rows } = await db.query<{ payload: Nip11Document }>(
    `SELECT payload FROM relay_metadata_latest WHERE relay_url = $1::text AND metadata_type = 'nip11'`,
    [url],
  );
  return rows[0]?.payload;
}

/** Gaps of one relay, one call: a second recorded again keeps its first time and counts the try (and opens again if it was filled). */
export async function recordGaps(db: Db, url: string, gaps: Gap[]): Promise<void> {
  if (gaps.length === 0) return;
  await db.query(
    `INSERT INTO sync_gap (relay_url, second, received, reason, missing, recorded_at, tried_at)
     SELECT $1::text, g.second, g.received, g.reason, g.missing, $3::bigint, $3::bigint
     FROM jsonb_to_recordset($2::jsonb) AS g(second bigint, received integer, reason text, missing integer)
     ON CONFLICT (relay_url, second) DO UPDATE
       SET received = GREATEST(sync_gap.received, excluded.received), reason = excluded.reason, missing = excluded.missing,
           tried_at = excluded.tried_at, tries = sync_gap.tries + 1, filled_at = NULL`,
    [url, JSON.stringify(gaps), now()],
  );
}

/** The relay's open gaps, oldest second first. */
export async function openGaps(db: Db, url: string, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ second: string }>(
    `SELECT second FROM sync_gap WHERE relay_url = $1::text AND filled_at IS NULL ORDER BY second LIMIT $2::int`,
    [url, limit],
  );
  return rows.map((r) => Number(r.second));
}

/** Gaps since proven whole. */
export async function fillGaps(db: Db, url: string, seconds: number[]): Promise<void> {
  await db.query(
    `UPDATE sync_gap SET filled_at = $3::bigint, tried_at = $3::bigint, tries = tries + 1
     WHERE relay_url = $1::text AND second = ANY($2::bigint[])`,
    [url, seconds, now()],
  );
}

/** A relay's refusal to be read, recorded (first time kept); or, when it served, its record removed. */
export async function noteRefusal(db: Db, url: string, reason: string | undefined): Promise<void> {
  if (reason === undefined) {
    await db.query(`DELETE FROM sync_refusal WHERE relay_url = $1::text`, [url]);
    return;
  }
  await db.query(
    `INSERT INTO sync_refusal (relay_url, reason, since, checked_at) VALUES ($1::text, $2::text, $3::bigint, $3::bigint)
     ON CONFLICT (relay_url) DO UPDATE SET reason = excluded.reason, checked_at = excluded.checked_at`,
    [url, storableText(reason), now()], // a relay's own words: NUL and lone surrogates can be in them
  );
}
