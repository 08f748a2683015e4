// How the Synchronizer proves a window of one relay complete with NIP-01 REQs alone. A relay
// answers a REQ with the newest events of the filter, at most `limit` and at most its own cap,
// which it may not advertise: "fewer than I asked for" proves nothing. What does:
//
//  - an answer smaller than the most this relay has ever sent for one REQ (`largestAnswer`, learned
//    and carried in its workflow state): the relay's cap did not cut it, so the window is whole;
//  - a page asked with `until` at the oldest second received that brings nothing older: the relay
//    has shown there is nothing more in the window (an answer holds the newest events, so every
//    second above the oldest one it reached was whole).
//
// Until a relay has sent a large answer, every window is paged down once (one more REQ, which
// brings back the events of its oldest second). A window whose answer may be cut is paged down to
// its start, one REQ a page, no event asked twice but those of the page's edge second. A second
// that fills a whole answer is a dense second: counted (NIP-45) where the relay counts, asked again
// at the relay's own cap (NIP-11 max_limit, or the largest answer it has sent) and higher, then
// over NIP-77 where the relay speaks it, then by the ids the archive holds at that second from
// other relays and by every author known for it (or, knowing none, by the kinds the relay
// returned and their authors); what still cannot be proven whole is a recorded gap (relay,
// second, events received, why, and how many are missing where the relay counts).
//
// A relay may lower its cap while we trust the larger one it showed: a window is audited (paged
// once more though its answer looked whole) on the first window of each round, every AUDIT_EVERY
// windows, and when two answers in a row have the same size (what a cap looks like). An audit that
// finds more has the windows since the last audit read again (sync-span.ts).
//
// The reader (`ProofReader`) does the I/O: sync-window.ts over a relay connection, and the
// workflow tests over a simulated relay.
import type { RelayKnowledge } from '../../common/index.js';

/** One event of an answer, as the proof needs it (the events themselves go to the archive as they come). */
export interface Got {
  id: string;
  createdAt: number;
  kind: number;
  pubkey: string;
}

export interface Answer {
  /** EVENT messages the relay sent for the REQ, well-formed or not: the answer's size, for its cap. */
  n: number;
  /** The well-formed ones. */
  events: Got[];
}

export type ReqFilter = { since: number; until: number; limit: number; kinds?: number[]; authors?: string[]; ids?: string[] };

export interface ProofReader {
  /** One REQ; its events are archived as they come; returns what came back. */
  req(filter: ReqFilter): Promise<Answer>;
  /** NIP-45: how many events the relay holds for the filter; undefined when it does not answer COUNT. */
  count?(filter: Omit<ReqFilter, 'limit'>): Promise<number | undefined>;
  /** What the archive holds at one second from other relays: ids and their authors (hex). */
  archived?(second: number): Promise<Array<{ id: string; pubkey: string }>>;
  /** NIP-77 over one second: true when reconciled (whole), false when the relay does not take it. */
  negentropySecond?(second: number): Promise<boolean>;
}

/**
 * The relay cannot be read window by window: NIP-42 without a key, `restricted:` (after AUTH or
 * not), or answers that ignore `since`/`until`. An answer, not a fault: the span returns it.
 */
export class RelayRefused extends Error {
  override name = 'RelayRefused';
}

/** Windows taken on the learned cap between two audits. */
export const AUDIT_EVERY = 16;
/** Authors per REQ when a dense second is split by author. */
const AUTHORS_PER_REQ = 100;
/** REQs one dense second may take split by author, before what is still cut is left to its gap. */
const MAX_SPLIT_REQS = 400;

export interface WindowPlan {
  since: number;
  until: number;
  /** Events per REQ. */
  ask: number;
  /** REQs one window may take before it is handed back incomplete (to be asked again smaller). */
  maxPages: number;
  /** Page once more even if the first answer looks whole (see AUDIT_EVERY). */
  audit: boolean;
  /** A dense second is asked again at up to this many events (doubling), whatever the relay says of its cap. */
  maxAsk?: number;
}

/** A dense second that could not be proven whole. */
export interface Gap {
  second: number;
  received: number;
  reason: string;
  /** Events the relay counted (NIP-45) and did not serve: the gap's size, where the relay counts. */
  missing?: number;
}

export interface Proof {
  complete: boolean;
  reqs: number;
  /** Events of the window received (well-formed, each once). */
  distinct: number;
  /** The first answer's size (0 for an empty window). */
  firstAnswer: number;
  /** The window was paged at least once beyond its first answer, to its start (its completeness shown, not assumed). */
  paged: boolean;
  /** The window was audited and the audit found nothing more. */
  audited: boolean;
  /** An audit found the relay capping below `largestAnswer`. */
  capLowered: boolean;
  denseSeconds: number;
  gaps: Gap[];
  /** The oldest second the paging reached (for the resize of an incomplete window). */
  reached: number;
  /** Ids received at the window's first and last seconds (for the overlap count). */
  idsAtSince: Set<string>;
  idsAtUntil: Set<string>;
  /** The window's first second was read as a dense second. */
  denseAtUntil: boolean;
}

