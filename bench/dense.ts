// `npm run bench:dense`: what a dense second costs and what it yields (issue 24). A local relay
// holds 20,000 events over a day and one second of 1,200 kind-1 events, each by its own author;
// the Synchronizer's activities read it from scratch, as its workflow runs them, on a fresh
// database each case:
//   capped at 50 (advertised), NIP-45 COUNT, alone;
//   the same, the second's 1,200 events also archived from two other relays;
//   capped at 50, no COUNT, alone; and with the two other relays' copies;
//   serving up to 6,000, its NIP-11 silent on caps, alone.
// Prints per case: events the relay holds and the archive links to it, gap rows (received,
// missing), REQs and COUNTs the relay was asked, and events received per event stored.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNetworkActivities } from '../activities/network.js';
import { insertRelays, type NostrEvent } from '../activities/db/store.js';
import { archiveEvents } from '../activities/synchronizer/archive.js';
import type { RelayKnowledge, SpanResult } from '../common/index.js';
import { BulkSigner } from '../test/helpers/bulk-events.js';
import { localRelayConfig } from '../test/helpers/config.js';
import { databaseServer } from '../test/helpers/database-server.js';
import { count, freshDatabase } from '../test/helpers/db.js';
import { startLocalRelay, type LocalRelayOptions } from '../test/helpers/local-relay.js';

const say = (m: string) => console.log(`[bench:dense] ${m}`);
const DENSE = Number(process.env.BENCH_DENSE ?? 1200);
const SPREAD = Number(process.env.BENCH_SPREAD ?? 20_000);

const end = Math.floor(Date.now() / 1000) - 3600;
const start = end - 86_400;
const second = start + 43_200 + 1; // between two of the spread events' seconds (4.32 s apart)
const spreadSigner = new BulkSigner(200);
const denseSigner = new BulkSigner(DENSE); // one author each
const spread: NostrEvent[] = Array.from({ length: SPREAD }, (_, i) =>
  spreadSigner.sign({ kind: 1, created_at: start + Math.floor((i * 86_400) / SPREAD), tags: [], content: `note ${i}` }, i % 200));
const dense: NostrEvent[] = Array.from({ length: DENSE }, (_, i) => denseSigner.sign({ kind: 1, created_at: second, tags: [], content: `dense ${i}` }, i));
const events = [...spread, ...dense];

interface Case {
  name: string;
  relay: LocalRelayOptions;
  copies: boolean;
}
const capped = (count: boolean): LocalRelayOptions => ({
  maxLimit: 50,
  nip45: count,
  nip11: { supported_nips: count ? [1, 11, 45] : [1, 11], limitation: { max_limit: 50 } },
});
const cases: Case[] = [
  { name: 'cap 50, COUNT, alone', relay: capped(true), copies: false },
  { name: 'cap 50, COUNT, copies on 2 other relays', relay: capped(true), copies: true },
  { name: 'cap 50, no COUNT, alone', relay: capped(false), copies: false },
  { name: 'cap 50, no COUNT, copies on 2 other relays', relay: capped(false), copies: true },
  { name: 'serves 6,000, NIP-11 silent on caps', relay: { maxLimit: 6000 }, copies: false },
];

const server = await databaseServer();
try {
  for (const c of cases) {
    const t = await freshDatabase();
    const relay = await startLocalRelay({ events, ...c.relay });
    try {
      const others = ['ws://127.0.0.1:1/other-a', 'ws://127.0.0.1:1/other-b'];
      await insertRelays(t.db, [relay.url, ...others].map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
      if (c.copies) for (const url of others) await archiveEvents(t.db, url, dense, 1);
      const acts = createNetworkActivities({ config: localRelayConfig(t.url), network: 'clearnet', db: t.db });
      const env = new MockActivityEnvironment();
      let q = { url: relay.url, network: 'clearnet' as const, cursor: start - 1, windowSec: 3600, target: end, limit: 500, denseLimit: 8000, maxWindowSec: 365 * 86_400, fresh: true, relay: undefined as RelayKnowledge | undefined };
      let received = 0;
      const began = Date.now();
      while (q.cursor < end) {
        const r: SpanResult = await env.run(acts.syncWindows, q);
        received += r.received;
        q = { ...q, cursor: r.cursor, windowSec: r.windowSec, relay: r.relay, fresh: false };
      }
      const linked = await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [relay.url]);
      const { rows: gaps } = await t.db.query<{ received: number; missing: number | null }>('SELECT received, missing FROM sync_gap WHERE relay_url = $1', [relay.url]);
      say(`${c.name}: holds ${events.length}, linked ${linked} (the dense second: ${linked - SPREAD} of ${DENSE}); ` +
        `gaps ${gaps.length}${gaps.map((g) => ` [received ${g.received}, missing ${g.missing ?? 'unknown'}]`).join('')}; ` +
        `REQs ${relay.reqs.length}, COUNTs ${relay.countsAsked}, ids asked ${relay.idsRequested}; ` +
        `received per linked ${(received / Math.max(1, linked)).toFixed(3)}; ${((Date.now() - began) / 1000).toFixed(1)} s`);
    } finally {
      await relay.stop();
      await t.drop();
    }
  }
} finally {
  await server.stop();
}
process.exit(0); // the verifier's threads, if any, would keep it alive
