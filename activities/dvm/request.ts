// NIP-90 job requests as this DVM reads them, and the events it answers with (NIP-90 result and
// feedback, NIP-89 handler announcement), unsigned. No I/O here: the listener and the job (dvm.ts) call it.
//
// A request names one read-core resource (read/index.ts RESOURCES) in an `i` tag of type text,
// ["i", "relays", "text"], or in ["param", "resource", "relays"]; each other ["param", name, value]
// is a filter of that resource, `limit` and `cursor` included (a name given twice: a list). docs/read-side.md "Asking the DVM (NIP-90)".
import { verifyEvent } from 'nostr-tools/pure';
import type { Event, EventTemplate } from 'nostr-tools';

/** A job request's reading: what to read, and where the requester wants the answer. */
export interface JobRequest {
  resource: string;
  /** Param tags by name (a repeated name: its values in order). `resource` is not among them. */
  params: Record<string, string | string[]>;
  /** The request's `relays` tag (NIP-90: where to publish the answer), as written. */
  relays: string[];
}

export type ParsedRequest = { ok: true; request: JobRequest } | { ok: false; reason: string };

/** What the listener does with an event of the job kind. */
export type Verdict =
  | { answer: true }
  | { answer: false; why: 'invalid' | 'ignored'; reason: string };

/** Bytes of a NIP-01 event on the wire we keep under: 64 KiB is a common relay cap (strfry's default), with room to spare. */
export const MAX_EVENT_BYTES = 60_000;
/** A requester reads at most this much of an error message. */
const MAX_MESSAGE = 500;
/** Relays of a request's `relays` tag the answer also goes to, at most. */
export const MAX_REQUEST_RELAYS = 5;

const tagValues = (ev: Event, name: string) => ev.tags.filter((t) => Array.isArray(t) && t[0] === name);

