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
  /** The filters of every REQ received, in order. */
  reqs: Filter[][];
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
  /** Caps every REQ filter's limit (none given included), as real relays do (NIP-11 max_limit). */
  maxLimit?: number;
}

export type Filter = Record<string, unknown>;

export async function startLocalRelay(options: LocalRelayOptions = {}): Promise<LocalRelay> {
  const behaviour = options.behaviour ?? 'good';
  const delayMs = options.delayMs ?? 0;
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
    reqs: [],
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
      if (type === 'REQ' && typeof subId === 'string') return onReq(ws, subs, subId, msg.slice(2) as Filter[]);
      if (type === 'EVENT') return onEvent(ws, msg[1]);
      if (type === 'CLOSE' && typeof subId === 'string') return void subs.delete(subId);
      if (type === 'NEG-OPEN') relay.negOpens++;
      if (options.nip77 && typeof type === 'string' && type.startsWith('NEG-')) return onNegentropy(ws, msg);
      send(ws, ['NOTICE', `error: unknown message type ${JSON.stringify(type)}`]);
    });
  }

  function onReq(ws: WebSocket, subs: Map<string, Filter[]>, subId: string, filters: Filter[]) {
    relay.reqs.push(filters);
    relay.idsRequested += filters.filter(isRecord).reduce((n, f) => n + (Array.isArray(f.ids) ? f.ids.length : 0), 0);
    const maxLimit = options.maxLimit;
    if (maxLimit !== undefined) filters = filters.map((f) => (isRecord(f) ? { ...f, limit: Math.min(typeof f.limit === 'number' ? f.limit : maxLimit, maxLimit) } : f));
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
        for (const event of query(relay.events, filters)) send(ws, ['EVENT', subId, event]);
        return; // the subscription never says its stored events are done
      case 'close-mid-window': {
        // A relay that dies mid-answer: half the events, then the TCP connection goes without a
        // close frame (once the last event is written, so that the client does get the half).
        const found = query(relay.events, filters);
        const half = found.slice(0, Math.ceil(found.length / 2));
        if (half.length === 0) return ws.terminate();
        half.forEach((event, i) => ws.send(JSON.stringify(['EVENT', subId, event]), i === half.length - 1 ? () => ws.terminate() : undefined));
        return;
      }
    }
    subs.set(subId, filters);
    for (const event of query(relay.events, filters)) send(ws, ['EVENT', subId, event]);
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
        const matching = isRecord(a) ? relay.events.filter((e) => matches(e, a)) : [];
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
      for (const [subId, filters] of subs) if (filters.some((f) => matches(ev, f))) send(client, ['EVENT', subId, ev]);
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
export function query(events: Event[], filters: Filter[]): Event[] {
  const byId = new Map<string, Event>();
  for (const filter of filters.filter(isRecord)) {
    const found = events.filter((e) => matches(e, filter)).sort(newestFirst);
    const limit = typeof filter.limit === 'number' ? filter.limit : found.length;
    for (const e of found.slice(0, Math.max(0, limit))) byId.set(e.id, e);
  }
  return [...byId.values()].sort(newestFirst);
}

function newestFirst(a: Event, b: Event): number {
  return b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function matches(event: Event, filter: Filter): boolean {
  const list = (key: string) => (Array.isArray(filter[key]) ? (filter[key] as unknown[]) : undefined);
  const ids = list('ids');
  if (ids && !ids.includes(event.id)) return false;
  const authors = list('authors');
  if (authors && !authors.includes(event.pubkey)) return false;
  const kinds = list('kinds');
  if (kinds && !kinds.includes(event.kind)) return false;
  if (typeof filter.since === 'number' && event.created_at < filter.since) return false;
  if (typeof filter.until === 'number' && event.created_at > filter.until) return false;
  for (const [key, values] of Object.entries(filter)) {
    if (!/^#[a-zA-Z]$/.test(key) || !Array.isArray(values)) continue;
    if (!event.tags.some((t) => t[0] === key.slice(1) && t[1] !== undefined && values.includes(t[1]))) return false;
  }
  return true;
}
