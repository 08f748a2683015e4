// Relays that nobody on this project wrote, on 127.0.0.1 and a free port each, so an integration
// test syncs from software with its own ideas about limits, ordering and replaceable events and
// compares the archive with what that software holds; local-relay.ts only shows what we expected.
//  - startNostrRelayCore: @nostr-relay/core (npm) in this process, with its SQLite repository and
//    its zod validator, wired to a `ws` server the way the package's README does it. It has no
//    NIP-11 document: a GET is answered by `ws` itself (426 Upgrade Required).
//  - startPythonNostrRelay: the PyPI nostr-relay as a child process from .venv (scripts/setup.sh
//    installs it), its config and SQLite file in a temp dir.
// publish() sends EVENT messages and waits for each OK: 3–4 ms an event on either (a JS signature
// check and a Kysely transaction each; SQLAlchemy), over a minute for 20,000. load() writes
// straight into the relay's SQLite file with the relay's own statements and rules, in one
// transaction (4–7 s for 20,000), so the relay then serves them as if published (checked: the
// same tables, row for row, as after publish()); its live subscribers are not told, so load
// before syncing. The ids a relay holds are read back from
// that file, not derived from what was sent: which versions of a replaceable event a relay keeps
// (and whether only one) is the relay's business.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import type { NostrEvent } from '../../activities/db/store.js';
import { BulkSigner, randomHex, seeded, trafficTemplate, type Template } from './bulk-events.js';

export interface LoadResult {
  /** Taken (OK true, or false with "duplicate:"): new, duplicate, or a version older than the one held. */
  accepted: number;
  /** Refused (OK false, or a NOTICE in answer): [id, reason]. */
  refused: Array<[string, string]>;
  ms: number;
}

export interface ThirdPartyRelay {
  name: string;
  /** ws://127.0.0.1:PORT */
  url: string;
  /** Stores the events in the relay's SQLite file as the relay stores a published event, in order. */
  load(events: NostrEvent[]): Promise<LoadResult>;
  /** Sends the events as EVENT messages and waits for an OK for each (order across sockets not kept). */
  publish(events: NostrEvent[], connections?: number): Promise<LoadResult>;
  /** Every event id the relay would serve, read from its SQLite file. */
  heldIds(): Promise<Set<string>>;
  stop(): Promise<void>;
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * @nostr-relay's packages, loaded when a test starts the relay: they are optional dependencies,
 * since better-sqlite3 builds natively and a machine without Node's headers (or a prebuilt
 * binary to download) cannot install it; `npm ci` then leaves them out rather than failing.
 */
async function nostrRelayLib() {
  // By a name TypeScript does not resolve: `tsc` passes on a machine that could not install them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const optional = (name: string): Promise<any> => import(name);
  const [core, common, sqlite, search, validator] = await Promise.all([
    optional('@nostr-relay/core'),
    optional('@nostr-relay/common'),
    optional('@nostr-relay/event-repository-sqlite'),
    optional('@nostr-relay/event-repository-sqlite/dist/search.js'),
    optional('@nostr-relay/validator'),
  ]);
  return {
    NostrRelay: core.NostrRelay, EventType: common.EventType, EventUtils: common.EventUtils, LogLevel: common.LogLevel,
    EventRepositorySqlite: sqlite.EventRepositorySqlite, extractSearchableContent: search.extractSearchableContent, Validator: validator.Validator,
  };
}
type NostrRelayLib = Awaited<ReturnType<typeof nostrRelayLib>>;
/** What load() uses of the repository's better-sqlite3 database (typed here: the package is optional). */
interface SqliteDb {
  prepare(sql: string): { get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; run(...args: unknown[]): { changes: number } };
  transaction(body: () => void): () => void;
}

/**
 * @nostr-relay/core 0.0.40 with EventRepositorySqlite. The repository knows one knob: a REQ
 * filter without `limit` gets `defaultLimit`, and any limit is capped at ten times that
 * (MAX_LIMIT_MULTIPLIER), so `maxLimit` must be a multiple of 10 and the default is a tenth of it.
 */
