// The Synchronizer end to end in one process: the real syncRelay workflow (time-skipping test
// server), the real activities over a fresh database, real relays on local sockets. Three relays
// share 50,000 signed events (each event on one to three of them) and serve forged ones too: the
// archive must end with every valid event once, a link for each relay that served it, and nothing
// forged. Then relays that break mid-answer, each beside a good one: the bad one's workflow
// retries with backoff and stores nothing from it; the good one's archives everything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createNetworkActivities } from '../../activities/network.js';
import { insertRelays, type NostrEvent } from '../../activities/db/store.js';
import { syncQueue, type SyncStatus } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import type { Config } from '../../workers/config.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { BulkSigner, randomHex, seeded, trafficTemplate } from '../helpers/bulk-events.js';
import { testConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { query, startLocalRelay, type LocalRelay, type RelayBehaviour } from '../helpers/local-relay.js';
import { cancelAllAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';
import { eventually } from '../helpers/eventually.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
before(async () => {
  [env, t] = await Promise.all([timeSkippingEnv(), freshDatabase()]);
});
after(async () => {
  await env?.teardown();
  await t?.drop();
});

const END_LAG = 300;
// A relay holds ~28,600 events over two days: a 3 h window (~1,800) comes back full and is split,
// so the split path (a full window's events archived, then asked again) runs dozens of times.
const LIMIT = 1000;
/** How long a relay gets to say something: short, so a relay that never finishes fails in seconds. */
const TIMEOUT = '2s';

const secondsNow = async () => Math.floor((await env.currentTimeMs()) / 1000);
const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` with the two workers a deployment has (workflows and database activities on the base
 * queue, relay windows on its clearnet sync queue), the real activities over the test database.
 */
let n = 0;
async function withWorkers(start: number, fn: (taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = `sync-relays-${++n}`;
  const config: Config = testConfig(t.url, {
    BIGBROTR__relay_url__allow_local: 'true',
    BIGBROTR__synchronizer__start: String(start),
    BIGBROTR__synchronizer__end_lag: `${END_LAG}s`,
    BIGBROTR__synchronizer__limit: String(LIMIT),
    BIGBROTR__synchronizer__max_window: '3h',
    BIGBROTR__networks__clearnet__timeout: TIMEOUT,
  });
  const real = createNetworkActivities({ config, network: 'clearnet', db: t.db });
  const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }) });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows: real.syncWindows } });
  await clearnet.runUntil(() => main.runUntil(fn(taskQueue)));
}

async function startSync(taskQueue: string, url: string) {
  return env.client.workflow.start(syncRelay, { taskQueue, workflowId: `sync/${url}`, args: [{ url, network: 'clearnet' }] });
}

const status = (url: string): Promise<SyncStatus> => env.client.workflow.getHandle(`sync/${url}`).query(syncStatus);

/**
 * The phase, or undefined while the workflow has no status handler yet: syncRelay registers it
 * only after its first activity (syncSettings) returns, so a query in that moment fails.
 */
const phaseOf = (url: string): Promise<SyncStatus['phase'] | undefined> =>
  status(url).then(
    (s) => s.phase,
    (err: Error & { cause?: Error }) => {
      if (/did not register a handler for status/.test(err.cause?.message ?? '')) return undefined;
      throw err;
    },
  );


const cancelAll = (urls: string[]) => cancelAllAndWait(env, urls.map((url) => `sync/${url}`));

async function addRelays(urls: string[]) {
  const r = await insertRelays(t.db, urls.map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
  assert.deepEqual(r.rejected, []);
}

/** The archive's links of these relays, as "<event id> <relay url>". */
async function linksOf(urls: string[]): Promise<Set<string>> {
  const { rows } = await t.db.query<{ link: string }>(
    `SELECT encode(event_id, 'hex') || ' ' || relay_url AS link FROM event_relay WHERE relay_url = ANY($1::text[])`,
    [urls],
  );
  return new Set(rows.map((r) => r.link));
}

describe('sync of relays into the archive', () => {
  it('50,000 events over three overlapping relays: each valid event archived once, linked to every relay that served it, nothing forged stored', async () => {
    const started = Date.now();
    const now = await secondsNow();
    // Two days of traffic, all of it older than now - end_lag so that "caught up" means all of it.
    const newest = now - END_LAG - 600;
    const span = 2 * 86_400;
    const rand = seeded(50_000);
    const signer = new BulkSigner(2000);
    const valid = Array.from({ length: 50_000 }, (_, i) => signer.sign(trafficTemplate(rand, newest - Math.floor(rand() * span), signer.pubkeys), i % 2000));
    // The refused kinds a relay passes on: an id that is not the event's hash, a signature that
    // is not the author's, and someone else's archived id on an edited copy of their event.
    const reasons = new Map<NostrEvent, string>(); // each invalid event (the relays serve these objects) -> the reason the archive must give
    const badId = Array.from({ length: 60 }, () => ({ ...signer.sign(trafficTemplate(rand, newest - Math.floor(rand() * span), signer.pubkeys), 1), id: randomHex(rand) }));
    const badSig = Array.from({ length: 60 }, () => {
      const e = signer.sign(trafficTemplate(rand, newest - Math.floor(rand() * span), signer.pubkeys), 2);
      return { ...e, sig: signer.sign({ ...e, content: `${e.content}!` }, 2).sig };
    });
    const forgedFrom = valid.filter((e) => e.kind === 1).slice(0, 30);
    const forged = forgedFrom.map((e) => ({ ...e, content: `${e.content} (edited by a forger)` }));
    for (const e of [...badId, ...forged]) reasons.set(e, 'id-mismatch');
    for (const e of badSig) reasons.set(e, 'bad-signature');
    console.log(`# signed ${valid.length + badId.length + badSig.length} events in ${Date.now() - started} ms`);

    // Each event on one to three relays (bit i of a number 1..7: relay i); a forged copy only on
    // relays that lack the original, so no relay serves two events with one id.
    const holdings: NostrEvent[][] = [[], [], []];
    const expectedLinks = new Set<string>();
    const place = (e: NostrEvent, mask: number) => holdings.forEach((h, i) => mask & (1 << i) && h.push(e));
    const masks = valid.map(() => 1 + Math.floor(rand() * 7));
    valid.forEach((e, i) => place(e, masks[i]!));
    [...badId, ...badSig].forEach((e) => place(e, 1 + Math.floor(rand() * 7)));
    forged.forEach((e, i) => {
      const missing = 7 & ~masks[valid.indexOf(forgedFrom[i]!)]!;
      place(e, missing || 0); // an original on all three relays leaves its forgery nowhere
    });
    const relays = await Promise.all(holdings.map((events) => startLocalRelay({ events })));
    try {
      const urls = relays.map((r) => r.url);
      valid.forEach((e, i) => urls.forEach((url, r) => masks[i]! & (1 << r) && expectedLinks.add(`${e.id} ${url}`)));
      await addRelays(urls);
      const start = newest - span - 1;

      await withWorkers(start, async (taskQueue) => {
        const synced = Date.now();
        await Promise.all(urls.map((url) => startSync(taskQueue, url)));
        try {
          // Nothing waits on a timer until a relay is caught up: the syncs run in real time.
          await eventually('all three relays are caught up', async () => (await Promise.all(urls.map(phaseOf))).every((p) => p === 'caught up'), 240_000);
          console.log(`# three relays synced in ${Date.now() - synced} ms (${relays.map((r) => r.reqs.length).join(', ')} windows)`);

          let splits = 0;
          for (const [r, url] of urls.entries()) {
            const s = await status(url);
            // The windows the relay was asked (it answers every one): what it sent for them is what
            // the archive must have received, the repeats of paged edge seconds included.
            const asked = relays[r]!.reqs.map((filters) => filters[0] as { since: number; until: number; limit: number });
            const expected = { received: 0, invalid: {} as Record<string, number> };
            for (const w of asked) {
              // (narrowed to the window's seconds first: the relay's generic matcher over all of its
              // events, for every window, would cost the test seconds)
              const inWindow = relays[r]!.events.filter((e) => e.created_at >= w.since && e.created_at <= w.until);
              for (const e of query(inWindow, [{ ...w }])) {
                expected.received++;
                const reason = reasons.get(e as NostrEvent);
                if (reason) expected.invalid[reason] = (expected.invalid[reason] ?? 0) + 1;
              }
            }
            assert.equal(s.reqs, asked.length, `${url}: REQs`);
            assert.equal(s.received, expected.received, `${url}: events received`);
            assert.deepEqual(s.invalid, expected.invalid, `${url}: refused events by reason`);
            assert.ok(s.cursor >= now - END_LAG, `${url}: the cursor ${s.cursor} reached now - end_lag`);
            assert.equal(s.gaps, 0);
            splits += s.pages;
          }
          // The first windows (3 h, up to thousands of events) came back full and were paged.
          assert.ok(splits > 0, 'some windows were paged');
        } finally {
          await cancelAll(urls);
        }
      });

      // Exactly the valid events, once each, byte for byte as signed.
      assert.equal(await count(t.db, 'SELECT id FROM event'), valid.length);
      assert.equal(await count(t.db, 'SELECT DISTINCT id FROM event'), valid.length);
      const hex = (list: NostrEvent[]) => list.map((e) => Buffer.from(e.id, 'hex'));
      assert.equal(await count(t.db, 'SELECT 1 FROM event WHERE id = ANY($1::bytea[])', [hex([...badId, ...badSig])]), 0, 'no refused event stored');
      assert.equal(await count(t.db, `SELECT 1 FROM event WHERE content LIKE '%edited by a forger%'`), 0, 'no forgery stored over its original');
      const sample = valid.filter((_, i) => i % 97 === 0);
      const { rows } = await t.db.query<{ id: string; pubkey: string; created_at: string; kind: number; tags: string[][]; content: string; sig: string }>(
        `SELECT encode(id, 'hex') AS id, encode(pubkey, 'hex') AS pubkey, created_at, kind, tags, content, encode(sig, 'hex') AS sig
         FROM event WHERE id = ANY($1::bytea[])`,
        [hex(sample)],
      );
      const stored = new Map(rows.map((r) => [r.id, { ...r, created_at: Number(r.created_at) }]));
      for (const e of sample) assert.deepEqual(stored.get(e.id), { ...e }, `event ${e.id} as signed`);

      // One link per relay that served an event, and none for what a relay served that was refused.
      const links = await linksOf(urls);
      assert.equal(links.size, expectedLinks.size, 'links');
      for (const l of expectedLinks) assert.ok(links.has(l), `missing link ${l}`);
      assert.equal(await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = ANY($1::text[])', [urls]), expectedLinks.size);
      console.log(`# whole test ${Date.now() - started} ms`);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });

  // A relay that breaks every window: the activity fails, Temporal retries it with growing
  // intervals (10 s, 20 s, 40 s...: skipped here by the test server), the workflow's cursor stays
  // where it was, nothing of that relay is stored; the good relay beside it is not held up.
  const broken: Array<[RelayBehaviour, RegExp]> = [
    ['huge-frame', /frame over the size cap/],
    ['no-eose', /no expected answer .* within 2000 ms/],
    ['close-mid-window', /closed the connection|connection lost/],
    ['malformed', /no expected answer .* within 2000 ms/],
  ];
  for (const [behaviour, failure] of broken) {
    it(`a relay with behaviour ${behaviour} is retried with backoff; the good relay beside it archives everything`, async () => {
      const now = await secondsNow();
      const rand = seeded(behaviour.length);
      const signer = new BulkSigner(50);
      const events = Array.from({ length: 3000 }, (_, i) => signer.sign(trafficTemplate(rand, now - 3600 - Math.floor(rand() * 86_400), signer.pubkeys), i % 50));
      const [good, bad] = (await Promise.all([startLocalRelay({ events }), startLocalRelay({ behaviour, events })])) as [LocalRelay, LocalRelay];
      try {
        await addRelays([good.url, bad.url]);
        const start = now - 3600 - 86_400 - 1;
        await withWorkers(start, async (taskQueue) => {
          const [, badHandle] = await Promise.all([startSync(taskQueue, good.url), startSync(taskQueue, bad.url)]);
          try {
            await eventually('the good relay is caught up', async () => (await phaseOf(good.url)) === 'caught up', 60_000);
            // Each attempt of the bad relay's window, as the server reports it: when it started and
            // when it failed (by start time: an attempt is seen again while it runs and after).
            const attempts = new Map<number, number | undefined>();
            let lastFailure = '';
            let inBackoff = false;
            await eventually(
              'four attempts of the bad relay\'s window have failed',
              async () => {
                const p = (await badHandle.describe()).raw.pendingActivities?.[0];
                const started = msOf(p?.lastStartedTime);
                if (!p || started === undefined) return false;
                assert.equal(p.activityType?.name, 'syncWindows');
                const failed = msOf(p.lastAttemptCompleteTime);
                inBackoff = failed !== undefined && failed >= started;
                attempts.set(started, inBackoff ? failed : undefined);
                lastFailure = p.lastFailure?.message ?? lastFailure;
                return inBackoff && attempts.size >= 4;
              },
              60_000,
              // The retries wait on the server's timers: the test server skips them (5 s a tick,
              // less than the shortest backoff, so that no attempt goes unseen).
              () => env.sleep('5s'),
            );
            assert.match(lastFailure, failure);
            // Backing off: 10 s after the first failure, then twice as long each time (the
            // workflow's retry policy), on the test server's clock.
            const seen = [...attempts.entries()].sort(([a], [b]) => a - b);
            const gaps = seen.slice(1).map(([started], i) => (started - seen[i]![1]!) / 1000);
            assert.equal(gaps.length, 3, `attempts seen: ${JSON.stringify(seen)}`);
            gaps.forEach((gap, i) => assert.ok(Math.abs(gap - 10 * 2 ** i) < 1, `retry ${i + 1} came ${gap} s after the failure before it (expected ${10 * 2 ** i} s)`));

            const s = await status(bad.url);
            assert.equal(s.phase, 'syncing');
            assert.equal(s.cursor, start - 1, 'the bad relay\'s cursor has not moved');
            assert.equal(s.windows, 0, 'no window of the bad relay completed');
          } finally {
            // Cancelled between attempts (the loop above ends there): see cancelAll.
            await cancelAll([bad.url, good.url]);
          }
        });
        const ids = events.map((e) => Buffer.from(e.id, 'hex'));
        assert.equal(await count(t.db, 'SELECT 1 FROM event WHERE id = ANY($1::bytea[])', [ids]), events.length, 'the good relay\'s events are all archived');
        assert.equal((await linksOf([good.url])).size, events.length);
        assert.equal((await linksOf([bad.url])).size, 0, 'nothing is linked to the bad relay: no window of it was archived');
      } finally {
        await Promise.all([good.stop(), bad.stop()]);
      }
    });
  }
});

/** A protobuf timestamp in milliseconds. */
function msOf(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  return t?.seconds == null ? undefined : Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6;
}
