// The worker process's V8 heap cap. Without one, V8 lets the garbage of the sync windows pile up
// to hundreds of MB between collections (the worker's RSS swung between 340 and 610 MB in
// bench:sync, with about 30 MB live after each collection); with 256 MB the RSS stays near
// 320 MB, flat. What is live at once is bounded by design: `synchronizer.relays_in_flight` relays
// per network, one window each, each holding a chunk of at most 1,000 events. The npm scripts that run workers
// (`start`, `start-workers`) pass the flag; BIGBROTR_WORKER_HEAP_MB changes it.
import { getHeapStatistics } from 'node:v8';

export const DEFAULT_WORKER_HEAP_MB = 256;

/** The node flags of a worker process, for what starts one without npm (the benchmark, tests). */
export function workerNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return [`--max-old-space-size=${env.BIGBROTR_WORKER_HEAP_MB || DEFAULT_WORKER_HEAP_MB}`];
}

/** This process's heap limit in MB (old space and young generation), for the start-up log. */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
}