export async function startNostrRelayCore(o: { maxLimit: number }): Promise<ThirdPartyRelay | { skipped: string }> {
  if (!Number.isInteger(o.maxLimit / 10) || o.maxLimit < 10) {
    throw new Error(`maxLimit ${o.maxLimit}: @nostr-relay caps at 10 × its default limit, so it must be a positive multiple of 10`);
  }
  let lib: NostrRelayLib;
  try {
    lib = await nostrRelayLib();
  } catch (err) {
    return { skipped: `@nostr-relay is not installed (an optional dependency: its better-sqlite3 needs a native build): ${(err as Error).message.slice(0, 200)}` };
  }
  const { EventRepositorySqlite, NostrRelay, LogLevel, Validator } = lib;
  const dir = await mkdtemp(join(tmpdir(), 'nostr-relay-core-'));
  const repository = new EventRepositorySqlite(join(dir, 'events.sqlite3'), { defaultLimit: o.maxLimit / 10 });
  await repository.init();
  const relay = new NostrRelay(repository, { logLevel: LogLevel.ERROR });
  const validator = new Validator();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (ws, req) => {
    relay.handleConnection(ws, req.socket.remoteAddress);
    ws.on('message', async (data) => {
      try {
        await relay.handleMessage(ws, await validator.validateIncomingMessage(data));
      } catch (error) {
        if (error instanceof Error && ws.readyState === ws.OPEN) ws.send(JSON.stringify(['NOTICE', error.message]));
      }
    });
    ws.on('close', () => relay.handleDisconnect(ws));
    ws.on('error', () => {});
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return {
    name: '@nostr-relay/core 0.0.40 (sqlite)',
    url,
    load: async (events) => storeAsRepository(lib, repository, events),
    publish: (events, connections = 1) => publish(url, events, connections),
    heldIds: async () => {
      const rows = repository.getDatabase().prepare('SELECT id FROM events').all() as Array<{ id: string }>;
      return new Set(rows.map((r) => r.id));
    },
    stop: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await relay.destroy();
      await repository.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PythonRelayOptions {
  /** Its `max_limit`: the cap on a filter's limit and the limit of a filter without one. */
  maxLimit: number;
  /** Bound on waiting for it to answer HTTP after the spawn (its alembic migration runs first). */
  startTimeoutMs?: number;
}

/** nostr-relay's defaults for its validators, written to its config and given to the loader. */
const MAX_EVENT_SIZE = 4096;
const OLDEST_EVENT = 365 * 86_400;
const HELLTHREAD_LIMIT = 100;

/**
 * The PyPI nostr-relay 1.14, served by uvicorn (`serve --use-uvicorn`: one process, no gunicorn
 * workers to chase). Its default validators stay on: content ≤ 4096 characters, created_at within
 * the last year and at most an hour ahead, at most 100 p tags on kinds 1 and 7. Without
 * .venv/bin/nostr-relay it is skipped, with the reason.
 */
export async function startPythonNostrRelay(o: PythonRelayOptions): Promise<ThirdPartyRelay | { skipped: string }> {
  const bin = join(REPO, '.venv', 'bin', 'nostr-relay');
  const python = join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(bin)) return { skipped: `${bin} is missing: scripts/setup.sh installs it` };
  const dir = await mkdtemp(join(tmpdir(), 'nostr-relay-py-'));
  const db = join(dir, 'nostr.sqlite3');
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}`;
  // gunicorn's section is what `--use-uvicorn` hands to uvicorn.Config (bind becomes the port).
  // Logging at WARNING: at INFO it writes a line for every event added.
  const config = {
    DEBUG: false,
    max_event_size: MAX_EVENT_SIZE,
    oldest_event: OLDEST_EVENT,
    hellthread_limit: HELLTHREAD_LIMIT,
    relay_name: 'bigbrotr test relay',
    storage: {
      'sqlalchemy.url': `sqlite+aiosqlite:///${db}`,
      num_concurrent_reqs: 10,
      num_concurrent_adds: 2,
      validators: ['is_not_too_large', 'is_signed', 'is_recent', 'is_not_hellthread'].map((v) => `nostr_relay.validators.${v}`),
    },
    gunicorn: { bind: `127.0.0.1:${port}`, host: '127.0.0.1', workers: 1, loglevel: 'warning' },
    max_limit: o.maxLimit,
    logging: {
      version: 1,
      handlers: { console: { class: 'logging.StreamHandler', level: 'WARNING', stream: 'ext://sys.stderr' } },
      root: { level: 'WARNING', handlers: ['console'] },
    },
  };
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  // detached: its own process group, so stop() reaches anything it forks.
  const child = spawn(bin, ['-c', configFile, 'serve', '--use-uvicorn'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}`)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    await killGroup(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, o.startTimeoutMs ?? 30_000, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'nostr-relay 1.14 (PyPI, sqlite)',
    url,
    load: async (events) => {
      const started = Date.now();
      const input = events.map((e) => JSON.stringify(e)).join('\n');
      const args = [join(REPO, 'test', 'helpers', 'python-relay-load.py'), db, String(MAX_EVENT_SIZE), String(OLDEST_EVENT), String(HELLTHREAD_LIMIT)];
      const out = JSON.parse(await run(python, args, input)) as Omit<LoadResult, 'ms'>;
      return { ...out, ms: Date.now() - started };
    },
    // It handles one socket's messages one after another, and sleeps 2 s, 4 s, 8 s... before the
    // OK of each refused event on that socket.
    publish: (events, connections = 4) => publish(url, events, connections),
    heldIds: async () => {
      const script = 'import sqlite3,sys\nc=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True)\nsys.stdout.write("\\n".join(r[0] for r in c.execute("SELECT lower(hex(id)) FROM events")))';
      const out = await run(python, ['-c', script, db]);
      return new Set(out.split('\n').filter(Boolean));
    },
    stop,
  };
}

/** SIGTERM to the process group, SIGKILL after 5 s. */
async function killGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nostr-relay exited (${child.exitCode ?? child.signalCode}) before answering HTTP at ${url}; its output:\n${output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nostr-relay did not answer HTTP 200 at ${url} within ${timeoutMs} ms; its output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin!.end(input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${cmd} exited ${code}: ${Buffer.concat(err).toString()}`))));
  });
}

