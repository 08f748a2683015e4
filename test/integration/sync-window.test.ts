// The Synchronizer's windows against relays this test starts: verified events archived with
// their relay, bad ones refused, a full window asked again in halves, a relay that does not
// finish a window is an error to retry (the retry resumes after the last complete window).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { insertRelays } from '../../activities/store.js';
import { ApplicationFailure } from '@temporalio/common';
import { RELAY_GONE } from '../../common/index.js';
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
    assert.deepEqual(
      { ...r },
      { cursor: 1006, windowSec: 7, windows: 1, splits: 0, negentropyWindows: 0, fullSeconds: 0, received: 8, inserted: 7, known: 0, linked: 7, invalid: { 'id-mismatch': 1 }, unserved: 0 },
    );
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [good.url]), 7);
  });

  it('a window the relay fills to the limit is asked again in halves until each is complete: nothing missed', async () => {
    const r = await windows(good.url, 1000, 1011, 5);
    assert.equal(r.cursor, 1011);
    assert.ok(r.splits >= 2, `splits ${r.splits}`); // 12 s (13 events) and 6 s (7) are full; 3 s is not
    assert.equal(r.fullSeconds, 0);
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [good.url]), events.length);
    assert.deepEqual(r.invalid, { 'id-mismatch': r.invalid['id-mismatch'] }, 'the forged event, refused each time it came');
  });

  it('the same windows again rewrite nothing (a retried activity)', async () => {
    const before = await count(t.db, 'SELECT * FROM event');
    const r = await windows(good.url, 1000, 1006, 100);
    assert.deepEqual({ inserted: r.inserted, linked: r.linked, known: r.known }, { inserted: 0, linked: 0, known: 7 });
    assert.equal(await count(t.db, 'SELECT * FROM event'), before);
  });

  it('a retried attempt resumes after the last complete window its heartbeats recorded', async () => {
    const env = new MockActivityEnvironment({ heartbeatDetails: { cursor: 1008, windowSec: 2, windows: 4, splits: 1, negentropyWindows: 0, fullSeconds: 0, received: 9, inserted: 0, known: 9, linked: 0, invalid: {}, unserved: 0 } });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(structuredClone(d)));
    const r = await windows(good.url, 1000, 1011, 100, env);
    // [1009, 1010] then [1011, 1011]: the totals go on from the recorded ones
    assert.deepEqual({ cursor: r.cursor, windows: r.windows, received: r.received }, { cursor: 1011, windows: 6, received: 12 });
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