/** Reads the window [since, until] page by page until it is shown complete (or the REQ budget runs out). `k` is updated with what the relay showed. */
export async function proveWindow(reader: ProofReader, k: RelayKnowledge, plan: WindowPlan): Promise<Proof> {
  const { since, until } = plan;
  const proof: Proof = {
    complete: false, reqs: 0, distinct: 0, firstAnswer: 0, paged: false, audited: false, capLowered: false, denseSeconds: 0,
    gaps: [], reached: until, idsAtSince: new Set(), idsAtUntil: new Set(), denseAtUntil: false,
  };
  const seen = new Set<string>();
  const note = (events: Got[]) => {
    let fresh = 0;
    for (const e of events) {
      if (e.createdAt === since) proof.idsAtSince.add(e.id);
      if (e.createdAt === until) proof.idsAtUntil.add(e.id);
      if (!seen.has(e.id)) {
        seen.add(e.id);
        fresh++;
      }
    }
    proof.distinct = seen.size;
    return fresh;
  };
  const ask = asker(reader, k, () => proof.reqs++);

  let largest = k.largestAnswer;
  let t = until;
  /** A second we know holds events the next page must bring back (unless the relay treats `until` as exclusive). */
  let expectAt: number | undefined;
  let audit = plan.audit;
  /** The size of the answer under audit: if the next page brings anything new, the relay cut it there. */
  let auditedAnswer: number | undefined;
  /** Pages asked (a dense second's REQs are not counted: they end, gap or not). */
  let pages = 0;
  for (;;) {
    if (pages >= plan.maxPages) break;
    pages++;
    const { n, inside, wild } = await ask({ since, until: t, limit: plan.ask });
    // Nothing of what it sent is in the seconds asked, and some is far outside them: it ignores
    // `since`/`until`, and no answer of it can show a window complete.
    if (inside.length === 0 && wild === n && n > 0) throw new RelayRefused(`answers REQs with events outside their since/until (${n} of ${n}): its windows cannot be shown complete`);
    if (pages === 1) {
      proof.firstAnswer = n;
      // The same size as the last answer taken on trust: what a silent cap looks like.
      if (n >= 2 && n === k.lastAnswer && n < largest) audit = true;
    }
    if (expectAt !== undefined && !k.untilExclusive && !inside.some((e) => e.createdAt === expectAt)) {
      // Asked up to second t, it left out the events of t it sent a page ago: it reads `until`
      // as exclusive, and so left out the window's last second too. The window is read again
      // from its top with until + 1 (and so every window from now on): once in a relay's life.
      k.untilExclusive = true;
      t = until;
      expectAt = undefined;
      continue;
    }
    const fresh = note(inside);
    if (auditedAnswer !== undefined) {
      if (fresh > 0) {
        // The audited answer looked whole and was not: the relay now cuts at that size.
        proof.capLowered = true;
        largest = auditedAnswer;
        k.largestAnswer = auditedAnswer;
      } else proof.audited = true;
      auditedAnswer = undefined;
    }
    // Cut by our limit, or perhaps by the relay's cap: an answer the size of either proves nothing.
    const mayBeCut = n > 0 && n >= Math.min(largest, plan.ask);
    largest = Math.max(largest, n);
    k.largestAnswer = Math.max(k.largestAnswer, n);
    if (inside.length === 0 || (!mayBeCut && !audit)) {
      proof.complete = true;
      break;
    }
    // NIP-45: a first answer below our limit but at the relay's cap (whole, or cut: a silent cap
    // cannot tell), counted: as many as the window holds shows it whole in one round trip
    // instead of pages. (At our own limit the window was sized to hold less: paging it is cheaper.)
    if (mayBeCut && n < plan.ask && pages === 1 && reader.count && k.count === 'yes') {
      const c = await reader.count({ since, until: k.untilExclusive ? t + 1 : t });
      if (c === undefined) k.count = 'no';
      else if (c < seen.size) k.count = 'untrusted'; // served more than it counts
      else if (c === seen.size) {
        proof.complete = true;
        break;
      }
    }
    if (!mayBeCut) {
      auditedAnswer = n;
      audit = false;
    }
    proof.paged ||= pages > 1 || mayBeCut;
    let oldest = t;
    for (const e of inside) if (e.createdAt < oldest) oldest = e.createdAt;
    proof.reached = oldest;
    if (oldest === t) {
      // The whole answer is one second: paging by `until` cannot get past it.
      if (mayBeCut) {
        proof.denseSeconds++;
        if (t === until) proof.denseAtUntil = true;
        const r = await proveSecond(reader, k, t, inside, plan.ask, ask, note, plan.maxAsk);
        largest = Math.max(largest, k.largestAnswer);
        if (!r.complete) proof.gaps.push({ second: t, received: r.received, reason: r.reason, missing: r.missing });
      }
      proof.reached = t - 1; // every second from t up is read (or its gap recorded)
      if (t === since) {
        proof.complete = true;
        break;
      }
      t--;
      expectAt = undefined;
      continue;
    }
    t = oldest;
    expectAt = oldest;
  }
  if (proof.complete && pages > 1 && !proof.capLowered) proof.paged = true;
  return proof;
}

