// Reads relays into the archive as a worker does (the Synchronizer's syncWindows activity, all
// relays at once), in a process of its own started with the worker's heap cap, and prints one JSON
// line: each relay's result or error, and the heap's peak. An out-of-memory death is the process
// dying, which the test sees.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNetworkActivities } from '../../activities/network.js';
import type { SpanResult } from '../../common/index.js';
import { localRelayConfig } from './config.js';
import { createPool } from '../../activities/db/db.js';

const { databaseUrl, relays, since, until, limit } = JSON.parse(process.argv[2]!) as {
  databaseUrl: string; relays: string[]; since: number; until: number; limit: number;
};
const db = createPool(databaseUrl, { max: 10 });
const base = localRelayConfig(databaseUrl);
// Several relays at once on two cores: more than a local relay's 700 ms to answer.
const config = { ...base, networks: { ...base.networks, clearnet: { ...base.networks.clearnet, timeout: 10_000 } } };
const acts = createNetworkActivities({ config, network: 'clearnet', db });
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
const width = until - since + 1;
const results = await Promise.allSettled(relays.map((url): Promise<SpanResult> =>
  new MockActivityEnvironment().run(acts.syncWindows, { url, network: 'clearnet' as const, cursor: since - 1, windowSec: width, target: until, limit, maxWindowSec: width })));
clearInterval(sample);
await db.end();
console.log(JSON.stringify({
  peakHeapMb: Math.round(peak / 1048576),
  results: results.map((r, i) => (r.status === 'fulfilled'
    ? { url: relays[i], ok: true, invalid: r.value.invalid, received: r.value.received, cursor: r.value.cursor }
    : { url: relays[i], ok: false, error: String((r.reason as Error)?.message ?? r.reason) })),
}));
