// The Synchronizer's two ways to read a window [since, until] of one relay into the archive.
// REQ (NIP-01): a ProofReader over the connection (each REQ read to EOSE, its events archived in
// chunks as they come), which sync-proof.ts pages until the window is shown complete. A relay
// that asks for NIP-42 authentication is answered with the configured key, and a relay that
// refuses to be read anyway is a RelayRefused, an answer the span returns, not an error.
// Negentropy (NIP-77) reconciles the window's ids with the relay's, then fetches them by id:
// complete however many events the window holds. Every event fetched goes through archiveEvents,
// which links what the archive has (its id checked) and verifies the rest: a relay is linked to
// an event it sent, never to one it only listed.
import { addEventCounts, countReason, storableText, type EventCounts, type WindowResult } from '../../common/index.js';
import { archiveEvents } from './archive.js';
import { countSyncEvents, metrics, networkOfUrl } from '../shared/metrics.js';
import type { Db } from '../db/db.js';
import { byteaHex } from '../db/store.js';
import { reconcile, type IdRecord, type Reconciliation } from '../relay/negentropy.js';
import { authenticate, messageBytes, RelayError, type RelayConnection } from '../relay/relay-socket.js';
import { RelayRefused, type Answer, type Got, type ProofReader, type ReqFilter } from './sync-proof.js';

export interface WindowQuery {
  url: string;
  since: number;
  until: number;
  /** Events per REQ: the window's limit, and the size of each fetch by id. */
  limit: number;
}

/**
 * Ids a window over NIP-77 may list and fetch in one activity: a window listing more is stopped
 * there and asked again in half. Large, so that a window is listed once (a listing costs 32 bytes
 * an id, and a halved window is listed again); the next window is sized for NEGENTROPY_TARGET ids.
 */
const MAX_NEED = 100_000;
/** Ids the next NIP-77 window is sized for, at the density of the last one. */
export const NEGENTROPY_TARGET = 20_000;
/**
 * Events are archived in chunks of this many as a subscription is read: each chunk's events are
 * garbage soon after they arrive, where a whole window held until EOSE (5,000 events in the
 * benchmark) outlived the young generation and grew the heap.
 */
const ARCHIVE_CHUNK = 1000;
/** ... or of this many bytes (the frames'), whichever comes first: big events make small chunks. */
const ARCHIVE_CHUNK_BYTES = 1024 * 1024;
/** Stores a chunk of what a relay sent (archiveEvents, with the counts summed into the window's result). */
type Archive = (events: unknown[]) => Promise<void>;
/** Heartbeats while reading a subscription; the activity's heartbeat timeout is a minute. */
const HEARTBEAT_EVERY_MS = 1000;
/** The activity's heartbeat (it carries the span's progress, see sync-span.ts). */
type Beat = () => void;

/** The relay did not take our NEG-OPEN: read the window with REQ instead. */
export type Fallback = Extract<Reconciliation, { supported: false }>;


/** The relay ended a subscription with CLOSED: its reason (NIP-01 prefixes: `auth-required:`, `restricted:`, `error:` ...). */
class SubscriptionClosed extends RelayError {
  readonly reason: string;
  constructor(url: string, reason: string) {
    const storable = storableText(reason); // it travels on to the status, the history and sync_refusal
    super('closed', `${url} closed the subscription: ${storable.slice(0, 200)}`);
    this.reason = storable;
  }
}

export interface ReaderOptions {
  db: Db;
  url: string;
  timeoutMs: number;
  beat: Beat;
  /** What the REQs received and archived, summed. */
  counts: WindowResult;
  /** NIP-42 key; undefined: a relay that asks for authentication is refused to us. */
  authKey?: Uint8Array;
  /** Called once the relay accepted our AUTH. */
  onAuthenticated?: () => void;
  negentropySecond?: (second: number) => Promise<boolean>;
}

