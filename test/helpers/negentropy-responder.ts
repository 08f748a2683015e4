// The relay's side of NIP-77 for the local test relay, on nostr-tools' Negentropy. That class is
// written for the initiator: a range the other side sends as a list of ids it settles by itself
// (have/need) and answers nothing, where a responder must answer with its own ids, or the client
// never learns them. So before the class reads a client's message, each IdList range is turned
// into a Fingerprint range of the same ids (the fingerprint computed by nostr-tools' storage),
// which the class does answer as a responder must: nothing when both sides hold the same ids,
// else its own ids (or, when it holds many, fingerprints of their buckets, which the client splits
// further). Only the ranges' framing is read here; the reconciliation is nostr-tools'.
import { nip77 } from 'nostr-tools';
import type { Event } from 'nostr-tools/pure';

const MODE_FINGERPRINT = 1;
const MODE_ID_LIST = 2;
const ID_SIZE = 32;
const FINGERPRINT_SIZE = 16;

export class NegentropyResponder {
  private readonly neg: nip77.Negentropy;

  constructor(events: Event[]) {
    const storage = new nip77.NegentropyStorageVector();
    for (const e of events) storage.insert(e.created_at, e.id);
    storage.seal();
    this.neg = new nip77.Negentropy(storage);
  }

  /** The answer to a client's message (hex), itself hex; throws on a message that cannot be read. */
  answer(message: string): string {
    const query = Buffer.from(message, 'hex');
    if (query.length === 0 || query.toString('hex') !== message.toLowerCase()) throw new Error('not a hex message');
    // An answer with no ranges (all settled) is the version byte alone: nostr-tools returns null.
    return this.neg.reconcile(asFingerprints(query).toString('hex')) ?? message.slice(0, 2);
  }
}

/** The message with every IdList range's payload replaced by the fingerprint of its ids. */
function asFingerprints(query: Buffer): Buffer {
  const out: Buffer[] = [query.subarray(0, 1)]; // the protocol version: nostr-tools checks it
  let at = 1;
  const varint = () => {
    let n = 0;
    for (;;) {
      if (at >= query.length) throw new Error('negentropy message ends inside a varint');
      const byte = query[at++]!;
      n = n * 128 + (byte & 0x7f);
      if (byte < 0x80) return n;
    }
  };
  const take = (n: number) => {
    if (at + n > query.length) throw new Error('negentropy message ends inside a range');
    at += n;
  };
  while (at < query.length) {
    const start = at;
    varint(); // the bound's timestamp (delta-encoded: the bytes are kept as they are)
    take(varint()); // the bound's id prefix
    const bound = query.subarray(start, at);
    const mode = varint();
    if (mode !== MODE_ID_LIST) {
      take(mode === MODE_FINGERPRINT ? FINGERPRINT_SIZE : 0); // Skip has no payload; others fail in nostr-tools
      out.push(query.subarray(start, at));
      continue;
    }
    const ids = new nip77.NegentropyStorageVector();
    const count = varint();
    for (let i = 0; i < count; i++) {
      const idAt = at;
      take(ID_SIZE);
      ids.insert(0, query.subarray(idAt, at).toString('hex')); // a fingerprint is of the ids alone
    }
    ids.seal();
    out.push(bound, Buffer.from([MODE_FINGERPRINT]), Buffer.from(ids.fingerprint(0, ids.size())));
  }
  return Buffer.concat(out);
}