/**
 * What NostrRelay.handleEvent and EventRepositorySqlite.upsert (0.0.40) do with a new event, with
 * the repository's statements on its own connection, in one transaction: ~1 ms an event through
 * them (Kysely compiles and prepares each statement, and each event is a transaction) becomes
 * ~0.3 ms, most of it the trigram full-text index. Not done here: the signature check (load() is for BulkSigner's events, genuine BIP-340
 * signatures; publish() checks them), and the kinds the relay does not simply store (ephemeral,
 * kind 5 deletions, delegation or expiration tags), which it refuses to guess at.
 */
function storeAsRepository(
  { EventType, EventUtils, extractSearchableContent }: NostrRelayLib, repository: { getDatabase(): SqliteDb }, events: NostrEvent[],
): LoadResult {
  const started = Date.now();
  const db = repository.getDatabase();
  const exists = db.prepare('SELECT 1 FROM events WHERE id = ?');
  const current = db.prepare('SELECT id FROM events WHERE author = ? AND kind = ? AND d_tag_value = ?');
  // upsert(): a replaceable or addressable version replaces the held one when newer, or as old
  // with a lower id (NIP-01); an older one is dropped silently (OK true, as on the WebSocket).
  const insert = db.prepare(
    'INSERT INTO events (id, pubkey, author, kind, created_at, tags, content, sig, d_tag_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (author, kind, d_tag_value) WHERE d_tag_value IS NOT NULL DO UPDATE SET ' +
      'id = excluded.id, pubkey = excluded.pubkey, created_at = excluded.created_at, tags = excluded.tags, content = excluded.content, sig = excluded.sig ' +
      'WHERE events.created_at < excluded.created_at OR (events.created_at = excluded.created_at AND events.id > excluded.id)',
  );
  const clearTags = db.prepare('DELETE FROM generic_tags WHERE event_id = ?');
  const addTag = db.prepare('INSERT INTO generic_tags (tag, event_id, kind, author, created_at) VALUES (?, ?, ?, ?, ?)');
  const unsearch = db.prepare('DELETE FROM events_fts WHERE id = ?');
  const search = db.prepare('INSERT INTO events_fts (id, content) VALUES (?, ?)');
  const result: LoadResult = { accepted: 0, refused: [], ms: 0 };
  db.transaction(() => {
    for (const e of events) {
      const event = e;
      const type = EventUtils.getType(event.kind);
      if (type === EventType.EPHEMERAL || event.kind === 5 || event.tags.some(([name]) => name === 'delegation' || name === 'expiration')) {
        throw new Error(`load() does not store kind ${event.kind} or delegation/expiration tags the way the relay does: publish() them`);
      }
      result.accepted++;
      if (exists.get(event.id)) continue; // checkEventExists: "duplicate: the event already exists"
      const author = EventUtils.getAuthor(event);
      const dTag = EventUtils.extractDTagValue(event);
      const old = dTag === null ? undefined : (current.get(author, event.kind, dTag) as { id: string } | undefined);
      let changes: number;
      try {
        changes = insert.run(event.id, event.pubkey, author, event.kind, event.created_at, JSON.stringify(event.tags), event.content, event.sig, dTag).changes;
      } catch (error) {
        if (error instanceof Error && error.message.includes('UNIQUE constraint failed')) continue;
        throw error;
      }
      if (changes === 0) continue;
      const tags = new Set<string>();
      for (const [name, value] of event.tags) if (name !== undefined && /^[a-zA-Z]$/.test(name)) tags.add(`${name}:${value}`);
      if (tags.size > 0) {
        clearTags.run(event.id);
        for (const tag of tags) addTag.run(tag, event.id, event.kind, author, event.created_at);
      }
      if (old) unsearch.run(old.id);
      const searchable = extractSearchableContent(event);
      if (searchable) search.run(event.id, searchable);
    }
  })();
  result.ms = Date.now() - started;
  return result;
}

