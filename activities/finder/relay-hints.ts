// Where relay URLs hide in Nostr events, and in the JSON of relay-list APIs. Pure functions: the
// activities feed them rows and documents, and store what they find.
//
// From events (NIP-01, NIP-02, NIP-51, NIP-65, NIP-66 and the original BigBrotr, which looks at
// every tag): every `ws://` or `wss://` string at any position of any tag — so `r` tags of kind
// 10002, `relay` tags of kind 30002 relay sets, the `d` tag of kind 30166 relay discovery events,
// and relay hints in `e`, `p`, `a`, `q` tags wherever they stand; the keys of kind 3's content
// (the old JSON relay map); the content of kind 2 (recommend relay).
import { countReason, parseRelayUrl, type Network, type RelayUrlOptions } from '../../common/index.js';

/** Tags whose first value is meant to be a relay URL: if it is not one, it is counted as invalid. */
const RELAY_TAGS = new Set(['r', 'relay', 'relays']);
const LOOKS_LIKE_RELAY = /^\s*wss?:\/\//i;

export interface EventLike {
  kind: number;
  tags: unknown;
  content: string | null;
}

export interface Found {
  url: string;
  network: Network;
  source: string;
}

/** What one batch of input yielded: each valid URL once, and the invalid ones counted by reason. */
export class Harvest {
  readonly found = new Map<string, Found>();
  readonly invalid: Record<string, number> = {};
  /** Valid URLs seen, repeats included. */
  seen = 0;

  constructor(private readonly options: RelayUrlOptions) {}

  offer(raw: unknown, source: string): void {
    const r = parseRelayUrl(raw, this.options);
    if (!r.ok) {
      countReason(this.invalid, r.code);
      return;
    }
    this.seen++;
    if (!this.found.has(r.url)) this.found.set(r.url, { url: r.url, network: r.network, source });
  }

  get urls(): Found[] {
    return [...this.found.values()];
  }
}

export function harvestEvent(ev: EventLike, into: Harvest): void {
  const source = `event:${ev.kind}`;
  if (Array.isArray(ev.tags)) {
    for (const tag of ev.tags) {
      // A malformed tag (not an array, or with non-string values) is skipped, never a crash.
      if (!Array.isArray(tag) || typeof tag[0] !== 'string') continue;
      const designated = RELAY_TAGS.has(tag[0]);
      for (let i = 1; i < tag.length; i++) {
        const v: unknown = tag[i];
        if (typeof v !== 'string' || v === '') continue;
        // ["r", url, "write"]: a designated tag's first value is a URL whatever it looks like.
        if ((designated && i === 1) || LOOKS_LIKE_RELAY.test(v)) into.offer(v, source);
      }
    }
  }
  if (ev.kind === 3 && ev.content) {
    const map = parseJson(ev.content);
    if (map && typeof map === 'object' && !Array.isArray(map)) for (const key of Object.keys(map)) into.offer(key, source);
    else if (ev.content.trim() !== '') countReason(into.invalid, 'bad-content');
  }
  if (ev.kind === 2 && ev.content) into.offer(ev.content, source);
}

/**
 * Relay URLs in a relay-list API's JSON: every string that is a `ws://`/`wss://` URL, at any depth,
 * as array items, object values or object keys. That covers the shapes real services return
 * (`["wss://…"]`, `{"relays": […]}`, `[{"url": "wss://…", …}]`, `{"wss://…": {…}}`) without a
 * parser per service.
 */
export function harvestJson(doc: unknown, source: string, into: Harvest, budget = { nodes: 1_000_000 }): void {
  if (--budget.nodes < 0) return;
  if (typeof doc === 'string') {
    if (LOOKS_LIKE_RELAY.test(doc)) into.offer(doc, source);
  } else if (Array.isArray(doc)) {
    for (const item of doc) harvestJson(item, source, into, budget);
  } else if (doc && typeof doc === 'object') {
    for (const [key, value] of Object.entries(doc)) {
      if (LOOKS_LIKE_RELAY.test(key)) into.offer(key, source);
      harvestJson(value, source, into, budget);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
