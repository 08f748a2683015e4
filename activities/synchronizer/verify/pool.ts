// A pool of verifier threads (thread.ts): a batch is cut into chunks, each chunk goes to the
// thread with the least work queued, and the verdicts come back in the batch's order. A thread
// that dies fails its chunks (the activity is retried) and is replaced at the next batch.
import { Worker } from 'node:worker_threads';
import type { NostrEvent } from '../../db/store.js';
import type { BackendName } from './backend.js';
import type { Job, Reply } from './thread.js';

/** A chunk smaller than this is not worth a message: ~3 ms of native verifying against ~50 µs of postMessage. */
const MIN_CHUNK = 50;

interface Pending {
  resolve: (v: Uint8Array) => void;
  reject: (err: Error) => void;
  size: number;
}

class VerifierThread {
  readonly ready: Promise<string>;
  queued = 0; // events sent and not answered
  dead: Error | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(prefer: BackendName | undefined) {
    this.worker = spawnThread(prefer);
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: Reply) => {
        if ('ready' in m) {
          if (this.queued === 0) this.worker.unref();
          return resolve(m.ready);
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.settled(p.size);
        p.resolve(m.verdicts);
      });
      const fail = (err: Error) => {
        this.dead ??= err;
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.queued = 0;
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`a verifier thread exited (code ${code})`)));
    });
    this.ready.catch(() => {}); // reported to whoever awaits ready or a batch
  }

  check(events: NostrEvent[]): Promise<Uint8Array> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    if (this.queued === 0) this.worker.ref();
    this.queued += events.length;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, size: events.length });
      this.worker.postMessage({ id, events } satisfies Job);
    });
  }

  // An idle pool never keeps the process alive: a thread is ref'd while it starts or has work.
  // (Adding a 'message' listener refs a worker again, so this is not done once at the start.)
  private settled(size: number) {
    this.queued -= size;
    if (this.queued === 0) this.worker.unref();
  }

  async close(): Promise<void> {
    this.dead ??= new Error('the verifier pool is closed');
    await this.worker.terminate();
  }
}

/**
 * The thread runs thread.ts. Under tsx (how this project runs), a worker thread does not inherit
 * the main thread's TypeScript loader in Node 20, so the thread registers tsx before importing it
 * (which costs each thread ~25 MB of RSS: tsx's loader runs in a thread of its own).
 */
function spawnThread(prefer: BackendName | undefined): Worker {
  const workerData = { prefer };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./thread.js', import.meta.url), { workerData }); // compiled to JS
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./thread.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData, name: 'bigbrotr-verifier' });
}

export class VerifierPool {
  private threads: VerifierThread[];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly prefer?: BackendName,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a verifier pool needs at least one thread (got ${size})`);
    this.threads = Array.from({ length: size }, () => new VerifierThread(prefer));
  }

  /** Waits until every thread has loaded its verifier; returns what they use. */
  async ready(): Promise<string> {
    const names = await Promise.all(this.threads.map((t) => t.ready));
    return names[0]!;
  }

  /** One verdict per event (backend.ts: OK, ID_MISMATCH, BAD_SIGNATURE), in the events' order. */
  async check(events: NostrEvent[]): Promise<Uint8Array> {
    if (this.closed) throw new Error('the verifier pool is closed');
    if (events.length === 0) return new Uint8Array(0);
    this.threads = this.threads.map((t) => (t.dead ? new VerifierThread(this.prefer) : t));
    const chunks = Math.max(1, Math.min(this.threads.length, Math.floor(events.length / MIN_CHUNK)));
    const size = Math.ceil(events.length / chunks);
    const parts = [];
    for (let start = 0; start < events.length; start += size) {
      const thread = this.threads.reduce((a, b) => (b.queued < a.queued ? b : a));
      parts.push(thread.check(events.slice(start, start + size)));
    }
    const verdicts = new Uint8Array(events.length);
    let at = 0;
    for (const part of await Promise.all(parts)) {
      verdicts.set(part, at);
      at += part.length;
    }
    return verdicts;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.close()));
  }
}
