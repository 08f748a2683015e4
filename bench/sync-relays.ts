// Local relays for bench/sync.ts, in a process of their own (so the worker's RSS and CPU are
// measured apart from theirs): BENCH_EVENTS signed events (default 1,000,000) spread over
// BENCH_SPAN seconds (default one a second) ending a day ago, served by 2 × BENCH_RELAYS relays
// (default 4 + 4) on 127.0.0.1. The first BENCH_RELAYS ("fresh") hold disjoint shares (event i
// is on relay i mod R); the others ("again") hold the same shares moved by one relay, so each
// event is seen a second time on another relay. Prints `{ fresh, again, events, first, last }`
// as one line of JSON on stdout, then serves until SIGTERM or SIGINT.
//
// Fast by design, so the relays cost little of the two cores the benchmark shares: the events
// stay as the bytes of their JSON, never parsed, in the cache files' buffers (no V8 heap, no GC),
// in created_at order; a REQ's [since, until] is two binary searches, answered newest first up
// to `limit` (NIP-01), each EVENT frame the event's bytes between a prefix and a bracket.
//
// Signing a million events takes a while, so they are made once and cached under .bench-cache/
// (gitignored): one child process of this file per core signs a contiguous slice of the
// created_at-ordered events with BulkSigner (test/helpers/bulk-events.ts: ~13,000 events/s a
// core here, as fast as native libsecp256k1 signing, 40x nostr-tools), shaped like public
// traffic (trafficTemplate: notes, reactions, contact lists; ~1.4 kB an event on average).
import { fork } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { BulkSigner, seeded, trafficTemplate } from '../test/helpers/bulk-events.js';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const SPAN = Number(process.env.BENCH_SPAN ?? N);
const RELAYS = Number(process.env.BENCH_RELAYS ?? 4);
const CACHE = join(import.meta.dirname, '..', '.bench-cache', `sync-${N}-${SPAN}-v1`);
const AUTHORS = 5000;
/** Events a relay sends for one REQ at most, whatever the limit asked: a silent cap, as many real relays have (0: none). */
const CAP = Number(process.env.BENCH_RELAY_CAP ?? 0) || Infinity;

interface Meta {
  events: number;
  first: number;
  last: number;
  parts: number;
}

/** created_at of event i: non-decreasing in i, so slices signed apart concatenate in order. */
const createdAt = (first: number, i: number) => first + Math.floor(((i + seeded(i)()) * SPAN) / N);

/** A child's work: events [from, to) into part-k.jsonl (one event a line) and part-k.created (u32 LE). */
function signSlice(k: number, from: number, to: number, first: number): void {
  const signer = new BulkSigner(AUTHORS);
  const rand = seeded(1000 + k);
  const created = new Uint32Array(to - from);
  const fd = openSync(join(CACHE, `part-${k}.jsonl.tmp`), 'w');
  let lines: string[] = [];
  for (let i = from; i < to; i++) {
    const at = createdAt(first, i);
    created[i - from] = at;
    lines.push(JSON.stringify(signer.sign(trafficTemplate(rand, at, signer.pubkeys), i % AUTHORS)));
    if (lines.length === 10_000 || i === to - 1) {
      writeSync(fd, `${lines.join('\n')}\n`);
      lines = [];
    }
  }
  closeSync(fd);
  writeFileSync(join(CACHE, `part-${k}.created`), created);
  renameSync(join(CACHE, `part-${k}.jsonl.tmp`), join(CACHE, `part-${k}.jsonl`));
}

