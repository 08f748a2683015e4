// The Synchronizer's unit of work: one activity reads a relay window after window, from the
// workflow's cursor towards its target, for about SPAN_MS, and returns the cursor it reached.
//
// A window [cursor+1, cursor+size] is asked with `limit`; if it comes back full it may be
// incomplete, so it is asked again in half, down to one second; a complete window advances the
// cursor and sizes the next one from its density (nextWindow). A one-second window still full is
// counted in fullSeconds: NIP-01 cannot page within a second (a NIP-77 relay's window is never full).
//
// Why several windows per activity: each activity costs the Temporal server ~15 ms of CPU plus
// the worker's scheduling and a handful of history events. With one activity per window that was
// 6-7 µs per event in bench:sync (~2,400 events a window), and a relay capping its REQs near 500
// events (common) would make ~250-event windows and several times that. The cursor still lives
// in workflow history: the activity returns it, and the workflow passes it on. Within an
// activity the progress rides on its heartbeats, so a retried attempt (a worker killed, a relay
// that dropped the connection) resumes after the last complete window, not at the span's start.
import { activityInfo, heartbeat } from '@temporalio/activity';
import { addEventCounts, type SpanQuery, type SpanResult, type WindowResult } from '../common/index.js';
import type { WindowQuery } from './sync-window.js';

/**
 * How long one activity keeps reading windows before it returns the cursor. Long enough that
 * Temporal's per-activity cost is small beside the events; short enough that the workflow's
 * status (and a cancel's reach, which heartbeats carry anyway) is never far behind.
 */
export const SPAN_MS = 30_000;

/** Reads one window into the archive; calls `beat` while it works (the span's heartbeat). */
export type ReadWindow = (w: WindowQuery, beat: () => void) => Promise<WindowResult>;

/** Windows from `q.cursor + 1` towards `q.target`: at least one, then as many as `spanMs` allows. */
export async function syncSpan(q: SpanQuery, read: ReadWindow, spanMs = SPAN_MS): Promise<SpanResult> {
  const p: SpanResult = resumed(q) ?? {
    cursor: q.cursor, windowSec: q.windowSec, windows: 0, splits: 0, negentropyWindows: 0, fullSeconds: 0,
    received: 0, inserted: 0, known: 0, linked: 0, invalid: {}, unserved: 0,
  };
  // Every heartbeat of the activity carries the progress: the last one is what a retry resumes from.
  const beat = () => heartbeat(p);
  const started = Date.now();
  do {
    if (p.cursor >= q.target) break;
    const since = p.cursor + 1;
    const until = Math.min(p.cursor + p.windowSec, q.target);
    const r = await read({ url: q.url, since, until, limit: q.limit }, beat);
    p.windows++;
    if (r.method === 'negentropy') p.negentropyWindows++;
    addEventCounts(p, r);
    p.unserved += r.unserved ?? 0;
    if (r.full && until > since) {
      // Possibly incomplete: ask again for the first half (its events are archived already, so
      // the repeat costs links only).
      p.windowSec = Math.max(1, Math.floor((until - since + 1) / 2));
      p.splits++;
    } else {
      if (r.full) p.fullSeconds++; // one second holding more than `limit` events: see README
      p.cursor = until;
      p.windowSec = nextWindow(until - since + 1, r.method === 'negentropy' ? 0 : r.received, q.limit, q.maxWindowSec);
    }
    beat();
  } while (Date.now() - started < spanMs);
  return p;
}

/**
 * The progress an earlier attempt of this activity recorded in its last heartbeat, if it is one
 * (a cursor between this span's start and target).
 */
function resumed(q: SpanQuery): SpanResult | undefined {
  const d = activityInfo().heartbeatDetails as Partial<SpanResult> | undefined;
  if (typeof d?.cursor !== 'number' || typeof d.windowSec !== 'number' || typeof d.windows !== 'number' || typeof d.invalid !== 'object') return undefined;
  if (d.cursor < q.cursor || d.cursor > q.target || d.windowSec < 1) return undefined;
  return d as SpanResult;
}

/**
 * The next window after a complete one of `sec` seconds that held `served` events: sized for about
 * half of `limit` at the same density (doubling every time had every other window come back full,
 * asked twice), at most twice as long, at least one second. A negentropy window is never full, so
 * it just doubles.
 */
function nextWindow(sec: number, served: number, limit: number, maxSec: number): number {
  const factor = served === 0 ? 2 : Math.min(2, limit / 2 / served);
  return Math.max(1, Math.min(maxSec, Math.floor(sec * factor)));
}