/** A ProofReader (sync-proof.ts) over an open connection: each REQ read to EOSE, its events archived as they come. */
export function connectionReader(conn: RelayConnection, o: ReaderOptions): ProofReader {
  let authTried = false;
  const seenAt = Math.floor(Date.now() / 1000);
  const once = async (filter: ReqFilter): Promise<Answer> => {
    const events: Got[] = [];
    const n = await readSubscription(conn, `sync-${filter.since}-${++subscriptions}`, filter, filter.limit, o.timeoutMs, o.beat, async (chunk) => {
      for (const e of chunk) {
        const got = summary(e);
        if (got) events.push(got);
      }
      addEventCounts(o.counts, await archiveEvents(o.db, o.url, chunk, seenAt, filter.until));
    });
    o.counts.reqs++;
    metrics.syncReqs.inc({ network: networkOfUrl(o.url) });
    return { n, events };
  };
  return {
    async req(filter) {
      try {
        return await once(filter);
      } catch (err) {
        if (!(err instanceof SubscriptionClosed)) throw err;
        // Only a refusal to read is an answer; any other CLOSED (`error:`, `rate-limited:` ...) is
        // a fault of the moment, for Temporal to retry with backoff.
        const refusal = err.reason.startsWith('auth-required:') || err.reason.startsWith('restricted:');
        if (!refusal) throw err;
        const wantsAuth = err.reason.startsWith('auth-required:') || conn.challenge !== undefined;
        if (!wantsAuth || authTried) throw new RelayRefused(err.reason.slice(0, 300));
        if (!o.authKey) throw new RelayRefused(`${err.reason.slice(0, 200)} (no key to authenticate with: synchronizer.private_key or monitor.private_key)`);
        authTried = true;
        const auth = await authenticate(conn, o.authKey, { timeoutMs: o.timeoutMs });
        if (!auth.ok) throw new RelayRefused(`NIP-42 authentication failed: ${auth.reason}`);
        o.onAuthenticated?.();
        try {
          return await once(filter);
        } catch (again) {
          if (again instanceof SubscriptionClosed) throw new RelayRefused(`after NIP-42 authentication: ${again.reason.slice(0, 300)}`);
          throw again;
        }
      }
    },
    negentropySecond: o.negentropySecond,
    async archived(second) {
      const { rows } = await o.db.query<{ id: string; pubkey: string }>({
        name: 'sync-archived-second', // prepared, as the archive's statements are (archive.ts)
        text: `SELECT encode(e.id, 'hex') AS id, encode(e.pubkey, 'hex') AS pubkey FROM event e
               WHERE e.created_at = $1::bigint AND EXISTS (SELECT 1 FROM event_relay r WHERE r.event_id = e.id AND r.relay_url <> $2::text)
               LIMIT ${MAX_KNOWN_PER_SECOND}`,
        values: [second, o.url],
      });
      return rows;
    },
    async count(filter) {
      // NIP-45: ["COUNT", sub, filter] -> ["COUNT", sub, {count}]; a CLOSED, a NOTICE (a relay that
      // does not know the message), an approximate count or no answer in time: no count.
      const sub = `count-${filter.since}-${++subscriptions}`;
      const ours = (m: unknown[]) => ((m[0] === 'COUNT' || m[0] === 'CLOSED') && m[1] === sub) || m[0] === 'NOTICE' ? m : undefined;
      conn.send(['COUNT', sub, filter]);
      let msg: unknown[];
      try {
        msg = await conn.next(ours, o.timeoutMs);
      } catch (err) {
        if (err instanceof RelayError && err.code === 'timeout') return undefined;
        throw err;
      }
      if (msg[0] !== 'COUNT') return undefined;
      const body = msg[2] as { count?: unknown; approximate?: unknown };
      return Number.isSafeInteger(body.count) && (body.count as number) >= 0 && body.approximate !== true ? (body.count as number) : undefined;
    },
  };
}

/** What the archive's knowledge of one dense second may bring: ids asked by id, authors asked by author. */
const MAX_KNOWN_PER_SECOND = 20_000;

/** Subscriptions opened by this process: each id unique on its connection, whatever windows came before. */
let subscriptions = 0;

/** A window's counts before anything is read. */
export function emptyWindow(method: 'req' | 'negentropy'): WindowResult {
  return { received: 0, inserted: 0, known: 0, linked: 0, invalid: {}, complete: false, method, reqs: 0 };
}

