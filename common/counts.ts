// Summing the counts that activities return into the totals that hold them (a window's into an
// activity's, an activity's into a workflow's status), one way everywhere.

/** One more (or `n` more) under `reason` in a count by reason (refused events, rejected URLs, outcomes). */
export function countReason(into: Record<string, number>, reason: string, n = 1): void {
  into[reason] = (into[reason] ?? 0) + n;
}

/** Counts by reason: `from`'s added into `into`. */
export function addReasons(into: Record<string, number>, from: Record<string, number>): void {
  for (const [reason, n] of Object.entries(from)) countReason(into, reason, n);
}

/** What archiving some events did. */
export interface EventCounts {
  /** Events the relay sent. */
  received: number;
  /** Newly archived events. */
  inserted: number;
  /** Valid events the archive had already (only linked to this relay). */
  known: number;
  /** New event↔relay links. */
  linked: number;
  /** Refused events by reason (never stored). */
  invalid: Record<string, number>;
}

export function addEventCounts(into: EventCounts, from: EventCounts): void {
  into.received += from.received;
  into.inserted += from.inserted;
  into.known += from.known;
  into.linked += from.linked;
  addReasons(into.invalid, from.invalid);
}
