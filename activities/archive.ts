// Archiving what relays send: every event checked before it is stored (its id is the sha256 of
// its NIP-01 serialisation, its schnorr signature is valid), then stored with the relay it came
// from, the batch in one statement of set-based calls. An event already archived needs only
// the id check and a new event↔relay link: its signature was checked when it was first stored.
// New events are verified by the process's verifier (verify/: native libsecp256k1 when it is
// installed, else wasm; on worker threads or on this one).
import type { Db } from './db.js';
import { byteaHex, EVENT_INSERT, eventColumns, shapeProblem, type NostrEvent } from './store.js';
import { eventId, OK, sharedVerifier, VERDICT_REASONS } from './verify/index.js';

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
  const { rows } = await db.query<{ id: string }>(`SELECT encode(id, 'hex') AS id FROM event_find($1::bytea[])`, [ids.map(byteaHex)]);
  const known = new Set(rows.map((r) => r.id));
  const fresh: NostrEvent[] = [];
  for (const [id, ev] of candidates) {
    if (!known.has(id)) fresh.push(ev);
    else if (eventId(ev) !== id) {
      known.delete(id); // someone else's id on a forged event: refused, the archived one stays
      candidates.delete(id);
      refuse('id-mismatch');
    }
  }
  // Each new event is hashed once, with its signature, by the verifier.
  const verdicts = fresh.length ? await (await sharedVerifier()).check(fresh) : new Uint8Array(0);
  result.signaturesChecked = fresh.length;
  const verified = fresh.filter((ev, i) => {
    const v = verdicts[i]!;
    if (v === OK) return true;
    refuse(VERDICT_REASONS[v]!);
    candidates.delete(ev.id);
    return false;
  });
  result.known = known.size;

  // One statement, so one transaction: a link never points at an event that is not there, and a
  // retried batch (the same rows again) leaves the same rows.
  const linkIds = [...candidates.keys()];
  const { rows: written } = await db.query<{ inserted: number; linked: number }>(
    `SELECT ${EVENT_INSERT} AS inserted,
            event_relay_link($8::bytea[], $9::text, $10::bigint) AS linked`,
    [...eventColumns(verified), linkIds.map(byteaHex), relayUrl, seenAt],
  );
  result.inserted = written[0]?.inserted ?? 0;
  result.linked = written[0]?.linked ?? 0;
  return result;
}