type Ask = (f: ReqFilter) => Promise<{ n: number; inside: Got[]; wild: number }>;

/** One REQ through `reader`, `until` as the relay reads it, and the answer's events inside the filter's seconds. */
function asker(reader: ProofReader, k: RelayKnowledge, counted: () => void): Ask {
  return async (filter) => {
    counted();
    const a = await reader.req({ ...filter, until: k.untilExclusive ? filter.until + 1 : filter.until });
    // What lies outside the filter (a relay that ignores `since`/`until`, or the second after
    // `until` asked of a relay that treats it as exclusive) proves nothing about the window.
    const inside = a.events.filter((e) => e.createdAt >= filter.since && e.createdAt <= filter.until);
    // Outside by more than the second after `until` (which a relay read as exclusive is asked for).
    const wild = a.events.filter((e) => e.createdAt < filter.since || e.createdAt > filter.until + 1).length;
    return { n: a.n, inside, wild };
  };
}

/** A recorded gap looked at again: the second read as a dense one from scratch. */
export async function retrySecond(
  reader: ProofReader, k: RelayKnowledge, second: number, maxAsk?: number,
): Promise<{ complete: boolean; received: number; reason: string; reqs: number; missing?: number }> {
  let reqs = 0;
  const r = await proveSecond(reader, k, second, [], 0, asker(reader, k, () => reqs++), () => 0, maxAsk);
  return { ...r, reqs };
}

type SecondProof = { complete: boolean; received: number; reason: string; missing?: number };

/**
 * A second that filled a whole answer (asked with `asked` events a REQ; 0 for a recorded gap looked
 * at again): counted (NIP-45) where the relay counts, asked at the relay's own cap and higher
 * (doubling up to `maxAsk`), over NIP-77, then by kind and by author. Complete when an answer
 * smaller than a cap the relay has shown (or advertises) holds it, or when what it served is what
 * it counts. Otherwise a gap, sized by COUNT where the relay counts.
 */
