// The hostile-relay zoo in a process of its own (so that the reader's heap, measured in another
// process, holds only what the reader keeps): starts the relays, prints one JSON line naming each
// relay's URL and what it holds, and runs until its stdin closes.
import { finalizeEvent, generateSecretKey, type Event } from 'nostr-tools/pure';
import { startHostileRelay, type HostileRelay } from './hostile-relay.js';

export const ZOO_BASE = 1_600_000_000;
export const BIG_BYTES = Math.floor(3.9 * 1024 * 1024);

export interface ZooRelay {
  name: string;
  url: string;
  /** Events it serves that the archive must take, and the events it serves that are over the caps. */
  good: number;
  tooLarge: number;
}

const sk = generateSecretKey();
const sign = (created_at: number, content: string, tags: string[][] = []) => finalizeEvent({ kind: 1, created_at, tags, content }, sk);
/** `n` small events at one a second from `from`. */
const small = (from: number, n: number, label: string) => Array.from({ length: n }, (_, i) => sign(from + i, `${label} ${i}`));

const bigContent = 'x'.repeat(BIG_BYTES - 400); // one string shared by every big event
const bigs = (from: number, n: number) => Array.from({ length: n }, (_, i) => sign(from + i, bigContent));

async function main() {
  const bigPaced = Number(process.argv[2] ?? 300); // big events of the first paced relay
  const bigEach = Number(process.argv[3] ?? 30); // ... and of each of the nine others
  const relays: HostileRelay[] = [];
  const out: ZooRelay[] = [];
  const add = async (name: string, good: number, tooLarge: number, o: Parameters<typeof startHostileRelay>[0]) => {
    const r = await startHostileRelay(o);
    relays.push(r);
    out.push({ name, url: r.url, good, tooLarge });
  };
  const shared = small(ZOO_BASE, 500, 'small'); // the paced relays' own small events (the same on each)
  const bigAll = bigs(ZOO_BASE + 1000, bigPaced);
  for (let i = 0; i < 10; i++) {
    const big = i === 0 ? bigAll : bigAll.slice(0, bigEach);
    await add(`paced-${i}`, shared.length, big.length, { events: shared, big, paceMs: 30 });
  }
  await add('unpaced', shared.length, bigEach, { events: shared, big: bigAll.slice(0, bigEach) });
  const manyTags: Event = sign(ZOO_BASE + 900, 'many tags', Array.from({ length: 100_000 }, (_, i) => ['t', String(i % 10)]));
  await add('tags-100k', 50, 1, { events: small(ZOO_BASE + 2000, 50, 'beside many tags'), big: [manyTags] });
  await add('forever', 0, 0, { events: small(ZOO_BASE + 3000, 20, 'forever'), forever: true });
  await add('honest', 2000, 0, { events: small(ZOO_BASE, 2000, 'honest') });
  console.log(JSON.stringify(out));
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await Promise.all(relays.map((r) => r.stop()));
    process.exit(0);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
