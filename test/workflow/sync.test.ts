import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { syncSpan } from '../../activities/synchronizer/sync-span.js';
import { syncQueue, type SpanQuery, type SpanResult, type SyncSettings, type SyncStatus } from '../../common/index.js';
import { syncRelay, syncStatus } from '../../workflows/index.js';
import { simEvents, simulatedRelay } from '../helpers/simulated-relay.js';
import { cancelAndWait, timeSkippingEnv, workflowBundle } from '../helpers/temporal.js';

/** `burst` events over the 30 seconds from START + 5000, and `spread` more one every `every` seconds from START. */
function burstAndSpread(burst: number, spread: number, every: number): number[] {
  return [...Array.from({ length: burst }, (_, i) => START + 5000 + (i % 30)), ...Array.from({ length: spread }, (_, i) => START + i * every)];
}

/** The REQs asked cover every second of [from, to]. */
function assertCovered(asked: Array<[number, number]>, from: number, to: number) {
  const sorted = [...asked].sort((a, b) => a[0] - b[0]);
  let next = from;
  for (const [since, until] of sorted) if (since <= next && until >= next) next = until + 1;
  assert.ok(next > to, `second ${next} was never asked`);
}

let env: TestWorkflowEnvironment;
before(async () => (env = await timeSkippingEnv()));
after(() => env?.teardown());

const LIMIT = 10;
/**
 * Each test's archive starts 20,000 s before the test server's clock (which earlier tests moved
 * forward): a few dozen windows, not 56 years of them.
 */
let START = 0;
let NOW = 0;
const settings = (): SyncSettings => ({
  start: START, endLagSec: 300, limit: LIMIT, maxWindowSec: 1000, intervalMs: 900_000, listed: true, priority: false, gapRetryMs: 86_400_000, refusedRetryMs: 86_400_000,
});
beforeEach(async () => {
  NOW = Math.floor((await env.currentTimeMs()) / 1000);
  START = NOW - 20_000;
});

/**
 * A relay holding events at these created_at values, simulated (test/helpers/simulated-relay.ts)
 * and read through the real span and proof logic: the test sees every REQ asked.
 */
function relay(createdAts: number[], sim: { cap?: number; untilExclusive?: boolean; kinds?: (i: number) => number; authors?: (i: number) => string } = {}) {
  const relay = simulatedRelay(simEvents(createdAts, { kinds: sim.kinds, authors: sim.authors }), sim);
  const r = {
    sim: relay,
    /** [since, until] of every REQ. */
    get asked(): Array<[number, number]> {
      return relay.reqs.map((f) => [f.since, f.until]);
    },
    get served() {
      return relay.served;
    },
    /** What the settings say of the relay (the test changes it). */
    listed: true,
    limit: LIMIT,
    denseLimit: undefined as number | undefined,
    priority: false,
    maxWindowSec: 1000,
    firstRunId: '',
    /** Windows to fail before answering (a relay that is down for a while). */
    failures: 0,
    /** When each failed attempt came, in the test server's time (seconds). */
    failedAt: [] as number[],
    /** How long each activity reads windows (real time; the test server's clock does not move while it runs). */
    spanMs: 1000,
    /** The syncWindows activities, each with the cursor it started from. */
    spans: [] as number[],
    activities: {
      async syncSettings(): Promise<SyncSettings> {
        return { ...settings(), maxWindowSec: r.maxWindowSec, listed: r.listed, priority: r.priority, intervalMs: r.priority ? 60_000 : 900_000, limit: r.limit, denseLimit: r.denseLimit };
      },
      async syncWindows(q: SpanQuery): Promise<SpanResult> {
        if (r.failures > 0) {
          r.failures--;
          r.failedAt.push(Math.floor((await env.currentTimeMs()) / 1000));
          throw new Error('refused: the relay is down');
        }
        r.spans.push(q.cursor);
        return syncSpan(q, relay.io, r.spanMs);
      },
    },
  };
  return r;
}

