import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { archiveEvents } from '../../activities/synchronizer/archive.js';
import { insertRelays } from '../../activities/db/store.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { signed } from '../helpers/nostr.js';

const A = 'wss://relay-a.example';
const B = 'wss://relay-b.example';

describe('archiving events (bigbrotr)', () => {
  let t: TestDatabase;
  before(async () => {
    t = await freshDatabase();
    await insertRelays(t.db, [A, B].map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })));
  });
  after(() => t.drop());

  it('stores valid events with their relay; refuses a bad id, a bad signature, a bad shape, with reasons', async () => {
    const good = [signed({ kind: 1, content: 'one', created_at: 10 }), signed({ kind: 7, content: '+', tags: [['e', 'a'.repeat(64)]], created_at: 11 })];
    const forgedId = { ...signed({ kind: 1, content: 'x' }), content: 'tampered' }; // id no longer its hash
    const base = signed({ kind: 1, content: 'y' });
    const forgedSig = { ...base, sig: base.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    const r = await archiveEvents(t.db, A, [...good, good[0], forgedId, forgedSig, { id: 'nope' }, 'text'], 100);
    assert.equal(r.received, 7);
    assert.equal(r.inserted, 2);
    assert.equal(r.linked, 2);
    assert.deepEqual(r.invalid, { 'id-mismatch': 1, 'bad-signature': 1, 'bad-id-format': 1, 'not-an-object': 1 });
    const { rows } = await t.db.query(`SELECT encode(id, 'hex') AS id, kind, tags, content FROM event ORDER BY created_at`);
    assert.deepEqual(rows, good.map((e) => ({ id: e.id, kind: e.kind, tags: e.tags, content: e.content })));
    assert.equal(await count(t.db, 'SELECT * FROM event_relay WHERE relay_url = $1', [A]), 2);
  });

  it('an event already archived, seen on another relay: only its id is checked, and it gains a link', async () => {
    const { rows } = await t.db.query(`SELECT encode(id, 'hex') AS id, encode(pubkey, 'hex') AS pubkey, created_at::int, kind, tags, content, encode(sig, 'hex') AS sig FROM event`);
    const again = rows.map((e) => ({ ...e }));
    const r = await archiveEvents(t.db, B, again, 200);
    assert.deepEqual({ inserted: r.inserted, known: r.known, linked: r.linked, signaturesChecked: r.signaturesChecked }, { inserted: 0, known: 2, linked: 2, signaturesChecked: 0 });
    assert.equal(await count(t.db, 'SELECT * FROM event_relay'), 4);
  });

  it('a batch written twice leaves the same rows (a retried activity)', async () => {
    const batch = [signed({ kind: 1, content: 'retry', created_at: 20 })];
    await archiveEvents(t.db, A, batch, 300);
    const events = await count(t.db, 'SELECT * FROM event');
    const links = await count(t.db, 'SELECT * FROM event_relay');
    const r = await archiveEvents(t.db, A, batch, 301);
    assert.deepEqual({ inserted: r.inserted, linked: r.linked }, { inserted: 0, linked: 0 });
    assert.equal(await count(t.db, 'SELECT * FROM event'), events);
    assert.equal(await count(t.db, 'SELECT * FROM event_relay'), links);
    const { rows } = await t.db.query(`SELECT seen_at FROM event_relay WHERE event_id = decode($1, 'hex')`, [batch[0]!.id]);
    assert.deepEqual(rows, [{ seen_at: '300' }], 'the first sighting is kept');
  });
});

describe('archiving events (lilbrotr)', () => {
  let t: TestDatabase;
  before(async () => {
    t = await freshDatabase({ deployment: 'lilbrotr' });
    await insertRelays(t.db, [{ url: A, network: 'clearnet', discoveredAt: 1 }]);
  });
  after(() => t.drop());

  it('keeps id, pubkey, kind, created_at and sig, without tags and content, from the same code', async () => {
    const ev = signed({ kind: 1, content: 'dropped in lilbrotr', tags: [['t', 'x']] });
    const r = await archiveEvents(t.db, A, [ev], 1);
    assert.equal(r.inserted, 1);
    const { rows } = await t.db.query(`SELECT encode(id, 'hex') AS id, kind FROM event`);
    assert.deepEqual(rows, [{ id: ev.id, kind: 1 }]);
  });
});
