// A relay simulated in memory for the workflow tests: the real span and proof logic
// (activities/synchronizer/sync-span.ts, sync-proof.ts) read it through a RelayIo, as they read a real relay
// through a connection, so the time-skipping tests see every REQ and every event served. It
// answers as NIP-01 says (newest first, lowest id first within a second, at most `limit`), and
// as real relays bend it: a silent cap, `until` read as exclusive, a cap changed while running.
import type { RelayKnowledge, WindowResult } from '../../common/index.js';
import type { RelayIo } from '../../activities/synchronizer/sync-span.js';
import type { Gap, Got, ReqFilter } from '../../activities/synchronizer/sync-proof.js';

export interface SimulatedRelay {
  events: Got[];
  /** Silent cap per REQ (undefined: only the REQ's limit). */
  cap?: number;
  untilExclusive?: boolean;
  /** Ignores since/until (and answers the newest events it holds). */
  ignoresTime?: boolean;
  /** Speaks NIP-77 (the test may turn it on later: a relay upgraded); its reconciliation serves a whole second. */
  nip77?: boolean;
  /** Answers NIP-45 COUNT (as if its NIP-11 listed 45); 'low': counting 10 fewer than it holds. */
  nip45?: boolean | 'low';
  /** COUNTs asked. */
  counts: number;
  /** What the archive holds from other relays (ProofReader.archived). */
  archive?: Got[];
  /** Every REQ filter, in order. */
  reqs: ReqFilter[];
  /** Windows read with REQ (one reader each). */
  readers: number;
  /** Ids the archive received. */
  served: Set<string>;
  /** Recorded gaps by second, open or filled. */
  gaps: Map<number, Gap & { filled: boolean }>;
  io: RelayIo;
}

/** Events at these created_at values (kind 1 unless `kinds` says, one author each unless `authors` says). */
export function simEvents(createdAts: number[], o: { kinds?: (i: number) => number; authors?: (i: number) => string } = {}): Got[] {
  return createdAts.map((createdAt, i) => ({
    id: i.toString(16).padStart(64, '0'),
    createdAt,
    kind: o.kinds?.(i) ?? 1,
    pubkey: o.authors?.(i) ?? 'a'.repeat(64),
  }));
}

export function simulatedRelay(events: Got[], o: { cap?: number; untilExclusive?: boolean } = {}): SimulatedRelay {
  const r: SimulatedRelay = {
    events,
    cap: o.cap,
    untilExclusive: o.untilExclusive,
    reqs: [],
    counts: 0,
    readers: 0,
    served: new Set(),
    gaps: new Map(),
    io: {
      async reader(counts: WindowResult, k: RelayKnowledge) {
        r.readers++;
        // What a real sync learns from the relay's NIP-11 (supported_nips lists 45).
        if (r.nip45 && k.count === undefined) k.count = 'yes';
        const holds = (f: Omit<ReqFilter, 'limit'>) => r.events
          .filter((e) => r.ignoresTime || (e.createdAt >= f.since && (r.untilExclusive ? e.createdAt < f.until : e.createdAt <= f.until)))
          .filter((e) => !f.kinds || f.kinds.includes(e.kind))
          .filter((e) => !f.authors || f.authors.includes(e.pubkey))
          .filter((e) => !f.ids || f.ids.includes(e.id));
        const serve = (answer: Got[]) => {
          let fresh = 0;
          for (const e of answer) if (!r.served.has(e.id)) (r.served.add(e.id), fresh++);
          counts.received += answer.length;
          counts.inserted += fresh;
          counts.known += answer.length - fresh;
        };
        return {
          async negentropySecond(second: number) {
            if (!r.nip77) return false;
            serve(r.events.filter((e) => e.createdAt === second));
            return true;
          },
          async archived(second: number) {
            return (r.archive ?? []).filter((e) => e.createdAt === second).map((e) => ({ id: e.id, pubkey: e.pubkey }));
          },
          async count(f: Omit<ReqFilter, 'limit'>) {
            if (!r.nip45) return undefined;
            r.counts++;
            return Math.max(0, holds(f).length - (r.nip45 === 'low' ? 10 : 0));
          },
          async req(f: ReqFilter) {
            r.reqs.push(f);
            const answer = holds(f)
              .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
              .slice(0, Math.min(f.limit, r.cap ?? Infinity));
            serve(answer);
            counts.reqs++;
            return { n: answer.length, events: answer };
          },
        };
      },
      async recordGaps(gaps) {
        for (const g of gaps) r.gaps.set(g.second, { ...g, filled: false });
      },
      async openGaps(limit) {
        return [...r.gaps.values()].filter((g) => !g.filled).map((g) => g.second).sort((a, b) => a - b).slice(0, limit);
      },
      async fillGaps(seconds) {
        for (const s of seconds) r.gaps.get(s)!.filled = true;
      },
    },
  };
  return r;
}
