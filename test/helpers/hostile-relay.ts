// Relays that attack the reader, for the hostile-relay zoo (test/integration/hostile-relays.test.ts).
// Each answers REQ as a relay does (its stored events matching the filter, newest first, up to the
// limit, then EOSE) and adds what a hostile or odd relay sends: events of megabytes paced under
// the frame cap, events that never end, a NOTICE or CLOSED with NUL, a NIP-11 with NUL. Big events
// share one content string and are serialised when sent, so that the relay itself stays small.
// Meant to run in its own process (test/helpers/hostile-relay-farm.ts), apart from the reader
// whose heap is measured.
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Event } from 'nostr-tools/pure';
import { query, type Filter } from './local-relay.js';

export interface HostileOptions {
  /** Its ordinary events. */
  events?: Event[];
  /** Big events, served as the others are, each frame `paceMs` after the last (0: as fast as the socket takes them). */
  big?: Event[];
  paceMs?: number;
  /** Never sends EOSE: repeats its events for ever (until the socket closes). */
  forever?: boolean;
  /** A NOTICE sent on connect; a CLOSED reason answering every REQ. */
  notice?: string;
  closedReason?: string;
  nip11?: unknown;
}

export interface HostileRelay {
  url: string;
  /** Big frames sent so far. */
  bigSent: number;
  stop(): Promise<void>;
}

export async function startHostileRelay(o: HostileOptions): Promise<HostileRelay> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (o.nip11 !== undefined && /application\/nostr\+json/.test(req.headers.accept ?? '')) {
      res.writeHead(200, { 'content-type': 'application/nostr+json' });
      res.end(JSON.stringify(o.nip11));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  const wss = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
  const relay: HostileRelay = {
    url: '',
    bigSent: 0,
    async stop() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (o.notice !== undefined) ws.send(JSON.stringify(['NOTICE', o.notice]));
    ws.on('message', (data) => {
      let msg: unknown[];
      try {
        msg = JSON.parse(data.toString()) as unknown[];
      } catch {
        return;
      }
      if (msg[0] !== 'REQ' || typeof msg[1] !== 'string') return;
      const sub = msg[1];
      const filters = msg.slice(2) as Filter[];
      if (o.closedReason !== undefined) return void ws.send(JSON.stringify(['CLOSED', sub, o.closedReason]));
      void answer(ws, sub, filters).catch(() => {});
    });
  });

  /** Waits until the socket has sent most of what it holds: the relay does not buffer megabytes for a slow reader. */
  const drained = async (ws: WebSocket) => {
    while (ws.readyState === ws.OPEN && ws.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
  };

  const bigIds = new Set((o.big ?? []).map((e) => e.id));
  const all = [...(o.events ?? []), ...(o.big ?? [])];

  async function answer(ws: WebSocket, sub: string, filters: Filter[]) {
    const events = query(all, filters);
    do {
      for (const e of events) {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(JSON.stringify(['EVENT', sub, e]));
        await drained(ws);
        if (bigIds.has(e.id)) {
          relay.bigSent++;
          if (o.paceMs) await new Promise((r) => setTimeout(r, o.paceMs));
        }
      }
      if (o.forever) await new Promise((r) => setImmediate(r));
    } while (o.forever && events.length > 0 && ws.readyState === ws.OPEN);
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(['EOSE', sub]));
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  relay.url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}