/** The request's resource and params, or what is wrong with them (said to the requester in a kind 7000 error). */
export function parseRequest(ev: Event): ParsedRequest {
  const named: string[] = [];
  for (const t of tagValues(ev, 'i')) {
    const [, data, type] = t;
    if (typeof data !== 'string' || data === '') return { ok: false, reason: 'an "i" tag has no data: write ["i", "<resource>", "text"]' };
    if (type !== undefined && type !== '' && type !== 'text') return { ok: false, reason: `the "i" tag's input type must be "text" (the resource's name), not "${String(type).slice(0, 40)}"` };
    named.push(data);
  }
  const params: Record<string, string | string[]> = {};
  for (const t of tagValues(ev, 'param')) {
    const [, name, value] = t;
    if (typeof name !== 'string' || name === '' || typeof value !== 'string') return { ok: false, reason: 'a "param" tag needs a name and a value: ["param", "<name>", "<value>"]' };
    if (name === 'resource') {
      named.push(value);
      continue;
    }
    const had = params[name];
    params[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  const resources = [...new Set(named)];
  if (resources.length === 0) return { ok: false, reason: 'no resource: name one in an ["i", "<resource>", "text"] tag' };
  if (resources.length > 1) return { ok: false, reason: `one resource per request, this one names ${resources.length}: ${resources.map((r) => JSON.stringify(r.slice(0, 40))).join(', ')}` };
  const relays = tagValues(ev, 'relays').flatMap((t) => t.slice(1)).filter((r): r is string => typeof r === 'string');
  return { ok: true, request: { resource: resources[0]!, params, relays } };
}

/**
 * Whether this DVM answers an event its listener received. It answers a valid request addressed
 * to it (a `p` tag with its pubkey), errors included; a request addressed to no one only when it
 * names one of its resources (then bad params get their error): the job kind is shared (5050 is text generation by default on
 * public relays), and an error to every prompt meant for another DVM would be spam.
 */
export function judge(ev: Event, o: { kind: number; pubkey: string; resources: readonly string[]; verify: (ev: Event) => boolean }): Verdict {
  if (ev.kind !== o.kind) return { answer: false, why: 'invalid', reason: `kind ${ev.kind}, not ${o.kind}` };
  if (!o.verify(ev)) return { answer: false, why: 'invalid', reason: 'bad id or signature' };
  const providers = tagValues(ev, 'p').map((t) => t[1]);
  if (providers.length > 0 && !providers.includes(o.pubkey)) return { answer: false, why: 'ignored', reason: 'addressed to another DVM' };
  if (providers.length > 0) return { answer: true };
  if (tagValues(ev, 'encrypted').length > 0) return { answer: false, why: 'ignored', reason: 'encrypted for another DVM' };
  const parsed = parseRequest(ev);
  if (!parsed.ok || !o.resources.includes(parsed.request.resource)) return { answer: false, why: 'ignored', reason: 'names no resource of ours' };
  return { answer: true };
}

/** NIP-90 `encrypted`: the params are NIP-04 encrypted for the provider; not read here. */
export const isEncrypted = (ev: Event) => tagValues(ev, 'encrypted').length > 0;

/** The tags that tie an answer to its request (NIP-90): `e` with the relay hint, `p` the requester. */
function answerTags(request: Event, hint: string): string[][] {
  return [['e', request.id, hint], ['p', request.pubkey]];
}

/** A kind 7000 feedback with status error; the message names the problem. */
export function errorFeedback(request: Event, hint: string, message: string, createdAt: number): EventTemplate {
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
  return { kind: 7000, created_at: createdAt, content: '', tags: [['status', 'error', text], ...answerTags(request, hint)] };
}

/**
 * The kind (request kind + 1000) result: content is the page's JSON, tags NIP-90's `request` (the
 * request, stringified), `e`, `p` and the request's `i` tags.
 */
export function resultEvent(request: Event, hint: string, content: string, createdAt: number): EventTemplate {
  const inputs = tagValues(request, 'i');
  return {
    kind: request.kind + 1000,
    created_at: createdAt,
    content,
    tags: [['request', JSON.stringify(request)], ...answerTags(request, hint), ...inputs],
  };
}

/** Bytes the signed event will take on the wire (id, pubkey and sig added to the template). */
export function eventBytes(t: EventTemplate): number {
  return Buffer.byteLength(JSON.stringify({ id: '0'.repeat(64), pubkey: '0'.repeat(64), sig: '0'.repeat(128), ...t }), 'utf8');
}

/**
 * How many of a page's items fit in a result event with the rest of it (its tags, the cursor);
 * the page as is when all do. The content is JSON inside a JSON string, so each item is measured
 * escaped, as the relay will receive it.
 */
export function itemsThatFit(request: Event, hint: string, items: unknown[], createdAt: number): number {
  // The cut page has a next cursor (the read core's are at most 1,024 characters).
  const empty = eventBytes(resultEvent(request, hint, JSON.stringify({ items: [], next: 'x'.repeat(1024) }), createdAt));
  let bytes = empty;
  for (let i = 0; i < items.length; i++) {
    // JSON.stringify of the item's JSON: its size escaped, plus two quotes that are not sent (the comma's place).
    bytes += Buffer.byteLength(JSON.stringify(JSON.stringify(items[i])), 'utf8') - 1;
    if (bytes > MAX_EVENT_BYTES) return i;
  }
  return items.length;
}

/** The DVM's NIP-89 handler announcement (kind 31990): `k` its job kind, `d` fixed so a new one replaces the last. */
export function handlerAnnouncement(o: { kind: number; name: string; about: string; resources: readonly string[] }, createdAt: number): EventTemplate {
  return {
    kind: 31990,
    created_at: createdAt,
    content: JSON.stringify({
      name: o.name,
      about: o.about,
      // What clients that build request forms read (the DVM registry's convention).
      nip90Params: { resource: { required: true, values: [...o.resources] }, limit: { required: false }, cursor: { required: false } },
    }),
    tags: [['d', `bigbrotr-dvm-${o.kind}`], ['k', String(o.kind)]],
  };
}

/** verifyEvent that is false, not a throw, for something that is not an event at all. */
export function safeVerify(ev: unknown): ev is Event {
  try {
    return verifyEvent(ev as Event);
  } catch {
    return false;
  }
}
