// Local relays for bench/monitor.ts, in a process of their own (so the worker's RSS and CPU are
// measured apart from theirs): BENCH_RELAYS relays on 127.0.0.1 (default 1,000), of which 20% are
// unhealthy, split between dead (a closed port: nothing listening), silent (the WebSocket opens,
// nothing is ever answered) and slow (every answer after BENCH_SLOW_MS); the other 80% are good,
// serving a NIP-11 document and a few events. Prints `{ good, slow, silent, dead }` (arrays of
// URLs) as one line of JSON on stdout, then waits for SIGTERM or SIGINT and stops them.
import { createServer, type AddressInfo } from 'node:net';
import { generateSecretKey } from 'nostr-tools/pure';
import { startLocalRelay, type LocalRelay } from '../test/helpers/local-relay.js';
import { signed } from '../test/helpers/nostr.js';

const N = Number(process.env.BENCH_RELAYS ?? 1000);
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 4000);
const unhealthy = Math.round(N * 0.2);
const dead = Math.round(unhealthy / 3);
const silent = Math.round(unhealthy / 3);
const slow = unhealthy - dead - silent;
const good = N - unhealthy;

const sk = generateSecretKey();
const events = [1, 2, 3].map((i) => signed({ kind: 1, content: `bench note ${i}`, created_at: 1_700_000_000 + i }, sk));
const nip11 = (i: number) => ({
  name: `bench relay ${i}`,
  description: 'a local relay for bench:monitor',
  supported_nips: [1, 11, 42],
  software: 'bench',
  version: '1.0',
  limitation: { max_limit: 500, max_subscriptions: 20, auth_required: false },
});

const relays: LocalRelay[] = [];
const urls = { good: [] as string[], slow: [] as string[], silent: [] as string[], dead: [] as string[] };
for (let i = 0; i < good; i++) {
  const r = await startLocalRelay({ behaviour: 'good', events, nip11: nip11(i), serverHeader: 'bench/1.0' });
  relays.push(r);
  urls.good.push(r.url);
}
for (let i = 0; i < slow; i++) {
  const r = await startLocalRelay({ behaviour: 'slow', delayMs: SLOW_MS, events, nip11: nip11(good + i) });
  relays.push(r);
  urls.slow.push(r.url);
}
for (let i = 0; i < silent; i++) {
  const r = await startLocalRelay({ behaviour: 'silent' });
  relays.push(r);
  urls.silent.push(r.url);
}
// Dead: a port that was free a moment ago, closed again, distinct from every live relay's.
const live = new Set(relays.map((r) => r.port));
while (urls.dead.length < dead) {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  const url = `ws://127.0.0.1:${port}`;
  if (!live.has(port) && !urls.dead.includes(url)) urls.dead.push(url);
}

process.stdout.write(`${JSON.stringify(urls)}\n`);

const stop = async () => {
  await Promise.all(relays.map((r) => r.stop()));
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