/**
 * Sends the events as EVENT messages over `connections` sockets, up to 500 unanswered on each,
 * and resolves when every one has its OK. The Python relay answers a refused event with an empty
 * id (["OK", "", false, reason]); it answers a socket's messages in order, so such an OK belongs
 * to that socket's oldest unanswered event. @nostr-relay's validator answers a malformed event
 * (too many tags, content too long) with a NOTICE and no OK: counted as refusing the oldest
 * unanswered event, which is only a guess at the id, as it answers out of order.
 */
async function publish(url: string, events: NostrEvent[], connections: number): Promise<LoadResult> {
  const started = Date.now();
  const result: LoadResult = { accepted: 0, refused: [], ms: 0 };
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      const pending = new Map<string, true>(); // insertion order = send order
      const fill = () => {
        while (pending.size < 500 && next < events.length) {
          const event = events[next++]!;
          pending.set(event.id, true);
          ws.send(JSON.stringify(['EVENT', event]));
        }
        if (pending.size === 0) {
          ws.close();
          resolve();
        }
      };
      ws.on('open', fill);
      ws.on('error', reject);
      ws.on('close', () => (pending.size ? reject(new Error(`${url} closed with ${pending.size} events unanswered`)) : resolve()));
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as unknown[];
        if (msg[0] !== 'OK' && msg[0] !== 'NOTICE') return;
        let id = msg[0] === 'OK' ? String(msg[1]) : '';
        if (!pending.has(id)) id = pending.keys().next().value ?? id;
        pending.delete(id);
        // The Python relay answers a duplicate OK false "duplicate: exists"; NIP-01 says true.
        if (msg[0] === 'OK' && (msg[2] === true || String(msg[3]).startsWith('duplicate:'))) result.accepted++;
        else result.refused.push([id, String(msg[0] === 'OK' ? msg[3] : `NOTICE ${String(msg[1])}`)]);
        fill();
      });
    });
  await Promise.all(Array.from({ length: Math.min(connections, Math.max(1, events.length)) }, one));
  result.ms = Date.now() - started;
  return result;
}

