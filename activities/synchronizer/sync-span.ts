// The Synchronizer's unit of work: one activity reads a relay window after window, from the
// workflow's cursor towards its target, for about SPAN_MS, and returns the cursor it reached with
// what it learned of the relay (its cap, NIP-77, how it reads `until`: RelayKnowledge).
//
// A window is complete only on evidence (sync-proof.ts): over NIP-77 where the relay speaks it,
// else paged with REQs until shown whole; a complete window advances the cursor and sizes the next
// one from its density; a window the REQ budget could not finish is asked again smaller. Each
// window overlaps the last by its edge second (a relay that reads `until` as exclusive left that
// second out), unless that second was a dense one. Dense seconds that cannot be proven whole are
// recorded gaps (sync_gap), logged, and looked at again later (`retryGaps`).
//
// Why several windows per activity: each activity costs the Temporal server ~15 ms of CPU plus
// the worker's scheduling and a handful of history events. With one activity per window that was
// 6-7 µs per event in bench:sync (~2,400 events a window), and a relay capping its REQs near 500
// events (common) would make ~250-event windows and several times that. The cursor still lives
// in workflow history: the activity returns it, and the workflow passes it on. Within an
// activity the progress rides on its heartbeats, so a retried attempt (a worker killed, a relay
// that dropped the connection) resumes after the last complete window, not at the span's start.
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { addEventCounts, spanProgress, UNKNOWN_RELAY, type RelayKnowledge, type SpanQuery, type SpanResult, type WindowResult } from '../../common/index.js';
import { AUDIT_EVERY, proveWindow, RelayRefused, retrySecond, type Gap, type ProofReader } from './sync-proof.js';
import { emptyWindow, NEGENTROPY_TARGET, type WindowQuery } from './sync-window.js';
import { metrics } from '../shared/metrics.js';

/**
 * How long one activity keeps reading windows before it returns the cursor. Long enough that
 * Temporal's per-activity cost is small beside the events; short enough that the workflow's
 * status (and a cancel's reach, which heartbeats carry anyway) is never far behind.
 */
export const SPAN_MS = 30_000;
/** Pages one window may take (a dense second's REQs not counted) before it is asked again smaller. */
const MAX_PAGES_PER_WINDOW = 40;
/** Recorded gaps looked at again per activity. */
const GAPS_PER_RETRY = 100;
/** A relay that refused NEG-OPEN is offered it again after this long (relays are upgraded). */
const NEGENTROPY_RECHECK_MS = 7 * 86_400_000;

/** The heartbeat of the activity (it carries the span's progress). */
type Beat = () => void;

/** What a span needs of the relay and the archive: sync-window.ts over a connection, or a simulated relay in the workflow tests. */
export interface RelayIo {
  /** A ProofReader whose REQs add what they received and archived into `counts`. */
  reader(counts: WindowResult, k: RelayKnowledge, beat: Beat): Promise<ProofReader>;
  /** A window over NIP-77, or why the relay does not take it (`lasting`: it does not speak it at all). */
  negentropy?(w: WindowQuery, beat: Beat): Promise<WindowResult | { unsupported: string; lasting: boolean }>;
  /** Gaps: recorded (the same second again updates its row), this relay's open ones, and those since proven whole. */
  recordGaps(gaps: Gap[]): Promise<void>;
  openGaps(limit: number): Promise<number[]>;
  fillGaps(seconds: number[]): Promise<void>;
}