/** What the proof needs of an event the relay sent, when it has the shape of one (archiveEvents judges the rest). */
function summary(e: unknown): Got | undefined {
  const x = e as { id?: unknown; created_at?: unknown; kind?: unknown; pubkey?: unknown };
  if (typeof x?.id !== 'string' || typeof x.pubkey !== 'string' || !Number.isSafeInteger(x.created_at) || !Number.isSafeInteger(x.kind)) return undefined;
  return { id: x.id, createdAt: x.created_at as number, kind: x.kind as number, pubkey: x.pubkey };
}

/** NIP-77: reconcile, link what the archive has, fetch the rest by id; a Fallback when the relay does not take it. */
export async function negentropyWindow(conn: RelayConnection, db: Db, q: WindowQuery, timeoutMs: number, beat: Beat): Promise<WindowResult | Fallback> {
  const result = emptyWindow('negentropy');
  result.unserved = 0;
  // Our side is empty: the relay lists every id of the window (32 bytes each) and one indexed
  // lookup per batch sorts them into linked already / archived from another relay / to fetch.
  // Listing the archive's links in the window instead would scan every archived event of that
  // time from all relays (event_relay has no created_at), once per relay and window; and windows
  // past the cursor hold next to no links of this relay anyway.
  const ours: IdRecord[] = [];

  const maxNeed = MAX_NEED;
  const rec = await reconcile(conn, {
    subId: `neg-${q.since}-${q.until}`,
    filter: { since: q.since, until: q.until },
    ours,
    timeoutMs,
    maxNeed,
    onRound: beat,
  });
  if (!rec.supported) return rec;
  const need = rec.need.slice(0, maxNeed);
  result.complete = !rec.stoppedEarly && rec.need.length <= maxNeed;
  result.listed = rec.need.length;

  const seenAt = Math.floor(Date.now() / 1000);
  const fetcher = new IdFetcher(conn, `ids-${q.since}-${q.until}`, q.limit, timeoutMs, beat, async (events) => addEventCounts(result, await archiveEvents(db, q.url, events, seenAt, q.until)));
  // Batch by batch: the ids this relay sent before (linked to it) are left; those the archive
  // has at another time are set apart (an id fixes its event's created_at: a relay listing, for
  // this window, an event of another time has it wrong or made it up); the rest is fetched and
  // archived, so memory holds one batch of events. A listed id is never linked on the relay's
  // word: only an event it sent is (archiveEvents links what the archive has after checking the
  // id, and verifies the rest).
  for (let i = 0; i < need.length; i += q.limit) {
    const batch = need.slice(i, i + q.limit);
    const { here, outside } = await sortListed(db, q.url, batch, q.since, q.until);
    const byId: EventCounts = { received: 0, inserted: 0, known: here.length, linked: 0, invalid: {} };
    if (outside.length) countReason(byId.invalid, 'outside-window', outside.length);
    const skip = new Set([...here, ...outside]);
    const fetched = await fetcher.fetch(skip.size ? batch.filter((id) => !skip.has(id)) : batch);
    result.unserved! += fetched.unserved;
    if (fetched.unasked) countReason(byId.invalid, 'not-asked', fetched.unasked);
    addEventCounts(result, byId);
    countSyncEvents(q.url, byId);
    beat();
  }
  return result;
}

/**
 * Fetches events by id, `limit` ids per REQ. A relay caps what it sends per REQ (its max_limit,
 * often below ours): ids it did not send are asked again, and the cap it showed becomes the size
 * of the next REQs. A REQ answered with none of its ids ends them: the relay does not serve them
 * (deleted since the reconciliation, or listed by mistake).
 */
class IdFetcher {
  private size: number;
  private reqs = 0;

  constructor(
    private readonly conn: RelayConnection,
    /** Prefix of the REQs' subscription ids: unique per window on a connection that serves several. */
    private readonly subPrefix: string,
    limit: number,
    private readonly timeoutMs: number,
    private readonly beat: Beat,
    private readonly archive: Archive,
  ) {
    this.size = limit;
  }

