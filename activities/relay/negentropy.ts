// NIP-77 (negentropy) from the client's side, over an open relay connection: our ids and the
// relay's, for one filter, are reconciled range by range, and we learn the ids the relay has and
// we lack without either side sending an event. nostr-tools' Negentropy speaks the protocol (it is
// written for the initiator, which we are); this module carries its messages and reads the
// relay's answers. A relay that does not speak NIP-77 says so in its own way (NEG-ERR, NOTICE,
// CLOSED, a single version byte, or nothing at all): that is an answer, returned, not thrown.
import { nip77 } from 'nostr-tools';
import { RelayError, type RelayConnection } from './relay-socket.js';

/**
 * Bytes per negentropy message we send (hex doubles it on the wire): 64 KB frames fit the message
 * limit of the relays that speak NIP-77 (strfry's default is 128 KiB), where nostr-tools' default
 * (60 KB, so 120 KB of hex) would leave no room on the smaller ones.
 */
const FRAME_SIZE_LIMIT = 32_000;

/** An event on our side of the reconciliation. */
export interface IdRecord {
  id: string;
  createdAt: number;
}

export type Reconciliation =
  | {
      supported: true;
      /** Ids the relay has and we lack, each once. */
      need: string[];
      /** `maxNeed` was reached and the reconciliation closed before the end: `need` is partial. */
      stoppedEarly: boolean;
      rounds: number;
    }
  | {
      supported: false;
      reason: string;
      /** The relay does not speak NIP-77 (or not our version); false: it refused this query only (NEG-ERR `blocked:`). */
      lasting: boolean;
      /** The relay closed the socket on our NEG-OPEN: a new connection is needed for anything else. */
      connectionLost: boolean;
    };

/** The relay speaks NIP-77 but sent what cannot be read: an error naming the relay, for Temporal to retry. */
export class NegentropyError extends RelayError {
  constructor(message: string) {
    super('protocol', message);
  }
}

export interface ReconcileOptions {
  /** Unique among this connection's negentropy sessions. */
  subId: string;
  filter: Record<string, unknown>;
  ours: IdRecord[];
  /** For each answer of the relay; silence before the first one means the relay ignores NEG-OPEN. */
  timeoutMs: number;
  /** Stop once this many needed ids are known (a window too big for one activity is split instead). */
  maxNeed?: number;
  /** After each round, with the needed ids known so far (for heartbeats). */
  onRound?: (need: number) => void;
}

export async function reconcile(conn: RelayConnection, o: ReconcileOptions): Promise<Reconciliation> {
  const storage = new nip77.NegentropyStorageVector();
  for (const r of o.ours) storage.insert(r.createdAt, r.id);
  storage.seal();
  const neg = new nip77.Negentropy(storage, FRAME_SIZE_LIMIT);
  const need = new Set<string>();
  const unsupported = (reason: string, lasting = true, connectionLost = false): Reconciliation =>
    ({ supported: false, reason, lasting, connectionLost });

  const opening = neg.initiate();
  conn.send(['NEG-OPEN', o.subId, o.filter, opening]);
  for (let rounds = 0; ; ) {
    const first = rounds === 0;
    let msg: unknown[];
    try {
      msg = await conn.next((m) => (((m[0] === 'NEG-MSG' || m[0] === 'NEG-ERR' || m[0] === 'CLOSED') && m[1] === o.subId) ||
        // A relay that does not know NEG-OPEN can only say so in a NOTICE (it has no subscription id for it).
        (first && m[0] === 'NOTICE') ? m : undefined), o.timeoutMs);
    } catch (err) {
      if (first && err instanceof RelayError && err.code === 'timeout') return unsupported(`no answer to NEG-OPEN within ${o.timeoutMs} ms`);
      if (first && err instanceof RelayError && err.code === 'closed') return unsupported(`closed the connection on NEG-OPEN (${err.message})`, true, true);
      throw err;
    }
    const text = String(msg[2] ?? '').slice(0, 200);
    if (msg[0] === 'NOTICE') return unsupported(`answered NEG-OPEN with a NOTICE: ${String(msg[1] ?? '').slice(0, 200)}`);
    if (msg[0] === 'CLOSED') {
      if (first) return unsupported(`answered NEG-OPEN with CLOSED: ${text}`);
      throw new RelayError('closed', `${conn.url} closed the negentropy reconciliation: ${text}`);
    }
    if (msg[0] === 'NEG-ERR') {
      // `blocked:` (too many records, NIP-77) is about this query: a smaller window may pass.
      if (first) return unsupported(`answered NEG-OPEN with NEG-ERR: ${text}`, !text.startsWith('blocked'));
      throw new RelayError('closed', `${conn.url} ended the negentropy reconciliation: ${text}`);
    }
    const hex = msg[2];
    if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
      throw new NegentropyError(`${conn.url} sent a NEG-MSG whose message is not hex: ${JSON.stringify(msg[2])?.slice(0, 100)}`);
    }
    // NIP-77: a relay that cannot handle our protocol version answers with the one byte of the
    // highest version it can; nostr-tools speaks one version only, so there is nothing to retry.
    // (Our own version byte alone is a message with nothing left to reconcile.)
    if (first && hex.length === 2 && hex.toLowerCase() !== opening.slice(0, 2)) return unsupported(`speaks negentropy protocol version ${parseInt(hex, 16) - 0x60} only`);
    let reply: string | null;
    try {
      reply = neg.reconcile(hex, undefined, (id) => void need.add(id));
    } catch (err) {
      throw new NegentropyError(`${conn.url} sent a negentropy message that cannot be read: ${(err as Error).message}`);
    }
    rounds++;
    o.onRound?.(need.size);
    const done = reply === null;
    const enough = o.maxNeed !== undefined && need.size >= o.maxNeed;
    if (done || enough) {
      conn.send(['NEG-CLOSE', o.subId]); // the relay may free the session's state at once
      return { supported: true, need: [...need], stoppedEarly: !done, rounds };
    }
    conn.send(['NEG-MSG', o.subId, reply]);
  }
}
