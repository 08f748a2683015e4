// Local Nostr relays for tests, on 127.0.0.1 and a free port each: one that behaves (a real if
// minimal NIP-01 relay) and the ways real relays misbehave, so probes meet real sockets.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { verifyEvent, type Event } from 'nostr-tools/pure';
import { NegentropyResponder } from './negentropy-responder.js';

export type RelayBehaviour =
  | 'good' | 'slow' | 'no-upgrade' | 'silent' | 'close-at-once' | 'malformed' | 'auth' | 'notice-only' | 'closed'
  // answering a REQ: a 10 MB frame first; the stored events but never EOSE; half of them, then the socket dies
  | 'huge-frame' | 'no-eose' | 'close-mid-window';

export interface LocalRelay {
  /** ws://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The relay's store: the events it started with, then every valid event it accepted. */
  events: Event[];
  /** TCP connections accepted so far. */
  connections: number;
  /** Ids asked for in REQ filters (`ids`), summed over every REQ. */
  idsRequested: number;
  /** NEG-OPEN messages received (NIP-77), answered or not. */
  negOpens: number;
  /** COUNT messages answered (NIP-45). */
  countsAsked: number;
  /** The filters of every REQ received, in order. */
  reqs: Filter[][];
  /** With the `auth` option: the pubkey of every AUTH accepted, in order. */
  authenticated: string[];
  /** Changes the `maxLimit` cap from the next REQ on (undefined: no cap), as a relay reconfigured between two syncs. */
  setMaxLimit(maxLimit: number | undefined): void;
  stop(): Promise<void>;
}

export interface LocalRelayOptions {
  behaviour?: RelayBehaviour;
  events?: Event[];
  /** For slow: before each answer. */
  delayMs?: number;
  /** Sent as Server and X-Powered-By on the upgrade response. */
  serverHeader?: string;
  /** A NIP-11 document, served to a GET with `Accept: application/nostr+json` (as real relays do). */
  nip11?: unknown;
  /**
   * Speaks NIP-77 (negentropy) over the stored events the NEG-OPEN filter matches; 'malformed'
   * answers NEG-OPEN with a NEG-MSG that is not a negentropy message. Otherwise NEG-OPEN gets the
   * NOTICE of a relay that does not know the message.
   */
  nip77?: boolean | 'malformed';
  /** NIP-77: a NEG-OPEN matching more events than this is refused (NEG-ERR `blocked:`), as strfry does. */
  nip77MaxRecords?: number;
  /** Caps every REQ filter's limit (none given included), as real relays do (NIP-11 max_limit). Silent: nothing says the answer was cut. */
  maxLimit?: number;
  /**
   * NIP-42 (for the good and slow behaviours): sends ["AUTH", challenge] on connect; until the
   * connection has authenticated, every REQ and NEG-OPEN is answered ["CLOSED", sub,
   * "auth-required: ..."]. An ["AUTH", event] with a valid signature, kind 22242, this connection's
   * challenge in a "challenge" tag and a "relay" tag (any value) gets ["OK", id, true, ""] and
   * authenticates the connection (its pubkey recorded in `authenticated`); anything else gets OK
   * false with an "invalid:" reason. Then 'serve-after' serves as usual; 'restricted-after' answers
   * every REQ and NEG-OPEN ["CLOSED", sub, "restricted: not allowed"]. Writes (EVENT) are not affected.
   */
  auth?: 'serve-after' | 'restricted-after';
  /** With `auth`: only these pubkeys (hex) may authenticate; another gets OK false "restricted: ...". */
  authPubkeys?: string[];
  /** Treats `until` as exclusive (created_at < until), as some real relays do: since == until then matches nothing. */
  untilExclusive?: boolean;
  /** Answers NIP-45 COUNT (a NIP-11 to say so is the test's: `nip11`). */
  nip45?: boolean;
}

export type Filter = Record<string, unknown>;

