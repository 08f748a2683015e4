// A relay's sync settings for its next round, from the config and the database: the configured
// limit, priority, and whether it is still a relay; and the relay's latest stored NIP-11, which
// the sync activity reads before its windows (its max_limit bounds the REQs).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storeMetadata } from '../../activities/db/metadata.js';
import { insertRelays } from '../../activities/db/store.js';
import { createSyncActivities } from '../../activities/synchronizer/sync.js';
import { storedNip11 } from '../../activities/synchronizer/sync-records.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
before(async () => {
  t = await freshDatabase();
  await insertRelays(t.db, ['capped', 'plain', 'garbage', 'fast'].map((x) => ({ url: `wss://${x}.example`, network: 'clearnet' as const, discoveredAt: 1 })));
  await storeMetadata(t.db, [
    // an older document said 1,000; the latest says 100
    { relayUrl: 'wss://capped.example', type: 'nip11', generatedAt: 10, payload: { limitation: { max_limit: 1000 } } },
    { relayUrl: 'wss://capped.example', type: 'nip11', generatedAt: 20, payload: { limitation: { max_limit: 100 } } },
    { relayUrl: 'wss://garbage.example', type: 'nip11', generatedAt: 20, payload: { limitation: { max_limit: 'lots' } } },
  ]);
});
after(() => t?.drop());

const settings = (url: string) =>
  createSyncActivities({
    db: t.db,
    config: testConfig(t.url, { BIGBROTR__synchronizer__limit: '500', BIGBROTR__synchronizer__priority_relays: '["wss://FAST.example/"]' }),
  }).syncSettings({ url });

describe('sync settings', () => {
  it("the relay's latest stored NIP-11 is the one the sync reads (an older one said otherwise)", async () => {
    assert.deepEqual((await storedNip11(t.db, 'wss://capped.example'))?.limitation, { max_limit: 100 });
    assert.equal(await storedNip11(t.db, 'wss://plain.example'), undefined);
  });

  it('the settings give the configured limit (the relay\'s own cap is applied by the sync activity, which also reads it when it fetches NIP-11 itself)', async () => {
    assert.equal((await settings('wss://capped.example')).limit, 500);
    assert.equal((await settings('wss://garbage.example')).limit, 500);
  });

  it('a priority relay (named in any spelling of its URL) wakes every priority_interval', async () => {
    const fast = await settings('wss://fast.example');
    assert.deepEqual({ priority: fast.priority, intervalMs: fast.intervalMs }, { priority: true, intervalMs: 60_000 });
    const plain = await settings('wss://plain.example');
    assert.deepEqual({ priority: plain.priority, intervalMs: plain.intervalMs }, { priority: false, intervalMs: 900_000 });
  });

  it('a relay gone from the relay table is said to be so', async () => {
    assert.equal((await settings('wss://plain.example')).listed, true);
    await t.db.query(`DELETE FROM relay WHERE url = 'wss://plain.example'`);
    assert.equal((await settings('wss://plain.example')).listed, false);
  });
});
