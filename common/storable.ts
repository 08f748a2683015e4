// What a relay says in its own words (NIP-11 fields, NOTICE and CLOSED texts, error messages)
// made storable in PostgreSQL, whose text and jsonb refuse U+0000 and whose UTF-8 cannot hold a
// lone surrogate: both become U+FFFD. For a relay's words, not for signed events (their bytes
// are kept exactly: activities/db/store.ts).

// U+0000, a high surrogate not followed by a low one, a low one not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when PostgreSQL's text or jsonb could not hold `s` as it is. */
export function hasUnstorable(s: string): boolean {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s);
}

/** `s` with NUL and lone surrogates replaced by U+FFFD. */
export function storableText(s: string): string {
  return hasUnstorable(s) ? s.replace(UNSTORABLE, '\uFFFD') : s;
}

/** A JSON value with every string (keys too) made storable; the same value when nothing needs it. */
export function storableJson<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) return value.map((v) => storableJson(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[storableText(k)] = storableJson(v);
    return out as T;
  }
  return value;
}