export async function startLocalRelay(options: LocalRelayOptions = {}): Promise<LocalRelay> {
  const behaviour = options.behaviour ?? 'good';
  const delayMs = options.delayMs ?? 0;
  const untilExclusive = options.untilExclusive ?? false;
  let maxLimit = options.maxLimit;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    if (options.nip11 !== undefined && /application\/nostr\+json/.test(req.headers.accept ?? '')) {
      res.writeHead(200, { 'content-type': 'application/nostr+json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify(options.nip11));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  });
  const wss = new WebSocketServer({ noServer: true });
  const relay: LocalRelay = {
    url: '',
    port: 0,
    events: [...(options.events ?? [])],
    connections: 0,
    idsRequested: 0,
    negOpens: 0,
    countsAsked: 0,
    reqs: [],
    authenticated: [],
    setMaxLimit: (n) => {
      maxLimit = n;
    },
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  server.on('connection', (socket: Socket) => {
    relay.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  if (options.serverHeader) {
    wss.on('headers', (headers) => headers.push(`Server: ${options.serverHeader}`, `X-Powered-By: ${options.serverHeader}`));
  }
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (behaviour === 'no-upgrade') {
      // An HTTP server that is not a relay (a landing page, a proxy misconfiguration): 200, no 101.
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });

  // Each connection's live subscriptions (good and slow relays send new events to them).
  const subscriptions = new Map<WebSocket, Map<string, Filter[]>>();
  // With the auth option: each connection's challenge, and the pubkey it authenticated as.
  const auths = new WeakMap<WebSocket, { challenge: string; pubkey?: string }>();

  function send(ws: WebSocket, message: unknown[]) {
    const write = () => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    if (behaviour !== 'slow') return write();
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, delayMs);
    timers.add(timer);
  }

  function onConnection(ws: WebSocket) {
    ws.on('error', () => {});
    if (behaviour === 'close-at-once') return ws.close(1000, 'go away');
    if (behaviour === 'auth') ws.send(JSON.stringify(['AUTH', randomBytes(16).toString('hex')]));
    if (options.auth) {
      const challenge = randomBytes(16).toString('hex');
      auths.set(ws, { challenge });
      send(ws, ['AUTH', challenge]);
    }
    const subs = new Map<string, Filter[]>();
    subscriptions.set(ws, subs);
    ws.on('close', () => subscriptions.delete(ws));
    ws.on('message', (data, isBinary) => {
      if (behaviour === 'silent') return;
      let msg: unknown;
      try {
        msg = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        return send(ws, ['NOTICE', 'error: not JSON']);
      }
      if (!Array.isArray(msg)) return send(ws, ['NOTICE', 'error: not a JSON array']);
      const [type, subId] = msg as [unknown, unknown];
      if (type === 'AUTH' && options.auth) return onAuth(ws, msg[1]);
      if (type === 'REQ' && typeof subId === 'string') return onReq(ws, subs, subId, msg.slice(2) as Filter[]);
      if (type === 'EVENT') return onEvent(ws, msg[1]);
      if (type === 'COUNT' && options.nip45 && typeof subId === 'string') {
        relay.countsAsked++;
        // NIP-45: every event the filters match, no limit.
        const filters = (msg.slice(2) as Filter[]).filter(isRecord).map(({ limit: _, ...f }) => f);
        return send(ws, ['COUNT', subId, { count: query(relay.events, filters, untilExclusive).length }]);
      }
      if (type === 'CLOSE' && typeof subId === 'string') return void subs.delete(subId);
      if (type === 'NEG-OPEN') relay.negOpens++;
      if (type === 'NEG-OPEN' && typeof subId === 'string' && refusedRead(ws, subId)) return;
      if (options.nip77 && typeof type === 'string' && type.startsWith('NEG-')) return onNegentropy(ws, msg);
      send(ws, ['NOTICE', `error: unknown message type ${JSON.stringify(type)}`]);
    });
  }

  /** NIP-42: answers ["AUTH", event] with OK, authenticating the connection when the event is right. */
  function onAuth(ws: WebSocket, event: unknown) {
    const id = isRecord(event) && typeof event.id === 'string' ? event.id : '';
    const state = auths.get(ws);
    if (!state) return;
    let valid = false;
    try {
      valid = verifyEvent(event as Event);
    } catch {
      valid = false;
    }
    if (!valid) return send(ws, ['OK', id, false, 'invalid: bad signature']);
    const ev = event as Event;
    const tag = (name: string) => ev.tags.find((t) => t[0] === name)?.[1];
    if (ev.kind !== 22242) return send(ws, ['OK', id, false, 'invalid: an AUTH event must be of kind 22242']);
    if (tag('challenge') !== state.challenge) return send(ws, ['OK', id, false, 'invalid: wrong or missing challenge']);
    if (!tag('relay')) return send(ws, ['OK', id, false, 'invalid: missing relay tag']);
    if (options.authPubkeys && !options.authPubkeys.includes(ev.pubkey)) {
      return send(ws, ['OK', id, false, 'restricted: this pubkey is not allowed here']);
    }
    state.pubkey = ev.pubkey;
    relay.authenticated.push(ev.pubkey);
    send(ws, ['OK', id, true, '']);
  }

  /** With the auth option: answers a read (REQ, NEG-OPEN) the connection may not make with CLOSED; true when it did. */
  function refusedRead(ws: WebSocket, subId: string): boolean {
    if (!options.auth) return false;
    const state = auths.get(ws);
    if (state?.pubkey === undefined) send(ws, ['CLOSED', subId, 'auth-required: authenticate to read here']);
    else if (options.auth === 'restricted-after') send(ws, ['CLOSED', subId, 'restricted: not allowed']);
    else return false;
    return true;
  }

  function onReq(ws: WebSocket, subs: Map<string, Filter[]>, subId: string, filters: Filter[]) {
    relay.reqs.push(filters);
    relay.idsRequested += filters.filter(isRecord).reduce((n, f) => n + (Array.isArray(f.ids) ? f.ids.length : 0), 0);
    if (refusedRead(ws, subId)) return;
    const cap = maxLimit;
    if (cap !== undefined) filters = filters.map((f) => (isRecord(f) ? { ...f, limit: Math.min(typeof f.limit === 'number' ? f.limit : cap, cap) } : f));
    switch (behaviour) {
      case 'malformed':
        ws.send('this is not JSON');
        ws.send('{"an":"object"}');
        ws.send('"a string"');
        ws.send('[]');
        ws.send(JSON.stringify(['WHAT', subId]));
        ws.send(JSON.stringify(['EVENT', subId, 'not an event']));
        ws.send(Buffer.from([0x5b, 0x5d]), { binary: true });
        return;
      case 'auth':
        return send(ws, ['CLOSED', subId, 'auth-required: we only serve authenticated users']);
      case 'notice-only':
        return send(ws, ['NOTICE', 'we do not serve subscriptions here']);
      case 'closed':
        return send(ws, ['CLOSED', subId, 'error: shutting down']);
      case 'huge-frame':
        // An event no relay should hold, 10 MB in one frame, before a normal answer: a client must
        // refuse the frame rather than buffer it, and cannot reach the EOSE behind it.
        ws.send(JSON.stringify(['EVENT', subId, hugeEvent()]));
        break;
      case 'no-eose':
        for (const event of query(relay.events, filters, untilExclusive)) send(ws, ['EVENT', subId, event]);
        return; // the subscription never says its stored events are done
      case 'close-mid-window': {
        // A relay that dies mid-answer: half the events, then the TCP connection goes without a
        // close frame (once the last event is written, so that the client does get the half).
        const found = query(relay.events, filters, untilExclusive);
        const half = found.slice(0, Math.ceil(found.length / 2));
        if (half.length === 0) return ws.terminate();
        half.forEach((event, i) => ws.send(JSON.stringify(['EVENT', subId, event]), i === half.length - 1 ? () => ws.terminate() : undefined));
        return;
      }
    }
    subs.set(subId, filters);
    for (const event of query(relay.events, filters, untilExclusive)) send(ws, ['EVENT', subId, event]);
    send(ws, ['EOSE', subId]);
  }

  // NIP-77, the relay's side: a session per NEG-OPEN (per connection), over the stored events its
  // filter matches (limit ignored, as a sync wants them all), answered until NEG-CLOSE.
  const negSessions = new WeakMap<WebSocket, Map<string, NegentropyResponder>>();
  function onNegentropy(ws: WebSocket, msg: unknown[]) {
    const [type, subId, a, b] = msg;
    if (typeof subId !== 'string') return send(ws, ['NOTICE', `error: ${String(type)} without a subscription id`]);
    const sessions = negSessions.get(ws) ?? new Map<string, NegentropyResponder>();
    negSessions.set(ws, sessions);
    if (type === 'NEG-CLOSE') return void sessions.delete(subId);
    if (options.nip77 === 'malformed') return send(ws, ['NEG-MSG', subId, '61ff']); // a varint cut short
    let session = sessions.get(subId);
    let message = a;
    try {
      if (type === 'NEG-OPEN') {
        const matching = isRecord(a) ? relay.events.filter((e) => matches(e, a, untilExclusive)) : [];
        if (options.nip77MaxRecords !== undefined && matching.length > options.nip77MaxRecords) {
          return send(ws, ['NEG-ERR', subId, `blocked: this query matches more than ${options.nip77MaxRecords} events`]);
        }
        session = new NegentropyResponder(matching);
        sessions.set(subId, session);
        message = b;
      } else if (type !== 'NEG-MSG') return send(ws, ['NOTICE', `error: unknown message type ${JSON.stringify(type)}`]);
      if (!session) return send(ws, ['NEG-ERR', subId, 'closed: no such negentropy session']);
      send(ws, ['NEG-MSG', subId, session.answer(String(message))]);
    } catch (err) {
      sessions.delete(subId);
      send(ws, ['NEG-ERR', subId, `error: ${(err as Error).message}`]);
    }
  }

  function onEvent(ws: WebSocket, event: unknown) {
    const id = isRecord(event) && typeof event.id === 'string' ? event.id : '';
    if (behaviour === 'auth') return send(ws, ['OK', id, false, 'auth-required: we only accept events from authenticated users']);
    if (!['good', 'slow'].includes(behaviour)) return;
    let valid = false;
    try {
      valid = verifyEvent(event as Event);
    } catch {
      valid = false; // not even shaped like an event
    }
    if (!valid) return send(ws, ['OK', id, false, 'invalid: bad signature']);
    const ev = event as Event;
    if (relay.events.some((e) => e.id === ev.id)) return send(ws, ['OK', id, true, 'duplicate: already have this event']);
    relay.events.push(ev);
    send(ws, ['OK', id, true, '']);
    for (const [client, subs] of subscriptions) {
      for (const [subId, filters] of subs) if (filters.some((f) => matches(ev, f, untilExclusive))) send(client, ['EVENT', subId, ev]);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  relay.port = (server.address() as AddressInfo).port;
  relay.url = `ws://127.0.0.1:${relay.port}`;
  return relay;
}

/** Event-shaped, 10 MB of content (made on first use: most tests never need it). */
const hugeEvent = () => ({ id: '0'.repeat(64), pubkey: '1'.repeat(64), created_at: 1, kind: 1, tags: [], content: 'x'.repeat(10 * 1024 * 1024), sig: '2'.repeat(128) });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** NIP-01: the union of the filters' matches, each filter's limit applied to its newest, newest first (ties: lowest id first). */
export function query(events: Event[], filters: Filter[], untilExclusive = false): Event[] {
  const byId = new Map<string, Event>();
  for (const filter of filters.filter(isRecord)) {
    const found = events.filter((e) => matches(e, filter, untilExclusive)).sort(newestFirst);
    const limit = typeof filter.limit === 'number' ? filter.limit : found.length;
    for (const e of found.slice(0, Math.max(0, limit))) byId.set(e.id, e);
  }
  return [...byId.values()].sort(newestFirst);
}

function newestFirst(a: Event, b: Event): number {
  return b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** NIP-01 (since and until inclusive); untilExclusive: created_at must be below until, as some relays read it. */
export function matches(event: Event, filter: Filter, untilExclusive = false): boolean {
  const list = (key: string) => (Array.isArray(filter[key]) ? (filter[key] as unknown[]) : undefined);
  const ids = list('ids');
  if (ids && !ids.includes(event.id)) return false;
  const authors = list('authors');
  if (authors && !authors.includes(event.pubkey)) return false;
  const kinds = list('kinds');
  if (kinds && !kinds.includes(event.kind)) return false;
  if (typeof filter.since === 'number' && event.created_at < filter.since) return false;
  if (typeof filter.until === 'number' && (untilExclusive ? event.created_at >= filter.until : event.created_at > filter.until)) return false;
  for (const [key, values] of Object.entries(filter)) {
    if (!/^#[a-zA-Z]$/.test(key) || !Array.isArray(values)) continue;
    if (!event.tags.some((t) => t[0] === key.slice(1) && t[1] !== undefined && values.includes(t[1]))) return false;
  }
  return true;
}
