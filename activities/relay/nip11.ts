// NIP-11 relay information documents: fetch one over the bounded HTTP GET, and validate it field
// by field. Relays publish anything (strings where numbers belong, numbers as strings, megabytes
// of description), so the validation is lenient: it keeps every field of the right type and shape
// and drops each wrong one with a reason, rather than rejecting the whole document.
//
// Fields: those of the current NIP-11 (name, description, banner, icon, pubkey, self, contact,
// supported_nips, software, version, terms_of_service, limitation, payments_url, fees) and those
// the NIP has since removed but many relays still publish (privacy_policy, retention,
// relay_countries, language_tags, tags, posting_policy, limitation.max_filters).
import type { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { storableText } from '../../common/index.js';
import type { AddressGuard } from './address-guard.js';
import { HttpGetError, httpGet, type HttpResponse } from './http-get.js';

export interface Nip11Options {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** SOCKS5 for overlay networks. */
  agent?: Agent;
  signal?: AbortSignal;
  /** Refuses local, private and metadata addresses, on every redirect hop (address-guard.ts). Absent: no check. */
  guard?: AddressGuard;
}

export interface Nip11Limitation {
  max_message_length?: number;
  max_subscriptions?: number;
  /** Removed from the NIP in 2025, still published. */
  max_filters?: number;
  max_limit?: number;
  max_subid_length?: number;
  max_event_tags?: number;
  max_content_length?: number;
  min_pow_difficulty?: number;
  auth_required?: boolean;
  payment_required?: boolean;
  restricted_writes?: boolean;
  created_at_lower_limit?: number;
  created_at_upper_limit?: number;
  default_limit?: number;
}

/** A kind, or an inclusive range of kinds `[start, end]`. */
export type Nip11KindSpec = number | [number, number];

export interface Nip11RetentionEntry {
  kinds?: Nip11KindSpec[];
  /** Seconds; `null` is infinity, 0 is "not stored". */
  time?: number | null;
  count?: number;
}

export interface Nip11Fee {
  amount: number;
  unit?: string;
  /** Seconds. */
  period?: number;
  kinds?: number[];
}

export interface Nip11Fees {
  admission?: Nip11Fee[];
  subscription?: Nip11Fee[];
  publication?: Nip11Fee[];
}

export interface Nip11Document {
  name?: string;
  description?: string;
  banner?: string;
  icon?: string;
  /** Administrator's pubkey, 64 lower-case hex. */
  pubkey?: string;
  /** The relay's own pubkey, 64 lower-case hex. */
  self?: string;
  contact?: string;
  supported_nips?: number[];
  software?: string;
  version?: string;
  terms_of_service?: string;
  privacy_policy?: string;
  limitation?: Nip11Limitation;
  retention?: Nip11RetentionEntry[];
  relay_countries?: string[];
  language_tags?: string[];
  tags?: string[];
  posting_policy?: string;
  payments_url?: string;
  fees?: Nip11Fees;
}

export interface Nip11Dropped {
  field: string;
  reason: string;
}

export type Nip11FailureCode =
  | 'timeout'
  | 'too-large'
  | 'too-many-redirects'
  | 'network'
  | 'http-status'
  | 'content-type'
  | 'not-json'
  | 'not-an-object'
  | 'bad-url'
  | 'aborted'
  | 'blocked-address';

export type Nip11Result =
  | { ok: true; document: Nip11Document; dropped: Nip11Dropped[]; httpStatus: number; ms: number }
  | { ok: false; code: Nip11FailureCode; reason: string; ms: number };

/** The caps the validation applies (characters for strings, items for arrays). */
export const NIP11_LIMITS = {
  /** description */
  longText: 8192,
  /** name, contact, software, version */
  shortText: 512,
  /** URL fields: a longer URL is dropped, not truncated (a cut URL is a wrong URL) */
  url: 2048,
  /** each element of tags; fee units */
  tag: 128,
  /** every array: supported_nips, tags, language_tags, relay_countries, retention, kinds, fee lists */
  items: 256,
  /** per array, how many bad elements are reported one by one before a summary line */
  reportedPerArray: 5,
  /** entries of `dropped` listed one by one (one more counts the rest) */
  dropped: 100,
} as const;

const ACCEPTED_TYPES = new Set(['application/nostr+json', 'application/json']);

/** GET the relay URL turned into http(s) (ws -> http, wss -> https, same host, port and path) with `Accept: application/nostr+json`. */
export async function fetchNip11(relayUrl: string, options: Nip11Options): Promise<Nip11Result> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const fail = (code: Nip11FailureCode, reason: string): Nip11Result => ({ ok: false, code, reason, ms: ms() });

  const url = nip11HttpUrl(relayUrl);
  if (url === null) return fail('bad-url', `not a ws:// or wss:// URL: ${preview(relayUrl)}`);
  if (options.signal?.aborted) return fail('aborted', 'cancelled');

  let res: HttpResponse;
  try {
    res = await httpGet(url, {
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      maxRedirects: options.maxRedirects,
      headers: { Accept: 'application/nostr+json' },
      agent: options.agent,
      signal: options.signal,
      guard: options.guard,
    });
  } catch (err) {
    // An abort can surface as a reset socket; the signal says what really happened.
    if (options.signal?.aborted) return fail('aborted', 'cancelled');
    if (err instanceof HttpGetError) return fail(err.code, err.message);
    return fail('network', err instanceof Error ? err.message : String(err));
  }

  if (res.status !== 200) return fail('http-status', `HTTP ${res.status} from ${res.url}, expected 200`);
  const mediaType = (res.contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (!ACCEPTED_TYPES.has(mediaType)) {
    const received = res.contentType.trim() === '' ? 'no content type' : `content type ${preview(res.contentType.trim())}`;
    return fail('content-type', `${received}, expected application/nostr+json or application/json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(res.body.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    return fail('not-json', `body is not JSON (${res.body.length} bytes): ${err instanceof Error ? err.message : String(err)}`);
  }
  const validated = validateNip11(raw);
  if ('error' in validated) return fail('not-an-object', validated.error);
  return { ok: true, document: validated.document, dropped: validated.dropped, httpStatus: res.status, ms: ms() };
}

/** The http(s) URL a relay serves its NIP-11 document on, or null if `relayUrl` is not ws(s). */
export function nip11HttpUrl(relayUrl: string): string | null {
  let u: URL;
  try {
    u = new URL(relayUrl);
  } catch {
    return null;
  }
  const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : null;
  if (scheme === null || u.host === '') return null;
  // `host` carries the port unless it is the scheme's default (443 for wss and https, 80 for ws
  // and http), so an explicit port survives and a default one stays the default.
  return `${scheme}//${u.host}${u.pathname}${u.search}`;
}

type Check<T> = { ok: true; value: T; notes?: string[] } | { ok: false; expected: string };

/**
 * Lenient, field-by-field validation: keeps every field of the right type and shape, drops each
 * wrong one with a reason that names the field and what was expected; unknown fields are dropped
 * silently; strings are length-capped; arrays capped in length; numbers must be finite. Never throws.
 */
export function validateNip11(
  raw: unknown,
): { document: Nip11Document; dropped: Nip11Dropped[] } | { error: string } {
  try {
    if (!isPlainObject(raw)) return { error: `expected a JSON object, got ${describe(raw)}` };
    const v = new Validator();
    const doc: Nip11Document = {};

    v.field(raw, 'name', (x) => text(x, NIP11_LIMITS.shortText), (x) => (doc.name = x));
    v.field(raw, 'description', (x) => text(x, NIP11_LIMITS.longText), (x) => (doc.description = x));
    v.field(raw, 'banner', httpUrl, (x) => (doc.banner = x));
    v.field(raw, 'icon', httpUrl, (x) => (doc.icon = x));
    v.field(raw, 'pubkey', hex64, (x) => (doc.pubkey = x));
    v.field(raw, 'self', hex64, (x) => (doc.self = x));
    v.field(raw, 'contact', (x) => text(x, NIP11_LIMITS.shortText), (x) => (doc.contact = x));
    v.array(raw, 'supported_nips', 'an array of integers', nipNumber, (x) => (doc.supported_nips = x));
    v.field(raw, 'software', (x) => text(x, NIP11_LIMITS.shortText), (x) => (doc.software = x));
    v.field(raw, 'version', (x) => text(x, NIP11_LIMITS.shortText), (x) => (doc.version = x));
    v.field(raw, 'terms_of_service', httpUrl, (x) => (doc.terms_of_service = x));
    v.field(raw, 'privacy_policy', httpUrl, (x) => (doc.privacy_policy = x));
    v.field(raw, 'posting_policy', httpUrl, (x) => (doc.posting_policy = x));
    v.field(raw, 'payments_url', httpUrl, (x) => (doc.payments_url = x));
    v.array(raw, 'relay_countries', 'an array of country codes', countryCode, (x) => (doc.relay_countries = x));
    v.array(raw, 'language_tags', 'an array of language tags', languageTag, (x) => (doc.language_tags = x));
    v.array(raw, 'tags', 'an array of strings', (x) => text(x, NIP11_LIMITS.tag, true), (x) => (doc.tags = x));

    v.object(raw, 'limitation', (l, path) => {
      const out: Nip11Limitation = {};
      for (const key of LIMITATION_INTEGERS) v.field(l, key, integer, (x) => (out[key] = x), path);
      for (const key of LIMITATION_BOOLEANS) v.field(l, key, boolean, (x) => (out[key] = x), path);
      return out;
    }, (x) => (doc.limitation = x));

    v.array(raw, 'retention', 'an array of objects', (entry, path) => {
      if (!isPlainObject(entry)) return { ok: false, expected: 'an object' };
      const out: Nip11RetentionEntry = {};
      v.array(entry, 'kinds', 'an array of kinds and [start, end] kind ranges', kindSpec, (x) => (out.kinds = x), path);
      v.field(entry, 'time', nullableCount, (x) => (out.time = x), path);
      v.field(entry, 'count', count, (x) => (out.count = x), path);
      return Object.keys(out).length > 0 || Object.keys(entry).length === 0
        ? { ok: true, value: out }
        : { ok: false, expected: 'an object with kinds, time or count' };
    }, (x) => (doc.retention = x));

    v.object(raw, 'fees', (f, path) => {
      const out: Nip11Fees = {};
      for (const key of FEE_CATEGORIES) {
        v.array(f, key, 'an array of fee objects', (entry, at) => fee(v, entry, at), (x) => (out[key] = x), path);
      }
      return out;
    }, (x) => (doc.fees = x));

    return { document: doc, dropped: v.dropped };
  } catch (err) {
    // Not reachable with what JSON.parse produces; a guard for exotic objects (getters, proxies).
    return { error: `could not read the document: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const LIMITATION_INTEGERS = [
  'max_message_length',
  'max_subscriptions',
  'max_filters',
  'max_limit',
  'max_subid_length',
  'max_event_tags',
  'max_content_length',
  'min_pow_difficulty',
  'created_at_lower_limit',
  'created_at_upper_limit',
  'default_limit',
] as const;
const LIMITATION_BOOLEANS = ['auth_required', 'payment_required', 'restricted_writes'] as const;
const FEE_CATEGORIES = ['admission', 'subscription', 'publication'] as const;

/** Collects what was dropped while walking the document. */
class Validator {
  private readonly list: Nip11Dropped[] = [];
  private unlisted = 0;

  /** What was dropped: at most NIP11_LIMITS.dropped entries, then one that counts the rest. */
  get dropped(): Nip11Dropped[] {
    if (this.unlisted === 0) return this.list;
    return [...this.list, { field: '*', reason: `${this.unlisted} more dropped fields or items not listed` }];
  }

  private drop(field: string, reason: string) {
    if (this.list.length < NIP11_LIMITS.dropped) this.list.push({ field, reason: `${field}: ${reason}` });
    else this.unlisted++;
  }

  /** One scalar field: absent is fine, wrong is dropped, notes (truncation) are reported. */
  field<T>(obj: Record<string, unknown>, key: string, check: (x: unknown) => Check<T>, keep: (x: T) => void, parent?: string) {
    if (!Object.hasOwn(obj, key)) return;
    const path = parent === undefined ? key : `${parent}.${key}`;
    const raw = obj[key];
    const r = check(raw);
    if (!r.ok) return this.drop(path, `expected ${r.expected}, got ${describe(raw)}`);
    keep(r.value);
    for (const note of r.notes ?? []) this.drop(path, note);
  }

  /** A nested object whose own fields are validated one by one; empty results are left out. */
  object<T extends object>(
    obj: Record<string, unknown>,
    key: string,
    inner: (o: Record<string, unknown>, path: string) => T,
    keep: (x: T) => void,
  ) {
    if (!Object.hasOwn(obj, key)) return;
    const raw = obj[key];
    if (!isPlainObject(raw)) return this.drop(key, `expected an object, got ${describe(raw)}`);
    const out = inner(raw, key);
    if (Object.keys(out).length > 0) keep(out);
  }

  /**
   * An array: capped in length, each element checked; bad elements are dropped (the first few
   * named, the rest counted). A non-array, or a non-empty array with no good element, drops the field.
   */
  array<T>(
    obj: Record<string, unknown>,
    key: string,
    expected: string,
    check: (x: unknown, path: string) => Check<T>,
    keep: (x: T[]) => void,
    parent?: string,
  ) {
    if (!Object.hasOwn(obj, key)) return;
    const path = parent === undefined ? key : `${parent}.${key}`;
    const raw = obj[key];
    if (!Array.isArray(raw)) return this.drop(path, `expected ${expected}, got ${describe(raw)}`);
    const out: T[] = [];
    let bad = 0;
    const n = Math.min(raw.length, NIP11_LIMITS.items);
    for (let i = 0; i < n; i++) {
      const at = `${path}[${i}]`;
      const r = check(raw[i], at);
      if (r.ok) {
        out.push(r.value);
        for (const note of r.notes ?? []) this.drop(at, note);
      } else if (++bad <= NIP11_LIMITS.reportedPerArray) {
        this.drop(at, `expected ${r.expected}, got ${describe(raw[i])}`);
      }
    }
    if (bad > NIP11_LIMITS.reportedPerArray) this.drop(path, `${bad - NIP11_LIMITS.reportedPerArray} more invalid items dropped`);
    if (raw.length > n) this.drop(path, `truncated to ${n} items (had ${raw.length})`);
    if (out.length > 0 || raw.length === 0) keep(out);
    else this.drop(path, `no valid item among ${raw.length}`);
  }
}

function fee(v: Validator, entry: unknown, path: string): Check<Nip11Fee> {
  if (!isPlainObject(entry)) return { ok: false, expected: 'an object with an amount' };
  let amount: number | undefined;
  const rest: Omit<Nip11Fee, 'amount'> = {};
  v.field(entry, 'amount', nonNegativeNumber, (x) => (amount = x), path);
  v.field(entry, 'unit', (x) => text(x, NIP11_LIMITS.tag, true), (x) => (rest.unit = x), path);
  v.field(entry, 'period', count, (x) => (rest.period = x), path);
  v.array(entry, 'kinds', 'an array of kinds', kind, (x) => (rest.kinds = x), path);
  if (amount === undefined) return { ok: false, expected: 'an object with an amount' };
  return { ok: true, value: { amount, ...rest } };
}

// --- element checks ---

/**
 * A string, made safe for PostgreSQL jsonb (no NUL, no lone surrogate) and capped at `max`
 * characters (the cut is noted). `nonEmpty` refuses "" (for list elements).
 */
function text(x: unknown, max: number, nonEmpty = false): Check<string> {
  if (typeof x !== 'string') return { ok: false, expected: nonEmpty ? 'a non-empty string' : 'a string' };
  let s = storableText(x);
  if (nonEmpty && s.trim() === '') return { ok: false, expected: 'a non-empty string' };
  if (s.length <= max) return { ok: true, value: s };
  const length = s.length;
  s = s.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1); // do not cut a pair in half
  return { ok: true, value: s, notes: [`truncated to ${max} characters (had ${length})`] };
}

function httpUrl(x: unknown): Check<string> {
  const expected = `an http(s) URL of at most ${NIP11_LIMITS.url} characters`;
  if (typeof x !== 'string' || x.length > NIP11_LIMITS.url) return { ok: false, expected };
  const s = x.trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return { ok: false, expected };
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '' || /[\s\u0000]/.test(s)) return { ok: false, expected };
  return { ok: true, value: storableText(s) };
}

function hex64(x: unknown): Check<string> {
  return typeof x === 'string' && /^[0-9a-f]{64}$/.test(x) ? { ok: true, value: x } : { ok: false, expected: '64 lower-case hex characters' };
}

function integer(x: unknown): Check<number> {
  return Number.isSafeInteger(x) ? { ok: true, value: x as number } : { ok: false, expected: 'an integer' };
}

function count(x: unknown): Check<number> {
  return Number.isSafeInteger(x) && (x as number) >= 0 ? { ok: true, value: x as number } : { ok: false, expected: 'a non-negative integer' };
}

function nullableCount(x: unknown): Check<number | null> {
  return x === null ? { ok: true, value: null } : Number.isSafeInteger(x) && (x as number) >= 0
    ? { ok: true, value: x as number }
    : { ok: false, expected: 'a non-negative integer or null' };
}

function nonNegativeNumber(x: unknown): Check<number> {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? { ok: true, value: x } : { ok: false, expected: 'a finite non-negative number' };
}

function boolean(x: unknown): Check<boolean> {
  return typeof x === 'boolean' ? { ok: true, value: x } : { ok: false, expected: 'true or false' };
}

function nipNumber(x: unknown): Check<number> {
  return Number.isSafeInteger(x) && (x as number) >= 0 ? { ok: true, value: x as number } : { ok: false, expected: 'a non-negative integer' };
}

const isKind = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535;

function kind(x: unknown): Check<number> {
  return isKind(x) ? { ok: true, value: x } : { ok: false, expected: 'a kind (an integer from 0 to 65535)' };
}

function kindSpec(x: unknown): Check<Nip11KindSpec> {
  if (isKind(x)) return { ok: true, value: x };
  if (Array.isArray(x) && x.length === 2 && isKind(x[0]) && isKind(x[1]) && x[0] <= x[1]) return { ok: true, value: [x[0], x[1]] };
  return { ok: false, expected: 'a kind (0 to 65535) or a [start, end] range of kinds' };
}

/** ISO 3166-1 alpha-2 (any case, as published), `EU`, or `*` for global relays. */
function countryCode(x: unknown): Check<string> {
  return typeof x === 'string' && /^([A-Za-z]{2}|\*)$/.test(x) ? { ok: true, value: x } : { ok: false, expected: 'a two-letter country code or "*"' };
}

/** An IETF language tag (BCP 47 shape: subtags of 1 to 8 letters or digits), or `*` for global relays. */
function languageTag(x: unknown): Check<string> {
  return typeof x === 'string' && x.length <= 64 && /^([A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*|\*)$/.test(x)
    ? { ok: true, value: x }
    : { ok: false, expected: 'an IETF language tag or "*"' };
}

// --- helpers ---

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** A short description of a received value, for reasons. */
function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of ${x.length} item${x.length === 1 ? '' : 's'}`;
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return x.length > 60 ? `${JSON.stringify(x.slice(0, 60))}... (${x.length} characters)` : JSON.stringify(x);
  return String(x);
}

function preview(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}...` : s);
}
