// Archiving what relays send: every event checked before it is stored (its id is the sha256 of
// its NIP-01 serialisation, its schnorr signature is valid), then stored with the relay it came
// from. An event already archived needs only the id check and a new event↔relay link: its
// signature was checked when it was first stored. A batch takes one statement to find and link
// what the archive has, and one more, only if some are new, to store them with their links.
// New events are verified by the process's verifier (verify/: native libsecp256k1 when it is
// installed, else wasm; on worker threads or on this one).
import { countReason, type EventCounts } from '../../common/index.js';
import type { Db } from '../db/db.js';
import { byteaHex, EVENT_INSERT, eventColumns, shapeProblem, type NostrEvent } from '../db/store.js';
import { OversizedEvent } from '../relay/relay-socket.js';
import { idForm, OK, sharedVerifier, VERDICT_REASONS } from './verify/index.js';
import { countSyncEvents } from '../shared/metrics.js';

/**
 * An event dated this far past now is refused ('created-in-future'): relays refuse them (strfry
 * past 15 minutes), and one archived would top every newest-first listing until its date.
 */
const MAX_FUTURE_SEC = 3600;

export interface ArchiveResult extends EventCounts {
  /** Signatures checked (known events are not). */
  signaturesChecked: number;
}

/*
 * PREPARED: the archive's statements are named, so each connection plans them once. Planned anew,
 * each call's lookup over event's 16 partitions cost PostgreSQL ~1-2 ms of planning and locking
 * whatever the batch size (measured on 200,000 archived events: 23-30 µs an event in calls of
 * 1,000 ids unnamed, 21-23 named). PgBouncer in transaction mode carries protocol-level prepared
 * statements since 1.21 (max_prepared_statements, 200 by default since 1.22).
 */
export async function archiveEvents(db: Db, relayUrl: string, raw: unknown[], seenAt: number, until?: number): Promise<ArchiveResult> {
  const result = await archive(db, relayUrl, raw, seenAt, until);
  countSyncEvents(relayUrl, result); // once stored (a batch that fails is counted by its retry)
  return result;
}

/** `until`: the window asked, whose events are never 'created-in-future' (a clock that runs ahead, as a test's does, moves the bound with it). */
async function archive(db: Db, relayUrl: string, raw: unknown[], seenAt: number, until = 0): Promise<ArchiveResult> {
  const result: ArchiveResult = { received: raw.length, inserted: 0, known: 0, linked: 0, invalid: {}, signaturesChecked: 0 };
  const refuse = (reason: string) => countReason(result.invalid, reason);

  // Every event's id is checked first (it must be the hash of the event): a forged copy of an
  // archived event is refused here, so what the lookup below finds can be linked at once.
  const candidates = new Map<string, NostrEvent>();
  const latest = Math.max(Math.floor(Date.now() / 1000), until) + MAX_FUTURE_SEC;
  for (const e of raw) {
    // Over max_event_bytes or max_event_tags: read off the socket, summarised, never kept (relay-socket.ts).
    if (e instanceof OversizedEvent) {
      refuse('too-large');
      continue;
    }
    const problem = shapeProblem(e);
    if (problem) refuse(problem);
    else if ((e as NostrEvent).created_at > latest) refuse('created-in-future');
    else if (!idForm(e as NostrEvent)) refuse('id-mismatch');
    else candidates.set((e as NostrEvent).id, e as NostrEvent); // a repeat in the batch counts once
  }
  if (candidates.size === 0) return result;

  // One round trip links the events the archive has (their signatures were checked when they
  // were first stored) and names them: for a relay serving what other relays did, the only one.
  // The ids come back as one string of 64-character hex ids: a text[] of them cost the worker
  // 5% of its time in the known-event pass of bench:sync, parsed character by character.
  const { rows } = await db.query<{ known: string | null; linked: number }>({
    name: 'archive-find-link', // prepared: see PREPARED above
    text: `WITH found AS (SELECT id FROM event_find($1::bytea[]))
           SELECT string_agg(encode(id, 'hex'), '') AS known,
                  event_relay_link(coalesce(array_agg(id), '{}'), $2::text, $3::bigint) AS linked
           FROM found`,
    values: [[...candidates.keys()].map(byteaHex), relayUrl, seenAt],
  });
  const found = rows[0]!.known ?? '';
  result.linked = rows[0]!.linked;
  // Each candidate is found at most once: as many ids as candidates means the archive has them
  // all (a relay serving what others did), with nothing to sort out.
  if (found.length === 64 * candidates.size) {
    result.known = candidates.size;
    return result;
  }
  const known = new Set<string>();
  for (let i = 0; i < found.length; i += 64) known.add(found.slice(i, i + 64));
  result.known = known.size;
  const fresh = [...candidates.values()].filter((e) => !known.has(e.id));
  if (fresh.length === 0) return result;

  // The new ones: each signature checked by the verifier (which hashes again: a cost of new
  // events only, ~3% of their time).
  const verdicts = await (await sharedVerifier()).check(fresh);
  result.signaturesChecked = fresh.length;
  const verified = fresh.filter((_, i) => {
    const v = verdicts[i]!;
    if (v === OK) return true;
    refuse(VERDICT_REASONS[v]!);
    return false;
  });
  if (verified.length === 0) return result;

  // One statement, so one transaction: a link never points at an event that is not there, and a
  // retried batch (the same rows again) leaves the same rows.
  const { rows: written } = await db.query<{ inserted: number; linked: number }>({
    name: 'archive-insert-link',
    text: `SELECT ${EVENT_INSERT} AS inserted, event_relay_link($9::bytea[], $10::text, $11::bigint) AS linked`,
    values: [...eventColumns(verified), verified.map((e) => byteaHex(e.id)), relayUrl, seenAt],
  });
  result.inserted = written[0]?.inserted ?? 0;
  result.linked += written[0]?.linked ?? 0;
  return result;
}