async function generate(): Promise<Meta> {
  mkdirSync(CACHE, { recursive: true });
  const parts = Math.max(1, Math.min(availableParallelism(), Math.ceil(N / 10_000)));
  const first = Math.floor(Date.now() / 1000) - 86_400 - SPAN;
  const t0 = Date.now();
  console.error(`[sync-relays] signing ${N.toLocaleString()} events in ${parts} processes (cached in ${CACHE})`);
  await Promise.all(
    Array.from({ length: parts }, (_, k) => {
      const from = Math.floor((k * N) / parts);
      const to = Math.floor(((k + 1) * N) / parts);
      const child = fork(import.meta.filename, [], { env: { ...process.env, SIGN_SLICE: JSON.stringify({ k, from, to, first }) }, execArgv: ['--import', 'tsx'] });
      return new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`signer ${k} exited ${code}`)))));
    }),
  );
  const meta: Meta = { events: N, first, last: createdAt(first, N - 1), parts };
  writeFileSync(join(CACHE, 'meta.json'), JSON.stringify(meta));
  console.error(`[sync-relays] signed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return meta;
}

/** The cached events: every part's bytes, each event's slice of them, and its created_at. */
function load(meta: Meta) {
  const buffers: Buffer[] = [];
  const part = new Uint8Array(N);
  const start = new Float64Array(N);
  const end = new Float64Array(N);
  const created = new Uint32Array(N);
  let i = 0;
  for (let k = 0; k < meta.parts; k++) {
    const buf = readFileSync(join(CACHE, `part-${k}.jsonl`));
    const times = new Uint32Array(new Uint8Array(readFileSync(join(CACHE, `part-${k}.created`))).buffer);
    buffers.push(buf);
    for (let at = 0, j = 0; at < buf.length; j++, i++) {
      const nl = buf.indexOf(10, at);
      part[i] = k;
      start[i] = at;
      end[i] = nl;
      created[i] = times[j]!;
      at = nl + 1;
    }
  }
  if (i !== N) throw new Error(`the cache holds ${i} events, not ${N}: delete ${CACHE}`);
  return { buffers, part, start, end, created };
}
type Events = ReturnType<typeof load>;

/** First position in `a` (ascending) whose value is >= x. */
function lowerBound(a: Uint32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A relay holding events i ≡ share (mod RELAYS), in created_at order. */
async function startRelay(ev: Events, share: number): Promise<{ url: string; close: () => void }> {
  const ids = new Uint32Array(Math.ceil((N - share) / RELAYS));
  for (let j = 0, i = share; i < N; i += RELAYS, j++) ids[j] = i;
  const created = ids.map((i) => ev.created[i]!);
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (ws: WebSocket) => {
    ws.on('message', (data, isBinary) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        msg = undefined;
      }
      if (isBinary || !Array.isArray(msg)) return ws.send(JSON.stringify(['NOTICE', 'invalid: not a JSON array']));
      if (msg[0] === 'REQ' && typeof msg[1] === 'string') return answer(ws, msg[1], (msg[2] ?? {}) as Record<string, unknown>);
      if (msg[0] === 'CLOSE') return;
      // NEG-OPEN (NIP-77) included: this relay speaks NIP-01 only, and says so as relays without it do.
      ws.send(JSON.stringify(['NOTICE', `unsupported: ${String(msg[0])}`]));
    });
  });
  function answer(ws: WebSocket, sub: string, f: Record<string, unknown>) {
    const since = typeof f.since === 'number' ? f.since : 0;
    const until = typeof f.until === 'number' ? f.until : Number.MAX_SAFE_INTEGER;
    const limit = Math.min(typeof f.limit === 'number' ? f.limit : 500, CAP);
    const lo = lowerBound(created, since);
    const hi = lowerBound(created, until + 1);
    const prefix = Buffer.from(`["EVENT",${JSON.stringify(sub)},`);
    const suffix = Buffer.from(']');
    // One write for the whole answer instead of one or more per frame (ws's socket, corked until
    // the loop is done): 0.6-0.7 s of the relays' CPU against 1.0 s in the known pass at 200,000.
    const socket = (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (let j = hi - 1; j >= Math.max(lo, hi - limit); j--) {
      const i = ids[j]!;
      ws.send(Buffer.concat([prefix, ev.buffers[ev.part[i]!]!.subarray(ev.start[i], ev.end[i]), suffix]), { binary: false });
    }
    ws.send(JSON.stringify(['EOSE', sub]));
    socket.uncork();
  }
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, close: () => server.close() };
}

if (process.env.SIGN_SLICE) {
  const { k, from, to, first } = JSON.parse(process.env.SIGN_SLICE) as { k: number; from: number; to: number; first: number };
  signSlice(k, from, to, first);
} else {
  const meta: Meta = existsSync(join(CACHE, 'meta.json')) ? JSON.parse(readFileSync(join(CACHE, 'meta.json'), 'utf8')) : await generate();
  const events = load(meta);
  const fresh = await Promise.all(Array.from({ length: RELAYS }, (_, r) => startRelay(events, r)));
  const again = await Promise.all(Array.from({ length: RELAYS }, (_, r) => startRelay(events, (r + 1) % RELAYS)));
  process.stdout.write(`${JSON.stringify({ fresh: fresh.map((r) => r.url), again: again.map((r) => r.url), events: N, first: meta.first, last: meta.last })}\n`);
  const stop = () => {
    for (const r of [...fresh, ...again]) r.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