  /** Fetches and archives the events of `ids`; counts the ids the relay did not serve and the events it sent unasked. */
  async fetch(ids: string[]): Promise<{ unserved: number; unasked: number }> {
    let unserved = 0;
    let unasked = 0;
    let pending = ids;
    while (pending.length > 0) {
      const ask = pending.slice(0, this.size);
      const asked = new Set(ask);
      const served = new Set<string>();
      metrics.syncReqs.inc({ network: networkOfUrl(this.conn.url) });
      await readSubscription(this.conn, `${this.subPrefix}-${this.reqs++}`, { ids: ask, limit: ask.length }, ask.length, this.timeoutMs, this.beat, async (got) => {
        const events: unknown[] = [];
        for (const e of got) {
          const id = (e as { id?: unknown }).id;
          if (typeof id !== 'string' || !asked.has(id)) unasked++; // not what we asked for: not archived under this window
          else if (!served.has(id)) {
            served.add(id);
            events.push(e);
          }
        }
        if (events.length) await this.archive(events);
      });
      const rest = ask.filter((id) => !served.has(id));
      if (served.size === 0) unserved += ask.length;
      else if (rest.length > 0) this.size = served.size;
      pending = served.size === 0 ? pending.slice(ask.length) : [...rest, ...pending.slice(ask.length)];
    }
    return { unserved, unasked };
  }
}

/** What a relay sends about one subscription. */
const SUBSCRIPTION_MESSAGES = new Set<unknown>(['EVENT', 'EOSE', 'CLOSED']);

/**
 * Reads one subscription to EOSE, handing its events to `archive` ARCHIVE_CHUNK at a time as they
 * come (so a window's events are not all held at once); returns how many came. More than twice
 * `expected` events is a broken relay.
 */
async function readSubscription(
  conn: RelayConnection, sub: string, filter: Record<string, unknown>, expected: number, timeoutMs: number, beat: Beat, archive: Archive,
): Promise<number> {
  conn.send(['REQ', sub, filter]);
  let chunk: unknown[] = [];
  let chunkBytes = 0;
  let received = 0;
  let lastBeat = 0;
  // One matcher for the whole subscription: `next` runs it on every message that arrives.
  const ours = (m: unknown[]) => (m[1] === sub && SUBSCRIPTION_MESSAGES.has(m[0]) ? m : undefined);
  for (;;) {
    const msg = conn.take(ours) ?? (await conn.next(ours, timeoutMs));
    if (msg[0] === 'EVENT') {
      chunk.push(msg[2]);
      chunkBytes += messageBytes(msg);
      received++;
      if (received > expected * 2) throw new RelayError('protocol', `${conn.url} sent more than twice the limit (${expected}) for one REQ`);
      if (chunk.length === ARCHIVE_CHUNK || chunkBytes >= ARCHIVE_CHUNK_BYTES) {
        await archive(chunk);
        chunk = [];
        chunkBytes = 0;
      }
      // A heartbeat a second at most, so that a relay slow between events still shows life: each
      // call costs ~7 µs in the SDK (logging, a native call) even where Temporal sends fewer, which
      // was 15% of the worker's time with one call per event.
      if (Date.now() - lastBeat >= HEARTBEAT_EVERY_MS) {
        lastBeat = Date.now();
        beat();
      }
    } else if (msg[0] === 'EOSE') break;
    else throw new SubscriptionClosed(conn.url, String(msg[2] ?? ''));
  }
  conn.send(['CLOSE', sub]);
  if (chunk.length) await archive(chunk);
  return received;
}

/**
 * One round trip: of `ids`, those the archive has in [since, until] linked to this relay already
 * (`here`: it sent them before), and those it has at another time (`outside`).
 */
async function sortListed(db: Db, url: string, ids: string[], since: number, until: number): Promise<{ here: string[]; outside: string[] }> {
  if (ids.length === 0) return { here: [], outside: [] };
  const { rows } = await db.query<{ here: string[]; outside: string[] }>({
    name: 'negentropy-sort-listed', // prepared, as the archive's statements are (archive.ts)
    text: `SELECT coalesce(array_agg(encode(f.id, 'hex')) FILTER (WHERE f.created_at BETWEEN $3::bigint AND $4::bigint
                    AND EXISTS (SELECT 1 FROM event_relay r WHERE r.event_id = f.id AND r.relay_url = $2::text)), '{}') AS here,
                  coalesce(array_agg(encode(f.id, 'hex')) FILTER (WHERE f.created_at NOT BETWEEN $3::bigint AND $4::bigint), '{}') AS outside
           FROM event_find($1::bytea[]) AS f`,
    values: [ids.map(byteaHex), url, since, until],
  });
  return rows[0]!;
}
