import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import type { z } from 'zod';

/** Error type for input that no retry can fix: a bad workflow input, a bad seed file path. */
export const BAD_INPUT = 'BadInput';

/** Parses `raw` with `schema`, or fails the workflow (or activity) without retrying. */
export function parseOrFail<T>(schema: z.ZodType<T>, raw: unknown, what = 'input'): T {
  const r = schema.safeParse(raw ?? {});
  // In a workflow a plain error only fails the task, which Temporal retries forever:
  // a bad input must fail the workflow at once, with the field named.
  if (!r.success) throw ApplicationFailure.nonRetryable(`invalid ${what}: ${describeZodError(r.error)}`, BAD_INPUT);
  return r.data;
}

/** "field: message; field: message", with each field's dotted path. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** The failure type of a sync window whose relay left the relay table while it was read. */
export const RELAY_GONE = 'RelayGone';

/** An expected start-up problem: its message says what is wrong and how to fix it (printed as one line). */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * An activity whose worker died under it (out of memory on what a relay sent, killed) loses its
 * heartbeat, or outlives its start-to-close timeout. Named non-retryable in a retry policy (the
 * server's names: `TemporalTimeout:` and the timeout type as its Go enum spells it), such a timeout
 * comes back to the workflow instead of being retried for ever, so that a relay whose reads keep
 * killing workers is set aside on its ladder.
 */
export const WORKER_DEATHS = ['TemporalTimeout:Heartbeat', 'TemporalTimeout:StartToClose'];

/** The activity failed because its worker died (see WORKER_DEATHS). */
export function isWorkerDeath(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && (err.cause.timeoutType === 'HEARTBEAT' || err.cause.timeoutType === 'START_TO_CLOSE');
}
