// The parameters resources share. Values may arrive as strings (a query string, a NIP-90 `param`
// tag), so numbers are read from decimal strings too; nothing else is coerced (`true`, `[]` or
// "" are not numbers). Every message says what is allowed, never what was sent.
import { z } from 'zod';
import { NETWORKS, parseRelayUrl } from '../common/relay-url.js';

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;
const HEX64 = /^[0-9a-f]{64}$/;
const DECIMAL = /^-?\d{1,16}$/;

const fromDecimal = (v: unknown) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v);

/** An integer in [min, max], given as a number or a decimal string. */
export function int(min: number, max: number, description: string, why = '') {
  const message = `expected an integer from ${min} to ${max}${why}`;
  return z
    .preprocess(fromDecimal, z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }))
    .meta({ description });
}

/** Text without NUL (PostgreSQL's text cannot hold it) and of bounded length. */
export function text(max: number, description: string) {
  return z
    .string({ error: `expected text of at most ${max} characters` })
    .max(max, { error: `expected text of at most ${max} characters` })
    .refine((s) => !s.includes('\u0000'), { error: 'must not contain NUL characters' })
    .meta({ description });
}

export const hex64 = (description: string) =>
  z
    .string({ error: 'expected 64 lower-case hex characters' })
    .regex(HEX64, { error: 'expected 64 lower-case hex characters' })
    .meta({ description });

/** A relay URL, normalised as the archive stores it (common/relay-url.ts). */
export const relayUrl = z
  .string({ error: 'expected a relay URL (ws:// or wss://)' })
  .transform((raw, ctx) => {
    // A local relay's URL is a legitimate key (a test deployment allows them); looking it up reaches nothing.
    const r = parseRelayUrl(raw, { allowLocal: true });
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: `not a relay URL: ${r.reason}` });
      return z.NEVER;
    }
    return r.url;
  })
  .meta({ description: 'a relay URL, ws:// or wss://', examples: ['wss://relay.damus.io'] });

export const limit = int(1, MAX_LIMIT, `page size (default ${DEFAULT_LIMIT})`, ' (pages are bounded: follow `next` for more)')
  .optional()
  .default(DEFAULT_LIMIT);

export const cursor = z
  .string({ error: 'expected the `next` of a previous page' })
  .meta({ description: 'the `next` of the previous page' })
  .optional();

export const kind = int(0, 65535, 'event kind');
/** Unix seconds. */
export const unixTime = (description: string) => int(0, Number.MAX_SAFE_INTEGER, description);
export const network = z.enum(NETWORKS, { error: `expected one of ${NETWORKS.join(', ')}` }).meta({ description: 'relay network' });

/** A UTC day, YYYY-MM-DD. */
export const day = (description: string) =>
  z
    .string({ error: 'expected a date YYYY-MM-DD' })
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date YYYY-MM-DD' })
    .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), {
      error: 'expected a real date YYYY-MM-DD',
    })
    .meta({ description });

/** A list given as an array or as one comma-separated string. */
export function list<T extends z.ZodType>(item: T, max: number, description: string) {
  return z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',') : v),
      z.array(item, { error: 'expected a list (comma-separated)' }).min(1, { error: 'expected at least one value' }).max(max, { error: `expected at most ${max} values` }),
    )
    .meta({ description });
}

export const hexBytes = (hex: string): Buffer => Buffer.from(hex, 'hex');