/** Windows from the cursor towards `q.target`: at least one, then as many as `spanMs` allows. */
export async function syncSpan(q: SpanQuery, io: RelayIo, spanMs = SPAN_MS): Promise<SpanResult> {
  const p: SpanResult = resumed(q) ?? {
    cursor: q.cursor, windowSec: q.windowSec, windows: 0, splits: 0, negentropyWindows: 0, unserved: 0,
    received: 0, inserted: 0, known: 0, linked: 0, invalid: {}, reqs: 0, pages: 0, denseSeconds: 0, gaps: 0, gapsFilled: 0,
    overlapFound: 0, capLowered: 0, relay: { ...UNKNOWN_RELAY, ...q.relay }, ahead: q.ahead,
  };
  const k = p.relay;
  if (k.negentropy === 'no' && Date.now() - (k.negentropyCheckedAt ?? 0) > NEGENTROPY_RECHECK_MS) k.negentropy = 'unknown';
  // Every heartbeat of the activity carries the progress: the last one is what a retry resumes from.
  const beat = () => heartbeat(p);
  const started = Date.now();
  // The first window of a round is audited: the relay may have changed its cap since the last one.
  let auditPending = q.fresh === true;
  /** Ids of the last window's edge second, to count what the overlap finds. */
  let edgeIds: Set<string> | undefined;
  try {
    if (q.retryGaps) await retryGaps();
    do {
      if (p.cursor >= q.target) break;
      // Overlap the last window by its edge second, unless that second was read as dense.
      const overlap = p.cursor >= 0 && k.denseEdge !== p.cursor;
      const since = overlap ? p.cursor : p.cursor + 1;
      const until = Math.min(p.cursor + p.windowSec, q.target, p.ahead ? p.ahead.from - 1 : Infinity);
      const ask = Math.min(q.limit, k.maxLimit ?? Infinity);
      const w = { url: q.url, since, until, limit: ask };
      p.windows++;

      if (io.negentropy && k.negentropy !== 'no') {
        const r = await io.negentropy(w, beat);
        if ('unsupported' in r) {
          if (r.lasting) {
            k.negentropy = 'no';
            k.negentropyCheckedAt = Date.now();
          }
        } else {
          k.negentropy = 'yes';
          k.negentropyCheckedAt = Date.now();
          p.negentropyWindows++;
          addCounts(p, r);
          if (r.complete) {
            p.cursor = until;
            k.denseEdge = undefined;
            // An empty reconciliation (years before a relay's first event): the next one takes the
            // rest of the range at once, and is halved only if the relay lists too many for it.
            p.windowSec = r.listed === 0 ? Math.max(1, q.target - until) : resize(until - since + 1, r.listed ?? 0, NEGENTROPY_TARGET, q.maxWindowSec);
          } else {
            p.splits++;
            p.windowSec = Math.max(1, Math.floor((until - since + 1) / 2));
          }
          beat();
          continue;
        }
      }

      const counts = emptyWindow('req');
      const reader = await io.reader(counts, k, beat);
      const audit = auditPending || k.sinceAudit >= AUDIT_EVERY;
      const proof = await proveWindow(reader, k, { since, until, ask, maxPages: MAX_PAGES_PER_WINDOW, audit, maxAsk: q.denseLimit });
      addCounts(p, counts);
      p.pages += Math.max(0, proof.reqs - 1);
      p.denseSeconds += proof.denseSeconds;
      if (overlap && edgeIds) for (const id of proof.idsAtSince) if (!edgeIds.has(id)) p.overlapFound++;
      if (proof.gaps.length) await recordGaps(proof.gaps);
      if (proof.capLowered) {
        // It cut an answer below the cap it had shown: what was taken on that cap since the last
        // audit is read again.
        p.capLowered++;
        log.warn('relay caps its answers lower than before: reading again since its last audit', { relay: q.url, cap: k.largestAnswer, from: k.auditCursor });
        p.cursor = Math.min(p.cursor, k.auditCursor);
        p.windowSec = resize(until - since + 1, proof.distinct, ask, q.maxWindowSec);
        k.sinceAudit = 0;
        k.lastAnswer = 0;
        edgeIds = undefined;
        p.ahead = undefined;
        beat();
        continue;
      }
      if (!proof.complete) {
        // Out of REQs before the window's start: what it read above its oldest page is whole; the
        // rest is asked again from the same start, smaller, sized for the density seen.
        // (Seconds an unfinished window read whole, above the oldest second its pages reached, are
        // not read again: the windows below them come first, then the cursor jumps past them.)
        if (proof.reached >= since) p.ahead = { from: proof.reached + 1, to: p.ahead && p.ahead.from === until + 1 ? p.ahead.to : until };
        p.splits++;
        const fits = resize(until - proof.reached + 1, proof.distinct, (ask * MAX_PAGES_PER_WINDOW) / 2, q.maxWindowSec);
        p.windowSec = Math.max(1, Math.min(fits, Math.floor((until - since + 1) / 2)));
        beat();
        continue;
      }
      if (proof.paged || proof.audited) {
        // Shown whole by paging: the windows the learned cap vouches for start after it.
        k.auditCursor = until;
        k.sinceAudit = 0;
        if (proof.firstAnswer > 0) auditPending = false;
      } else if (proof.firstAnswer > 0) {
        k.sinceAudit++;
        k.lastAnswer = proof.firstAnswer;
      }
      k.denseEdge = proof.denseAtUntil ? until : undefined;
      edgeIds = proof.idsAtUntil;
      p.cursor = until;
      if (p.ahead && p.cursor >= p.ahead.from - 1) {
        p.cursor = p.ahead.to;
        p.ahead = undefined;
        edgeIds = undefined;
      }
      p.windowSec = resize(until - since + 1, proof.distinct, ask, q.maxWindowSec);
      beat();
    } while (Date.now() - started < spanMs);
  } catch (err) {
    if (!(err instanceof RelayRefused)) throw err;
    p.refused = err.message;
  }
  return p;

  async function recordGaps(gaps: Gap[]) {
    await io.recordGaps(gaps);
    p.gaps += gaps.length;
    metrics.syncGapsRecorded.inc(gaps.length);
    // Events the archive lacks, and says so: worth an operator's look (a metric counts them too).
    for (const g of gaps) log.warn('events of one second could not all be fetched: recorded as a gap', { relay: q.url, second: g.second, received: g.received, missing: g.missing, reason: g.reason });
  }

  /** The relay's recorded gaps, each read again as a dense second: those now proven whole are filled. */
  async function retryGaps() {
    const seconds = await io.openGaps(GAPS_PER_RETRY);
    const filled: number[] = [];
    const still: Gap[] = [];
    for (const second of seconds) {
      const counts = emptyWindow('req');
      const r = await retrySecond(await io.reader(counts, k, beat), k, second, q.denseLimit);
      addCounts(p, counts);
      if (r.complete) filled.push(second);
      else still.push({ second, received: r.received, reason: r.reason, missing: r.missing });
      beat();
    }
    if (still.length) await io.recordGaps(still); // their rows say when they were last tried, and what came
    if (filled.length) {
      await io.fillGaps(filled);
      p.gapsFilled += filled.length;
      log.info('recorded gaps filled', { relay: q.url, filled: filled.length });
    }
    p.gapsRetried = seconds.length;
  }
}

function addCounts(p: SpanResult, r: WindowResult) {
  addEventCounts(p, r);
  p.reqs += r.reqs;
  p.unserved += r.unserved ?? 0;
}

/**
 * The progress an earlier attempt of this activity recorded in its last heartbeat, if it is one
 * (a cursor between this span's start and target).
 */
function resumed(q: SpanQuery): SpanResult | undefined {
  const d = spanProgress(activityInfo().heartbeatDetails);
  // (A relay caught capping lower moves the cursor back to its last audit, before q.cursor.)
  if (!d || d.cursor < Math.min(q.cursor, q.relay?.auditCursor ?? q.cursor) || d.cursor > q.target) return undefined;
  return d;
}

/**
 * The next window after a complete one of `sec` seconds that held `got` events: sized for about
 * `target` events at the same density (most of the relay's answer: what goes past it is paged,
 * not asked again), at most twice as long, at least one second.
 */
function resize(sec: number, got: number, target: number, maxSec: number): number {
  const factor = got === 0 ? 2 : Math.min(2, (target * 0.8) / got);
  return Math.max(1, Math.min(maxSec, Math.floor(sec * factor)));
}