export async function proveSecond(
  reader: ProofReader, k: RelayKnowledge, t: number, first: Got[], asked: number, ask: Ask, note: (events: Got[]) => number, maxAsk = 0,
): Promise<SecondProof> {
  const atT = new Map<string, Got>();
  const keep = (events: Got[]) => {
    note(events);
    for (const e of events) if (e.createdAt === t) atT.set(e.id, e);
  };
  keep(first);
  // NIP-45: the second's total, asked once; equal to what was served is whole, more is a gap of known size.
  let counted: number | undefined;
  const countable = reader.count !== undefined && k.count === 'yes';
  if (countable) {
    counted = await reader.count!({ since: t, until: t });
    if (counted === undefined) k.count = 'no';
  }
  const byCount = (): SecondProof | undefined => {
    if (counted === undefined) return undefined;
    // Served more than it counts: its COUNT is not to be believed, here or later.
    if (atT.size > counted) {
      k.count = 'untrusted';
      counted = undefined;
      return undefined;
    }
    return atT.size === counted ? { complete: true, received: atT.size, reason: '' } : undefined;
  };
  const proven = byCount();
  if (proven) return proven;
  // The relay's own cap: what it advertises, or the most it has sent.
  // (Not our own limit: an answer below the limit we asked, but at the relay's cap, is cut all the same.)
  let own = Math.max(k.maxLimit ?? 0, k.largestAnswer) || Math.max(asked, 1);
  const whole = (n: number) => n < own;
  // Asked at the relay's cap, then higher while its answers come back full: a relay that says
  // nothing of its cap may well serve more than we asked, and one that sends more shows its cap.
  let limit = asked;
  let full = first.length >= asked; // the answer that found the second filled what was asked
  for (let n = 0; ; n++) {
    if (n === 0 && own > asked) limit = own;
    else if (full && limit * 2 <= maxAsk) limit *= 2;
    else break;
    const a = await ask({ since: t, until: t, limit });
    keep(a.inside);
    k.largestAnswer = Math.max(k.largestAnswer, a.n);
    if (whole(a.n)) return { complete: true, received: atT.size, reason: '' }; // below a cap it has shown
    own = Math.max(own, a.n);
    const c = byCount();
    if (c) return c;
    full = a.n >= limit;
  }
  if (reader.negentropySecond && k.negentropy !== 'no') {
    if (await reader.negentropySecond(t)) return { complete: true, received: atT.size, reason: '' };
  }
  // What the archive already holds at t, from other relays: asked of this relay by id (it sends
  // those it has, and only those it sends are linked), and their authors join the relay's own.
  const known = reader.archived ? await reader.archived(t) : [];
  const unserved = known.filter((e) => !atT.has(e.id)).map((e) => e.id);
  for (let i = 0; i < unserved.length; i += own) {
    const batch = unserved.slice(i, i + own);
    const a = await ask({ since: t, until: t, limit: batch.length, ids: batch });
    keep(a.inside);
  }
  if (unserved.length) {
    const c = byCount();
    if (c) return c;
  }
  let cut: string | undefined;
  let splits = 0;
  /** `authors` asked in groups, a group still cut halved (a relay caps `authors` lists too); returns the single authors still cut. */
  const byAuthor = async (authors: string[], kinds?: number[]): Promise<Array<{ author: string; n: number }>> => {
    const stillCut: Array<{ author: string; n: number }> = [];
    const groups: string[][] = [];
    for (let i = 0; i < authors.length; i += AUTHORS_PER_REQ) groups.push(authors.slice(i, i + AUTHORS_PER_REQ));
    for (let group = groups.pop(); group; group = groups.pop()) {
      if (++splits > MAX_SPLIT_REQS) {
        cut ??= `more than ${MAX_SPLIT_REQS} REQs to split it by author`;
        break;
      }
      const b = await ask({ since: t, until: t, limit: own, authors: group, ...(kinds ? { kinds } : {}) });
      keep(b.inside);
      if (whole(b.n)) continue;
      if (group.length === 1) stillCut.push({ author: group[0]!, n: b.n });
      else groups.push(group.slice(0, group.length >> 1), group.slice(group.length >> 1));
    }
    return stillCut;
  };
  if (known.length > 0) {
    // By author, every author the archive and the relay know for t: an author's answer below the
    // cap is that author whole for the second; one at the cap is split by its kinds.
    const authors = [...new Set([...known.map((e) => e.pubkey), ...[...atT.values()].map((e) => e.pubkey)])].sort();
    for (const { author } of await byAuthor(authors)) {
      for (const kind of new Set([...atT.values()].filter((e) => e.pubkey === author).map((e) => e.kind))) {
        const k1 = await ask({ since: t, until: t, limit: own, authors: [author], kinds: [kind] });
        keep(k1.inside);
        if (!whole(k1.n)) cut ??= `kind ${kind}: one author's ${k1.n} events in one second reach the relay's cap (${own})`;
      }
    }
    const c = byCount();
    if (c) return c;
    // Every author known read whole is not yet the second whole: an author no relay has shown
    // may hold events in it (bench:dense: one such event among 1,201). Only COUNT proves it.
  }
  // Split by what NIP-01 filters allow: the kinds the relay returned, and a kind still cut by its authors.
  const kinds = known.length > 0 ? [] : [...new Set([...atT.values()].map((e) => e.kind))].sort((a, b) => a - b);
  for (const kind of kinds) {
    // One kind in all: its answer would be the whole second's again, cut the same way.
    if (kinds.length > 1) {
      const a = await ask({ since: t, until: t, limit: own, kinds: [kind] });
      keep(a.inside);
      if (whole(a.n)) continue;
    }
    const authors = [...new Set([...atT.values()].filter((e) => e.kind === kind).map((e) => e.pubkey))].sort();
    for (const { n } of await byAuthor(authors, [kind])) cut ??= `kind ${kind}: one author's ${n} events in one second reach the relay's cap (${own})`;
  }
  const c = byCount();
  if (c) return c;
  const reason = cut ?? (known.length > 0
    ? (counted !== undefined
      ? `more than the relay's cap (${own}) in one second, no NIP-77: read by every author the archive and the relay know, and the relay counts ${counted} (${atT.size} served)`
      : `more than the relay's cap (${own}) in one second, no NIP-77, no COUNT: read by every author the archive and the relay know, but an author none has shown cannot be ruled out`)
    : `more than the relay's cap (${own}) in one second, no NIP-77: read by its ${kinds.length} kind(s), but NIP-01 cannot show there is no event of another kind`);
  return { complete: false, received: atT.size, reason, ...(counted !== undefined ? { missing: counted - atT.size } : {}) };
}
