import { ApplicationFailure } from '@temporalio/common';
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