export interface GeneratedEvents {
  events: NostrEvent[];
  /** The second that holds `dense` events. */
  denseSecond: number;
  /** Oldest and newest created_at among the events. */
  since: number;
  until: number;
}

/**
 * `count` signed events for a third-party relay: traffic-shaped notes, reactions and contact
 * lists spread over `spanSeconds` ending a minute ago (the Python relay refuses events older than
 * a year or more than an hour ahead), `dense` of them in one second, and about 4% replaceable
 * (kinds 0, 3, 10002) and 4% addressable (kinds 30000 and 30023, a few `d` values each) in several
 * versions per author, a few versions sharing a second. Shuffled, so an older version often
 * arrives after a newer one: which versions a relay then keeps is for heldIds to say. The seed
 * fixes the shape (kinds, seconds, order); the keys, and so the ids, are new on every call.
 */
export function generateEvents(o: { count: number; seed?: number; authors?: number; dense?: number; spanSeconds?: number; end?: number }): GeneratedEvents {
  const rand = seeded(o.seed ?? 1);
  const signer = new BulkSigner(o.authors ?? 200);
  const authors = signer.pubkeys.length;
  const end = o.end ?? Math.floor(Date.now() / 1000) - 60;
  const span = o.spanSeconds ?? 30 * 86_400;
  const start = end - span;
  const denseSecond = start + Math.floor(span / 2);
  const dense = Math.min(o.dense ?? 1200, o.count);
  const at = () => start + Math.floor(rand() * (span + 1));
  const events: NostrEvent[] = [];
  const push = (t: Template, author: number) => events.push(signer.sign(t, author));

  for (let i = 0; i < dense; i++) push(trafficTemplate(rand, denseSecond, signer.pubkeys), Math.floor(rand() * authors));
  let rest = o.count - dense;
  const versioned = Math.floor(rest * 0.08);
  let lastVersion: { t: Template; author: number } | undefined;
  for (let i = 0; i < versioned; i++) {
    const author = Math.floor(rand() * Math.min(authors, 40));
    // Every tenth version shares its second (and its kind and d) with the version before it.
    const sameSecond = lastVersion && i % 10 === 0 ? lastVersion : undefined;
    const t = sameSecond ? { ...sameSecond.t, content: `${sameSecond.t.content} again` } : i % 2 === 0 ? replaceable(rand, at()) : addressable(rand, at());
    push(t, sameSecond ? sameSecond.author : author);
    lastVersion = { t, author: sameSecond ? sameSecond.author : author };
  }
  rest -= versioned;
  for (let i = 0; i < rest; i++) push(trafficTemplate(rand, at(), signer.pubkeys), Math.floor(rand() * authors));

  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of events) {
    lo = Math.min(lo, e.created_at);
    hi = Math.max(hi, e.created_at);
  }
  return { events, denseSecond, since: lo, until: hi };
}

function replaceable(rand: () => number, createdAt: number): Template {
  const kind = [0, 3, 10002][Math.floor(rand() * 3)]!;
  if (kind === 0) return { created_at: createdAt, kind, tags: [], content: JSON.stringify({ name: `user${Math.floor(rand() * 1e6)}`, about: 'test' }) };
  if (kind === 3) return { created_at: createdAt, kind, tags: [['p', randomHex(rand)], ['p', randomHex(rand)]], content: '' };
  return { created_at: createdAt, kind, tags: [['r', `wss://relay${Math.floor(rand() * 300)}.example.com`]], content: '' };
}

function addressable(rand: () => number, createdAt: number): Template {
  const kind = rand() < 0.5 ? 30000 : 30023;
  return { created_at: createdAt, kind, tags: [['d', `list-${Math.floor(rand() * 3)}`], ['p', randomHex(rand)]], content: kind === 30023 ? `article ${Math.floor(rand() * 1e9)}` : '' };
}
