// The Synchronizer's windows against relays this test starts: verified events archived with
// their relay, bad ones refused, a full window paged until shown complete, a relay that does not
// finish a window is an error to retry (the retry resumes after the last complete window).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { insertRelays } from '../../activities/db/store.js';
import { ApplicationFailure } from '@temporalio/common';
import { RELAY_GONE, UNKNOWN_RELAY } from '../../common/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { syncRange, testNetworkActivities } from '../helpers/sync.js';

let t: TestDatabase;
let good: LocalRelay;
let silent: LocalRelay;
const events = Array.from({ length: 12 }, (_, i) => signed({ kind: 1, content: `note ${i}`, created_at: 1000 + i }));
const forged = { ...signed({ kind: 1, content: 'forged', created_at: 1005 }), content: 'changed after signing' };

before(async () => {
  t = await freshDatabase();
  [good, silent] = await Promise.all([startLocalRelay({ events: [...events, forged] }), startLocalRelay({ behaviour: 'silent' })]);
  await insertRelays(t.db, [good.url, silent.url].map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
});
after(async () => {
  await Promise.all([good.stop(), silent.stop()]);
  await t.drop();
});

const windows = (url: string, since: number, until: number, limit: number, env?: MockActivityEnvironment) => syncRange(testNetworkActivities(t), url, since, until, limit, env);

describe('sync windows', () => {
  it('archives the window verified, with the relay as source; a forged event is refused', async () => {
    const r = await windows(good.url, 1000, 1006, 100);
    // a relay it knows nothing of: the answer (8) is paged once more, down to its oldest second (1000), which brings nothing older
    assert.deepEqual(
      { cursor: r.cursor, windows: r.windows, reqs: r.reqs, received: r.received, inserted: r.inserted, linked: r.linked, invalid: r.invalid, gaps: r.gaps },
      { cursor: 1006, windows: 1, reqs: 2, received: 9, inserted: 7, linked: 7, invalid: { 'id-mismatch': 1 }, gaps: 0 },
    );
    assert.equal(r.relay.largestAnswer, 8, 'what the relay showed it sends');
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [good.url]), 7);
  });

  it('a window the relay fills to the limit is paged by `until` until a page brings nothing older: nothing missed', async () => {
    const r = await windows(good.url, 1000, 1011, 5);
    assert.equal(r.cursor, 1011);
    assert.ok(r.pages >= 2, `pages ${r.pages}`); // 13 events, 5 a page
    assert.equal(r.gaps, 0);
    assert.ok(r.received <= 13 + 4, `received ${r.received}: each event once, but the pages' edge seconds`);
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [good.url]), events.length);
    assert.deepEqual(r.invalid, { 'id-mismatch': r.invalid['id-mismatch'] }, 'the forged event, refused each time it came');
  });

  it('the same windows again rewrite nothing (a retried activity)', async () => {
    const before = await count(t.db, 'SELECT * FROM event');
    const r = await windows(good.url, 1000, 1006, 100);
    // known: the 7, and the one of second 1000 again on the page that shows nothing is older
    assert.deepEqual({ inserted: r.inserted, linked: r.linked, known: r.known }, { inserted: 0, linked: 0, known: 8 });
    assert.equal(await count(t.db, 'SELECT * FROM event'), before);
  });

  it('a retried attempt resumes after the last complete window its heartbeats recorded', async () => {
    const env = new MockActivityEnvironment({
      heartbeatDetails: {
        cursor: 1008, windowSec: 2, windows: 4, splits: 1, negentropyWindows: 0, received: 9, inserted: 0, known: 9, linked: 0, invalid: {}, unserved: 0,
        reqs: 8, pages: 4, denseSeconds: 0, gaps: 0, gapsFilled: 0, overlapFound: 0, capLowered: 0, relay: { ...UNKNOWN_RELAY, largestAnswer: 100, auditCursor: 1008 },
      },
    });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(structuredClone(d)));
    const r = await windows(good.url, 1000, 1011, 100, env);
    // [1008, 1010] then [1010, 1011] (each overlapping the last by its edge second): the totals go on from the recorded ones
    assert.deepEqual({ cursor: r.cursor, windows: r.windows, received: r.received }, { cursor: 1011, windows: 6, received: 9 + 3 + 2 });
    assert.deepEqual(beats.map((b) => (b as { cursor: number }).cursor).filter((c, i, all) => all.indexOf(c) === i), [1008, 1010, 1011], 'each heartbeat carries the progress');
  });

  it('a relay that never finishes the window is an error, for Temporal to retry', async () => {
    await assert.rejects(windows(silent.url, 1000, 1006, 100), /no answer|timeout|within/i);
  });

  it('a relay that left the relay table while its window was read: a failure no retry can mend, named as such (last: it deletes the relay)', async () => {
    await t.db.query('DELETE FROM relay WHERE url = $1', [good.url]);
    await assert.rejects(windows(good.url, 1000, 1011, 100), (err: ApplicationFailure) => {
      assert.equal(err.type, RELAY_GONE);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /no longer in the relay table/);
      return true;
    });
  });
});
