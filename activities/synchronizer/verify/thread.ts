// A verifier thread (pool.ts): loads the verifier once, says which, then answers each batch of
// events with one verdict a byte, in order.
import { parentPort, workerData } from 'node:worker_threads';
import type { NostrEvent } from '../../db/store.js';
import { loadBackend, type BackendName } from './backend.js';

export interface Job {
  id: number;
  events: NostrEvent[];
}
export type Reply = { ready: string } | { id: number; verdicts: Uint8Array };

const port = parentPort;
if (!port) throw new Error('activities/synchronizer/verify/thread.ts runs as a worker thread (see pool.ts)');
const backend = await loadBackend({ prefer: (workerData as { prefer?: BackendName } | undefined)?.prefer });
port.postMessage({ ready: backend.description } satisfies Reply);
port.on('message', ({ id, events }: Job) => {
  const verdicts = new Uint8Array(events.length);
  for (let i = 0; i < events.length; i++) verdicts[i] = backend.check(events[i]!);
  // The verdicts' memory moves to the main thread instead of being copied.
  port.postMessage({ id, verdicts } satisfies Reply, [verdicts.buffer]);
});
