// Archiving what relays send: every event checked before it is stored (its id is the sha256 of
// its NIP-01 serialisation, its schnorr signature is valid), then stored with the relay it came
// from, the batch in one transaction of set-based calls. An event already archived needs only
// the id check and a new event↔relay link: its signature was checked when it was first stored.
import { getEventHash } from 'nostr-tools/pure';
import { setNostrWasm, verifyEvent as verifyWasm } from 'nostr-tools/wasm';
import { initNostrWasm } from 'nostr-wasm';
import type { Db } from './db.js';
import { shapeProblem, storeEvents, type NostrEvent } from './store.js';

let wasmReady: Promise<void> | undefined;
/** nostr-wasm (libsecp256k1 in WebAssembly): ~4x the pure-JS verifier per core, measured here. */
export function loadVerifier(): Promise<void> {
  wasmReady ??= initNostrWasm().then(setNostrWasm);
  return wasmReady;
}

export interface ArchiveResult {
  received: number;
  /** Newly archived events. */
  inserted: number;
  /** Valid events the archive had already (only linked to this relay). */
  known: number;
  /** New event↔relay links. */
  linked: number;
  /** Refused events by reason (never stored). */
  invalid: Record<string, number>;
  /** Signatures checked (known events are not). */
  signaturesChecked: number;
}

export async function archiveEvents(db: Db, relayUrl: string, raw: unknown[], seenAt: number): Promise<ArchiveResult> {
  await loadVerifier();
  const result: ArchiveResult = { received: raw.length, inserted: 0, known: 0, linked: 0, invalid: {}, signaturesChecked: 0 };
  const refuse = (reason: string) => void (result.invalid[reason] = (result.invalid[reason] ?? 0) + 1);

  const candidates = new Map<string, NostrEvent>();
  for (const e of raw) {
    const problem = shapeProblem(e);
    if (problem) refuse(problem);
    else candidates.set((e as NostrEvent).id, e as NostrEvent); // a repeat in the batch counts once
  }
  if (candidates.size === 0) return result;

  const ids = [...candidates.keys()];
  const { rows } = await db.query<{ id: Buffer }>('SELECT id FROM event WHERE id = ANY($1::bytea[])', [ids.map((id) => Buffer.from(id, 'hex'))]);
  const known = new Set(rows.map((r) => r.id.toString('hex')));
  const fresh: NostrEvent[] = [];
  // Each event is hashed once: a known one by the id check alone, a new one inside the verifier
  // (which checks hash and signature); only a failure is hashed again, to name its reason.
  for (const [id, ev] of candidates) {
    if (known.has(id)) {
      if (getEventHash(ev) === id) continue;
      known.delete(id); // someone else's id on a forged event: refused, the archived one stays
      refuse('id-mismatch');
    } else {
      result.signaturesChecked++;
      if (verifyWasm(ev)) {
        fresh.push(ev);
        continue;
      }
      refuse(getEventHash(ev) === id ? 'bad-signature' : 'id-mismatch');
    }
    candidates.delete(id);
  }
  result.known = known.size;

  const client = await db.connect();
  try {
    // One transaction: a link never points at an event that is not there, and a retried batch
    // (the same rows again) leaves the same rows.
    await client.query('BEGIN');
    result.inserted = await storeEvents(client, fresh);
    const linkIds = [...candidates.keys()];
    const link = await client.query<{ n: number }>('SELECT event_relay_insert($1::bytea[], $2::text[], $3::bigint[]) AS n', [
      linkIds.map((id) => Buffer.from(id, 'hex')),
      linkIds.map(() => relayUrl),
      linkIds.map(() => seenAt),
    ]);
    result.linked = link.rows[0]?.n ?? 0;
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  return result;
}
