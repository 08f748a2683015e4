import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { canonicalJson, contentId, storeChecks, storeMetadata } from '../../activities/db/metadata.js';
import { insertRelays } from '../../activities/db/store.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
before(async () => {
  t = await freshDatabase();
  await insertRelays(t.db, [{ url: 'wss://relay.meta.example', network: 'clearnet', discoveredAt: 1 }]);
});
after(() => t.drop());

describe('content-addressed metadata', () => {
  it('canonical JSON: sorted keys at every depth, undefined left out, one text per value', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
    assert.deepEqual(contentId({ x: 1, y: 2 }), contentId({ y: 2, x: 1 }));
    assert.notDeepEqual(contentId({ x: 1 }), contentId({ x: 2 }));
  });

  it('an unchanged document is stored once; each measurement is one more row of the time series', async () => {
    const doc = { name: 'Meta relay', supported_nips: [1, 11] };
    const first = await storeMetadata(t.db, [
      { relayUrl: 'wss://relay.meta.example', type: 'nip11', generatedAt: 100, payload: doc },
      { relayUrl: 'wss://relay.meta.example', type: 'nip66_rtt', generatedAt: 100, payload: { rtt_open: 12 } },
    ]);
    assert.deepEqual(first, { documents: 2, snapshots: 2 });
    const second = await storeMetadata(t.db, [
      { relayUrl: 'wss://relay.meta.example', type: 'nip11', generatedAt: 200, payload: { supported_nips: [1, 11], name: 'Meta relay' } },
    ]);
    assert.deepEqual(second, { documents: 0, snapshots: 1 });
    assert.equal(await count(t.db, 'SELECT * FROM metadata'), 2);
    const { rows } = await t.db.query(`SELECT generated_at, payload FROM relay_metadata_latest WHERE metadata_type = 'nip11'`);
    assert.deepEqual(rows, [{ generated_at: '200', payload: doc }]);
    // the same measurement again (a retried activity) adds nothing
    assert.deepEqual(await storeMetadata(t.db, [{ relayUrl: 'wss://relay.meta.example', type: 'nip11', generatedAt: 200, payload: doc }]), { documents: 0, snapshots: 0 });
  });

  it('NUL and lone surrogates, in values and keys, are stored as U+FFFD, under the hash of what is stored', async () => {
    const relayUrl = 'wss://relay.meta.example';
    const doc = { name: 'a\u0000b', nested: [{ 'k\ud800': 'x\udc00y' }] };
    const r = await storeChecks(t.db, [{ relayUrl, type: 'nip11', generatedAt: 300, payload: doc }], [
      { relayUrl, check: 'read', generatedAt: 300, outcome: 'failed', code: 'closed', reason: 'error: bye\u0000' },
    ]);
    assert.deepEqual(r, { documents: 2, snapshots: 1, outcomes: 1 });
    const stored = { name: 'a\uFFFDb', nested: [{ 'k\uFFFD': 'x\uFFFDy' }] };
    const { rows } = await t.db.query(`SELECT m.id, m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id WHERE rm.generated_at = 300`);
    assert.deepEqual(rows, [{ id: contentId(stored), payload: stored }]);
    const reason = await t.db.query(`SELECT m.id, m.payload FROM relay_check c JOIN metadata m ON m.id = c.metadata_id WHERE c.generated_at = 300`);
    const failure = { check: 'read', code: 'closed', reason: 'error: bye\uFFFD' };
    assert.deepEqual(reason.rows, [{ id: contentId(failure), payload: failure }]);
    // The document as the relay sent it and as stored are one document.
    assert.deepEqual(await storeMetadata(t.db, [{ relayUrl, type: 'nip11', generatedAt: 400, payload: stored }]), { documents: 0, snapshots: 1 });
  });

  it('a snapshot of an unknown relay stores nothing at all (one transaction)', async () => {
    const before = await count(t.db, 'SELECT * FROM metadata');
    await assert.rejects(storeMetadata(t.db, [{ relayUrl: 'wss://unknown.example', type: 'nip11', generatedAt: 1, payload: { new: true } }]), /foreign key/);
    assert.equal(await count(t.db, 'SELECT * FROM metadata'), before);
  });
});