let n = 0;
async function run(
  createdAts: number[], check: (r: ReturnType<typeof relay>, workflowId: string) => Promise<void>, setup?: (r: ReturnType<typeof relay>) => void,
  sim: Parameters<typeof relay>[1] = {},
) {
  const r = relay(createdAts, sim);
  setup?.(r);
  const taskQueue = `sync-${++n}`;
  const main = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { syncSettings: r.activities.syncSettings } });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows: r.activities.syncWindows } });
  const workflowId = `sync/wss://r${n}.example`;
  await clearnet.runUntil(() =>
    main.runUntil(async () => {
      r.firstRunId = (await env.client.workflow.start(syncRelay, { taskQueue, workflowId, args: [{ url: `wss://r${n}.example`, network: 'clearnet' }] })).firstExecutionRunId;
      try {
        await check(r, workflowId);
      } finally {
        await cancelAndWait(env, workflowId); // also after a failed check: a workflow left running would hold the test server's clock
      }
    }),
  );
}

describe('sync workflow', () => {
  it('a dense stretch is paged until every window is shown complete; nothing is missed; the cursor reaches now - end_lag', async () => {
    // 200 events: a burst of 150 over 30 seconds, and 50 spread over the rest
    const events = burstAndSpread(150, 50, 97);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(r.served.size, events.length, 'every event was fetched');
      assert.equal(s.gaps, 0);
      assert.ok(s.pages > 0, 'the burst was paged');
      assert.ok(s.cursor >= NOW - settings().endLagSec, `cursor ${s.cursor}`);
      assertCovered(r.asked, START, s.cursor);
    });
  });

  it('one second holding more than the relay sends, one kind, one author: a recorded gap naming the second, not looped on', async () => {
    const events = Array.from({ length: 25 }, () => START + 2000);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(s.denseSeconds, 1);
      assert.deepEqual([...r.sim.gaps.keys()], [START + 2000]);
      assert.equal(r.sim.gaps.get(START + 2000)!.received, LIMIT);
      assert.ok(s.gaps >= 1);
      assert.ok(s.cursor > START + 2000);
    });
  });

  it('a recorded gap is looked at again after gap_retry: the relay, since upgraded to NIP-77, fills it', async () => {
    const events = Array.from({ length: 25 }, () => START + 2000);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const h = env.client.workflow.getHandle(id);
      assert.equal((await h.query(syncStatus)).gaps, 1);
      assert.equal(r.served.size, LIMIT);
      r.sim.nip77 = true;
      await env.sleep('25h');
      const s = await h.query(syncStatus);
      assert.equal(r.served.size, 25, 'the rest of the second, fetched');
      assert.equal(r.sim.gaps.get(START + 2000)!.filled, true);
      assert.equal(s.gapsFilled, 1);
    });
  });

  it('a dense second of several kinds is read kind by kind: every event fetched, the second still recorded (other kinds cannot be excluded)', async () => {
    const events = Array.from({ length: 25 }, () => START + 2000);
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.served.size, 25, 'each kind fits in one answer');
        assert.match(r.sim.gaps.get(START + 2000)!.reason, /kind/);
        assert.ok(s.cursor > START + 2000);
      },
      undefined,
      { kinds: (i) => i % 4 },
    );
  });

  for (const cap of [3, 4, 7]) {
    it(`a relay capping silently at ${cap} (below the limit of ${LIMIT}): every event archived`, async () => {
      // a dense stretch of two events a second (a second holding the cap itself could hide more: it is a gap)
      const events = burstAndSpread(60, 40, 301);
      await run(
        events,
        async (r, id) => {
          await env.sleep('10m');
          const s = await env.client.workflow.getHandle(id).query(syncStatus);
          assert.equal(r.served.size, events.length, 'every event was fetched');
          assert.equal(s.gaps, 0);
          assert.equal(s.relay.largestAnswer, cap, 'the cap was learned');
          assert.ok(s.cursor >= NOW - settings().endLagSec);
        },
        undefined,
        { cap },
      );
    });
  }

  it('a relay that reads `until` as exclusive: the edge seconds are not lost, and the quirk is learned', async () => {
    // events on the edges of windows: every second from START+100 to START+400 holds one
    const events = [...Array.from({ length: 300 }, (_, i) => START + 100 + i), ...Array.from({ length: 8 }, () => START + 9000)];
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.served.size, events.length, 'every event was fetched');
        assert.equal(s.relay.untilExclusive, true);
      },
      undefined,
      { untilExclusive: true },
    );
  });

  it('a relay that ignores since/until: not archivable, said in its status, looked at again after refused_retry', async () => {
    await run(
      burstAndSpread(0, 40, 400),
      async (r, id) => {
        await env.sleep('5m');
        const h = env.client.workflow.getHandle(id);
        const s = await h.query(syncStatus);
        assert.equal(s.phase, 'not archivable');
        assert.match(s.notArchivable ?? '', /outside their since\/until/);
        const asked = r.asked.length;
        await env.sleep('2h');
        assert.ok(r.asked.length <= asked + 2, 'no hammering while it waits');
      },
      (r) => (r.sim.ignoresTime = true),
    );
  });

  it('a relay that lowers its cap between two rounds: the first window of the round is audited, and nothing is missed', async () => {
    const first = Array.from({ length: 40 }, (_, i) => START + i * 400);
    await run(first, async (r, id) => {
      await env.sleep('5m');
      const h = env.client.workflow.getHandle(id);
      assert.equal((await h.query(syncStatus)).phase, 'caught up');
      assert.equal(r.served.size, 40);
      // while it sleeps: 30 new events in the last minutes, and a cap of 4 now
      const now = Math.floor((await env.currentTimeMs()) / 1000);
      r.sim.events.push(...simEvents(Array.from({ length: 30 }, (_, i) => now - 200 - i * 3)).map((e, i) => ({ ...e, id: (1000 + i).toString(16).padStart(64, '0') })));
      r.sim.cap = 4;
      await env.sleep('16m');
      await env.sleep('10m');
      const s = await h.query(syncStatus);
      assert.equal(r.served.size, 70, 'the new events, all of them');
      assert.ok(s.capLowered >= 1 || s.relay.largestAnswer <= 4, `the lower cap was seen (largest answer ${s.relay.largestAnswer})`);
    });
  });

  it('caught up, it sleeps and looks again each interval', async () => {
    await run([START + 1500], async (r, id) => {
      await env.sleep('5m');
      const before = r.asked.length;
      assert.equal((await env.client.workflow.getHandle(id).query(syncStatus)).phase, 'caught up');
      await env.sleep('31m');
      assert.ok(r.asked.length >= before + 2, 'two more looks in two intervals');
    });
  });

  it('a priority relay looks again every minute once caught up, the others every interval', async () => {
    await run([START + 1500], async (r, id) => {
      r.priority = true;
      await env.sleep('5m');
      const before = r.asked.length;
      await env.sleep('10m');
      assert.ok(r.asked.length >= before + 8, `about ten looks in ten minutes, got ${r.asked.length - before}`);
      assert.equal((await env.client.workflow.getHandle(id).query(syncStatus)).phase, 'caught up');
    });
  });

  it('a relay that is down is retried with growing pauses, and the cursor waits for it', async () => {
    await run(
      [START + 100, START + 15_000],
      async (r, id) => {
        await env.sleep('20m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.failedAt.length, 5);
        const gaps = r.failedAt.slice(1).map((t, i) => t - r.failedAt[i]!);
        assert.deepEqual(gaps.map((g) => Math.round(g / 10) * 10), [10, 20, 40, 80], `pauses ${gaps.join(', ')} s`);
        assert.equal(s.phase, 'caught up');
        assert.equal(r.served.size, 2, 'nothing missed once the relay answered');
      },
      (r) => (r.failures = 5),
    );
  });

  it('a relay that leaves the relay table: its workflow ends at its next round', async () => {
    await run([START + 100], async (r, id) => {
      await env.sleep('5m');
      r.listed = false;
      const ended: SyncStatus = await env.client.workflow.getHandle(id).result();
      assert.equal(ended.phase, 'ended');
      assert.ok(ended.cursor >= NOW - 300);
    });
  });

  it('continues as new after its share of activities (200), the cursor and totals carried', async () => {
    // one window per activity (spanMs 0), of at most 30 s, over 20,000 s: about 670 activities, four runs
    const events = Array.from({ length: 200 }, (_, i) => START + i * 97);
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const h = env.client.workflow.getHandle(id);
        const s = await h.query(syncStatus);
        assert.equal(r.served.size, events.length, 'no event missed across the runs');
        assert.ok(s.windows > 600, `windows ${s.windows}: the totals were carried`);
        assert.ok(s.windows >= r.sim.readers);
        assert.ok(s.cursor >= NOW - 300);
        const d = await h.describe();
        assert.notEqual(d.runId, r.firstRunId, 'a new run');
        assert.ok((await h.fetchHistory()).events!.length < 2000, 'the last run stays small');
      },
      (r) => {
        r.maxWindowSec = 30;
        r.spanMs = 0;
      },
    );
  });

  it('one activity reads window after window, and each begins where the last one left the cursor', async () => {
    const events = burstAndSpread(150, 50, 97);
    await run(
      events,
      async (r, id) => {
        await env.sleep('10m');
        const s = await env.client.workflow.getHandle(id).query(syncStatus);
        assert.equal(r.served.size, events.length);
        assert.ok(r.spans.length < r.sim.readers / 3, `${r.spans.length} activities for ${r.sim.readers} windows`);
        // each activity's first window begins at the cursor it was given (overlapping its edge second)
        for (const cursor of r.spans) assert.ok(r.asked.some(([since]) => since === cursor), `no window begins at ${cursor}`);
        assert.equal(s.windows, r.sim.readers);
      },
      (r) => (r.maxWindowSec = 100),
    );
  });

  // Issue 24: a dense second proven by NIP-45 COUNT, sized by it where it cannot be read, and
  // asked higher than our limit where the relay says nothing of its cap.
  const author = (i: number) => (i % 40).toString(16).padStart(64, 'a'); // 40 authors

  it('a second of 300 events of one kind by 40 authors, silent cap 50, COUNT: all archived, proven, no gap', async () => {
    const events = Array.from({ length: 300 }, () => START + 3000);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(r.served.size, 300, 'every event fetched');
      assert.equal(s.gaps, 0, 'proven whole by COUNT');
      assert.equal(r.sim.gaps.size, 0);
      assert.ok(r.sim.counts >= 1);
    }, (r) => {
      r.sim.nip45 = true;
      r.limit = 50;
    }, { cap: 50, authors: author });
  });

  it('the same without COUNT: all archived by author, and a gap (no event of another kind can be ruled out)', async () => {
    const events = Array.from({ length: 300 }, () => START + 3000);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      assert.equal(r.served.size, 300);
      assert.equal(r.sim.gaps.get(START + 3000)?.missing, undefined, 'no size without COUNT');
    }, (r) => (r.limit = 50), { cap: 50, authors: author });
  });

  it('a second one author fills past the cap, COUNT: a gap whose size is what the relay did not serve', async () => {
    const events = Array.from({ length: 300 }, () => START + 3000);
    await run(events, async (r) => {
      await env.sleep('10m');
      const g = r.sim.gaps.get(START + 3000);
      assert.ok(g, 'a gap recorded');
      assert.equal(g.received, 50);
      assert.equal(g.missing, 250, 'COUNT 300, served 50');
    }, (r) => {
      r.sim.nip45 = true;
      r.limit = 50;
    }, { cap: 50 });
  });

  it('a relay counting fewer than it serves is caught, and its COUNT no longer trusted', async () => {
    const events = Array.from({ length: 300 }, () => START + 3000);
    await run(events, async (r, id) => {
      await env.sleep('10m');
      const s = await env.client.workflow.getHandle(id).query(syncStatus);
      assert.equal(s.relay.count, 'untrusted');
      assert.equal(r.sim.gaps.get(START + 3000)?.missing, undefined, 'a lying COUNT sizes nothing');
    }, (r) => {
      r.sim.nip45 = 'low';
      r.limit = 50;
    }, { cap: 50, authors: author });
  });

  it('a relay that serves 6,000 and says nothing of its cap: a second of 1,200 asked higher, archived in full', async () => {
    const events = Array.from({ length: 1200 }, () => START + 3000);
    await run(events, async (r) => {
      await env.sleep('10m');
      assert.equal(r.served.size, 1200);
      assert.ok(r.asked.length < 40, `${r.asked.length} REQs`);
    }, (r) => {
      r.limit = 500;
      r.denseLimit = 8000;
    }, { cap: 6000 });
  });

  // One relay a test (a second run in one test would start after the server's clock ran on).
  for (const counts of [true, false]) {
    it(`what the archive holds from other relays: its ids asked by id, its authors by author; 300 by 40 authors under a cap of 50, all archived; ${counts ? 'proven by COUNT' : 'without COUNT a gap of unknown size (an author none has shown cannot be ruled out)'}`, async () => {
      const events = Array.from({ length: 300 }, () => START + 3000);
      await run(events, async (r) => {
        await env.sleep('10m');
        assert.equal(r.served.size, 300);
        assert.ok(r.sim.reqs.some((f) => f.ids !== undefined), 'asked by id');
        if (counts) assert.equal(r.sim.gaps.size, 0, 'proven by COUNT');
        else {
          assert.ok(r.sim.gaps.has(START + 3000), 'a gap');
          assert.equal(r.sim.gaps.get(START + 3000)?.missing, undefined, 'of no known size');
        }
      }, (r) => {
        r.limit = 50;
        r.sim.nip45 = counts;
        r.sim.archive = r.sim.events.filter((_, i) => i % 2 === 0); // half of them, from another relay
      }, { cap: 50, authors: author });
    });
  }

  it('one author filling the second past the cap, half known to the archive, no COUNT: what is known fetched by id, and a gap', async () => {
    const events = Array.from({ length: 300 }, () => START + 3000);
    await run(events, async (r) => {
      await env.sleep('10m');
      assert.ok(r.served.size >= 150 + 50 - 25, `${r.served.size} served`);
      for (const e of r.sim.archive!) assert.ok(r.served.has(e.id), 'every id the archive knows was fetched from the relay');
      assert.ok(r.sim.gaps.has(START + 3000), 'a gap: one author at the cap');
    }, (r) => {
      r.limit = 50;
      r.sim.archive = r.sim.events.filter((_, i) => i % 2 === 0);
    }, { cap: 50 });
  });

  // Each in a test of its own: the test server's clock after one run is no start for another.
  const reqsWithout = { n: 0 };
  const spread = () => Array.from({ length: 100 }, (_, i) => START + 50 + i * 100); // ten a 1,000 s window
  it('a window answered at a silent cap below our limit, no COUNT: paged', async () => {
    await run(spread(), async (r) => {
      await env.sleep('10m');
      assert.equal(r.served.size, 100);
      reqsWithout.n = r.sim.reqs.length;
    }, (r) => (r.limit = 50), { cap: 10 });
  });

  it('the same, the relay counting (NIP-45): counted, not paged: fewer REQs, every event', async () => {
    await run(spread(), async (r) => {
      await env.sleep('10m');
      assert.equal(r.served.size, 100);
      assert.ok(r.sim.counts >= 1, 'windows counted');
      assert.ok(reqsWithout.n > 0 && r.sim.reqs.length < reqsWithout.n, `REQs with COUNT ${r.sim.reqs.length}, without ${reqsWithout.n}`);
    }, (r) => {
      r.limit = 50;
      r.sim.nip45 = true;
    }, { cap: 10 });
  });
});
