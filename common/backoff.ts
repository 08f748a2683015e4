// The ladder a failing relay walks down (the Monitor's relays, the Validator's candidates): after
// `after` failures in a row, each further failure moves it one step down, to a longer wait before
// the next try; one success brings it back to the normal interval at once. Pure, so a workflow
// (the Monitor keeps the position in its state and waits on durable timers) and a SQL query (the
// Validator's due candidates) compute it the same way.

export interface Backoff {
  /** Failures in a row that still wait only the normal interval. */
  after: number;
  /** The waits of the steps below the normal interval, in order; the last one is kept for ever. */
  ladderMs: number[];
}

/** The step for `failures` failures in a row: 0 is the normal interval, 1 the ladder's first wait, ... */
export function ladderStep(failures: number, b: Backoff): number {
  return failures < b.after ? 0 : Math.min(failures - b.after + 1, b.ladderMs.length);
}

/** The wait before the next try after `failures` failures in a row (never shorter than the interval). */
export function ladderWaitMs(failures: number, intervalMs: number, b: Backoff): number {
  const step = ladderStep(failures, b);
  return step === 0 ? intervalMs : Math.max(intervalMs, b.ladderMs[step - 1]!);
}
