import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertCandidates, insertRelays } from '../../activities/db/store.js';
import type { Network } from '../../common/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
before(async () => (t = await freshDatabase()));
after(() => t.drop());

describe('batch writes', () => {
  it('candidates: one call; duplicates counted once, bad rows rejected with reasons, the rest stored', async () => {
    const rows = [
      { url: 'wss://relay.one.example', network: 'clearnet' as Network, source: 'seed' },
      { url: 'wss://relay.one.example', network: 'clearnet' as Network, source: 'seed' }, // repeated in the batch
      { url: 'wss://relay.two.example', network: 'clearnet' as Network, source: 'event:10002' },
      { url: 'wss://Relay.Three.example/', network: 'clearnet' as Network, source: 'seed' }, // not canonical
      { url: 'https://relay.four.example', network: 'clearnet' as Network, source: 'seed' }, // not a relay URL
      { url: 'wss://relay.five.example', network: 'tor' as Network, source: 'seed' }, // wrong network
      { url: 'wss://127.0.0.1:7000', network: 'clearnet' as Network, source: 'seed' }, // local
    ];
    const r = await insertCandidates(t.db, rows, 1_700_000_000);
    assert.equal(r.inserted, 2);
    assert.equal(r.alreadyKnown, 1);
    assert.deepEqual(r.rejected.map((x) => x.url), rows.slice(3).map((x) => x.url));
    assert.match(r.rejected[0]?.reason ?? '', /not canonical \(expected wss:\/\/relay\.three\.example\)/);
    assert.match(r.rejected[1]?.reason ?? '', /unsupported scheme "https"/);
    assert.match(r.rejected[2]?.reason ?? '', /network is clearnet, not tor/);
    assert.match(r.rejected[3]?.reason ?? '', /local or private/);
    const { rows: stored } = await t.db.query('SELECT url, network, source, discovered_at, failures FROM candidate ORDER BY url');
    assert.deepEqual(stored, [
      { url: 'wss://relay.one.example', network: 'clearnet', source: 'seed', discovered_at: '1700000000', failures: 0 },
      { url: 'wss://relay.two.example', network: 'clearnet', source: 'event:10002', discovered_at: '1700000000', failures: 0 },
    ]);
  });

  it('the same batch twice inserts nothing the second time and keeps the first rows', async () => {
    const rows = [{ url: 'wss://relay.one.example', network: 'clearnet' as Network, source: 'api:x' }];
    const r = await insertCandidates(t.db, rows, 1_800_000_000);
    assert.deepEqual(r, { inserted: 0, alreadyKnown: 1, rejected: [] });
    const { rows: stored } = await t.db.query(`SELECT source, discovered_at FROM candidate WHERE url = 'wss://relay.one.example'`);
    assert.deepEqual(stored, [{ source: 'seed', discovered_at: '1700000000' }]);
  });

  it('a URL that is already a relay does not become a candidate again', async () => {
    const relays = await insertRelays(t.db, [
      { url: 'wss://relay.six.example', network: 'clearnet', discoveredAt: 1 },
      { url: 'wss://relay.six.example', network: 'clearnet', discoveredAt: 2 },
      { url: 'ws://127.0.0.1:7777', network: 'clearnet', discoveredAt: 3 },
    ], { allowLocal: true });
    assert.deepEqual(relays, { inserted: 2, alreadyKnown: 1, rejected: [] });
    const r = await insertCandidates(t.db, [{ url: 'wss://relay.six.example', network: 'clearnet', source: 'seed' }], 5);
    assert.deepEqual(r, { inserted: 0, alreadyKnown: 1, rejected: [] });
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url = 'wss://relay.six.example'`), 0);
  });

  it('the database refuses what the module would: constraints are the backstop', async () => {
    await assert.rejects(t.db.query(`SELECT candidate_insert(ARRAY['https://x.example'], ARRAY['clearnet'], ARRAY['seed'], 1)`), /relay_url/);
    await assert.rejects(t.db.query(`SELECT relay_insert(ARRAY['wss://x.example'], ARRAY['darknet'], ARRAY[1]::bigint[])`), /relay_network/);
    await assert.rejects(t.db.query(`SELECT metadata_insert(ARRAY['\\x00'::bytea], ARRAY['{}'::jsonb])`), /metadata_id_check/);
  });

  it('an empty batch makes no round trip and changes nothing', async () => {
    const before = await count(t.db, 'SELECT * FROM candidate');
    assert.deepEqual(await insertCandidates(t.db, [], 1), { inserted: 0, alreadyKnown: 0, rejected: [] });
    assert.equal(await count(t.db, 'SELECT * FROM candidate'), before);
  });
});

describe('event_find', () => {
  it('returns the archived ids among those asked, each looked up by primary key in its partition', async () => {
    // 20,000 rows straight in SQL: this is about the lookup, not about what may be stored.
    await t.db.query(
      `INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig)
       SELECT sha256(int4send(i)), sha256(int4send(i % 50)), 1700000000 + i, 1, '[]', '', decode(repeat('00', 64), 'hex')
       FROM generate_series(1, 20000) AS i`,
    );
    await t.db.query('ANALYZE event');
    const id = (i: number) => (t.db.query<{ id: Buffer }>('SELECT sha256(int4send($1::int)) AS id', [i])).then((r) => r.rows[0]!.id);
    const present = await Promise.all(Array.from({ length: 2000 }, (_, k) => id(1 + k * 10)));
    const absent = await Promise.all(Array.from({ length: 500 }, (_, k) => id(100_000 + k)));
    const { rows } = await t.db.query<{ id: Buffer; created_at: string }>('SELECT id, created_at FROM event_find($1::bytea[])', [[...absent, ...present]]);
    assert.deepEqual(rows.map((r) => r.id.toString('hex')).sort(), present.map((b) => b.toString('hex')).sort());
    assert.equal(Number(rows.find((r) => r.id.equals(present[0]!))?.created_at), 1700000001);

    // The plan: every scan of an event partition is a primary-key probe, never a scan of a whole
    // index filtered by the list (what `id = ANY(list)` gets, at a cost that grows with the archive).
    const plan = (await t.db.query(`EXPLAIN (FORMAT JSON) SELECT * FROM event_find($1::bytea[])`, [present])).rows[0]['QUERY PLAN'];
    const scans: Array<{ type: string; index?: string; cond?: string; filter?: string }> = [];
    const walk = (n: Record<string, unknown>) => {
      if (String(n['Relation Name'] ?? '').startsWith('event_p'))
        scans.push({ type: String(n['Node Type']), index: n['Index Name'] as string, cond: n['Index Cond'] as string, filter: n['Filter'] as string });
      for (const c of (n['Plans'] as Array<Record<string, unknown>> | undefined) ?? []) walk(c);
    };
    walk(plan[0].Plan);
    assert.equal(scans.length, 16);
    for (const s of scans) {
      assert.equal(s.type, 'Index Scan', JSON.stringify(s));
      assert.match(s.index ?? '', /_pkey$/);
      assert.match(s.cond ?? '', /id = u\.id/);
      assert.equal(s.filter, undefined);
    }
  });
});

describe('event↔relay links', () => {
  const ids = (from: number, n: number) => t.db.query<{ id: Buffer }>('SELECT sha256(int4send(i)) AS id FROM generate_series($1::int, $1::int + $2::int - 1) AS i', [from, n]).then((r) => r.rows.map((x) => x.id));
  const links = (url: string) => count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [url]);

  it('link writers refuse a relay that is not in the relay table (foreign_key_violation: the Synchronizer\'s RelayGone); deleting a relay deletes its links', async () => {
    const [a, b] = ['wss://links-a.example', 'wss://links-b.example'];
    await insertRelays(t.db, [a, b].map((url) => ({ url, network: 'clearnet' as Network, discoveredAt: 1 })));
    const batch = await ids(500_000, 100);
    assert.equal((await t.db.query('SELECT event_relay_link($1::bytea[], $2, 5) AS n', [batch, a])).rows[0].n, 100);
    assert.equal((await t.db.query('SELECT event_relay_insert($1::bytea[], $2::text[], $3::bigint[]) AS n', [batch.slice(0, 10), Array(10).fill(b), Array(10).fill(5)])).rows[0].n, 10);
    for (const call of [
      () => t.db.query('SELECT event_relay_link($1::bytea[], $2, 5)', [batch, 'wss://gone.example']),
      () => t.db.query('SELECT event_relay_insert($1::bytea[], $2::text[], $3::bigint[])', [batch.slice(0, 2), [a, 'wss://gone.example'], [5, 5]]),
    ]) {
      await assert.rejects(call(), (err: Error & { code?: string }) => {
        assert.equal(err.code, '23503');
        assert.match(err.message, /foreign key/);
        return true;
      });
    }
    assert.equal(await links('wss://gone.example'), 0);
    await t.db.query('DELETE FROM relay WHERE url = $1', [a]);
    assert.equal(await links(a), 0, 'the deleted relay took its links');
    assert.equal(await links(b), 10, 'the other relay keeps its own');
  });

  it('a relay deleted while a writer links to it waits for the writer, then takes the new links too', async () => {
    const url = 'wss://links-race.example';
    await insertRelays(t.db, [{ url, network: 'clearnet' as Network, discoveredAt: 1 }]);
    const batch = await ids(600_000, 50);
    const writer = await t.db.connect();
    const deleter = await t.db.connect();
    try {
      await writer.query('BEGIN');
      assert.equal((await writer.query('SELECT event_relay_link($1::bytea[], $2, 5) AS n', [batch, url])).rows[0].n, 50);
      let deleted = false;
      const deleting = deleter.query('DELETE FROM relay WHERE url = $1', [url]).then(() => (deleted = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(deleted, false, 'the delete waits for the writer, which holds the relay');
      await writer.query('COMMIT');
      await deleting;
      assert.equal(await links(url), 0, 'the links committed meanwhile went with the relay');
      await assert.rejects(writer.query('SELECT event_relay_link($1::bytea[], $2, 5)', [batch, url]), (err: Error & { code?: string }) => {
        assert.equal(err.code, '23503');
        assert.match(err.message, new RegExp(`relay ${url} is not in the relay table`));
        return true;
      });
    } finally {
      writer.release();
      deleter.release();
    }
  });

  it('a relay URL that links name cannot change; one without links can', async () => {
    const [linked, bare] = ['wss://links-rename.example', 'wss://links-bare.example'];
    await insertRelays(t.db, [linked, bare].map((url) => ({ url, network: 'clearnet' as Network, discoveredAt: 1 })));
    await t.db.query('SELECT event_relay_link($1::bytea[], $2, 5)', [await ids(700_000, 3), linked]);
    await assert.rejects(t.db.query(`UPDATE relay SET url = 'wss://links-renamed.example' WHERE url = $1`, [linked]), (err: Error & { code?: string }) => {
      assert.equal(err.code, '23503');
      assert.match(err.message, /cannot change while event_relay links name it/);
      return true;
    });
    await t.db.query(`UPDATE relay SET url = 'wss://links-bare-renamed.example' WHERE url = $1`, [bare]);
    assert.equal(await links(linked), 3);
  });
});
