// The Synchronizer's window against relays this test starts: verified events archived with
// their relay, bad ones refused, a relay that does not finish the window is an error to retry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNetworkActivities } from '../../activities/network.js';
import { insertRelays } from '../../activities/store.js';
import { ApplicationFailure } from '@temporalio/common';
import { RELAY_GONE, type WindowResult } from '../../common/index.js';
import { testConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';

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

function window(url: string, since: number, until: number, limit: number): Promise<WindowResult> {
  const base = testConfig(t.url, { BIGBROTR__relay_url__allow_local: 'true' });
  const config = { ...base, networks: { ...base.networks, clearnet: { ...base.networks.clearnet, timeout: 700 } } };
  const acts = createNetworkActivities({ config, network: 'clearnet', db: t.db });
  return new MockActivityEnvironment().run(acts.syncWindow, { url, network: 'clearnet' as const, since, until, limit });
}

describe('sync window', () => {
  it('archives the window verified, with the relay as source; a forged event is refused', async () => {
    const r = await window(good.url, 1000, 1006, 100);
    assert.deepEqual({ ...r }, { received: 8, inserted: 7, known: 0, linked: 7, invalid: { 'id-mismatch': 1 }, full: false, method: 'req' });
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [good.url]), 7);
  });

  it('a window the relay fills to the limit says so (the workflow splits it)', async () => {
    const r = await window(good.url, 1000, 1011, 5);
    assert.equal(r.received, 5);
    assert.equal(r.full, true);
    assert.equal(r.inserted, 5 - r.known);
  });

  it('the same window again rewrites nothing (a retried activity)', async () => {
    const before = await count(t.db, 'SELECT * FROM event');
    const r = await window(good.url, 1000, 1006, 100);
    assert.deepEqual({ inserted: r.inserted, linked: r.linked, known: r.known }, { inserted: 0, linked: 0, known: 7 });
    assert.equal(await count(t.db, 'SELECT * FROM event'), before);
  });

  it('a relay that never finishes the window is an error, for Temporal to retry', async () => {
    await assert.rejects(window(silent.url, 1000, 1006, 100), /no answer|timeout|within/i);
  });

  it('a relay that left the relay table while its window was read: a failure no retry can mend, named as such (last: it deletes the relay)', async () => {
    await t.db.query('DELETE FROM relay WHERE url = $1', [good.url]);
    await assert.rejects(window(good.url, 1000, 1011, 100), (err: ApplicationFailure) => {
      assert.equal(err.type, RELAY_GONE);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /no longer in the relay table/);
      return true;
    });
  });
});
