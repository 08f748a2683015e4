// The archive's verifier: per event, ok / id-mismatch / bad-signature. Either on the calling
// thread or on a pool of worker threads (BIGBROTR_VERIFY_THREADS: 0 = the calling thread; unset =
// the default below). The fastest verifier that loads is used (backend.ts), said once in the log.
import { availableParallelism } from 'node:os';
import { log } from '@temporalio/activity';
import type { NostrEvent } from '../../db/store.js';
import { loadBackend, type BackendName } from './backend.js';
import { VerifierPool } from './pool.js';

export { BAD_SIGNATURE, ID_MISMATCH, OK, VERDICT_REASONS, eventId, idForm, nip01EventId, type Verdict } from './backend.js';

export interface Verifier {
  /** The library in use and where it runs, for the log and the benchmarks. */
  description: string;
  /** One verdict per event, in order (OK, ID_MISMATCH, BAD_SIGNATURE). */
  check(events: NostrEvent[]): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function createVerifier(opts: { threads: number; prefer?: BackendName }): Promise<Verifier> {
  if (opts.threads === 0) {
    const backend = await loadBackend({ prefer: opts.prefer });
    return {
      description: `${backend.description}, on the calling thread`,
      async check(events) {
        const verdicts = new Uint8Array(events.length);
        for (let i = 0; i < events.length; i++) verdicts[i] = backend.check(events[i]!);
        return verdicts;
      },
      async close() {},
    };
  }
  const pool = new VerifierPool(opts.threads, opts.prefer);
  try {
    const description = await pool.ready();
    return { description: `${description}, on ${opts.threads} worker thread(s)`, check: (events) => pool.check(events), close: () => pool.close() };
  } catch (err) {
    await pool.close();
    throw err;
  }
}

/**
 * Threads from BIGBROTR_VERIFY_THREADS, else the default: the calling thread on two cores or
 * fewer, else one thread per core but one (the main thread keeps parsing what relays send and
 * talking to PostgreSQL). Measured by bench:sync on two cores with PostgreSQL on the same
 * machine (200,000 new events): the calling thread 5,700 events/s, 2 threads 5,800, 1 thread
 * 5,300, i.e. equal within the noise, because the machine is saturated (PostgreSQL takes most of
 * a core) and threads add work (each batch is copied to them) without adding a core; the calling
 * thread costs ~150 MB less RSS (two threads' heaps and the copies). With spare cores the pool
 * takes the signature checks (~65 µs an event, most of the main thread's work) off the event loop.
 */
export function verifyThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BIGBROTR_VERIFY_THREADS;
  if (raw === undefined || raw === '') return availableParallelism() <= 2 ? 0 : availableParallelism() - 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`BIGBROTR_VERIFY_THREADS=${raw}: expected 0 (the calling thread) or a number of threads`);
  return n;
}

let shared: Promise<Verifier> | undefined;
/** The process's verifier, made at first use and logged once. */
export function sharedVerifier(): Promise<Verifier> {
  shared ??= createVerifier({ threads: verifyThreads() }).then(
    (v) => {
      // Through the activity's logger (the process's format) when an activity made it; else (a benchmark) plainly.
      try {
        log.info('event verifier', { verifier: v.description });
      } catch {
        console.log(`[bigbrotr] event verifier: ${v.description}`);
      }
      return v;
    },
    (err: unknown) => {
      shared = undefined; // the next batch tries again
      throw err;
    },
  );
  return shared;
}
