// The analytics tables (sql/0013_analytics.sql) on real PostgreSQL with known data: each table's
// rows, an incremental refresh after new events equal to a rebuild from scratch, a writer whose
// transaction commits after a refresh started counted exactly once, a repeated refresh changing
// nothing, and lilbrotr's tables.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { deploymentTargets, pruneAnalyticsQueues, refreshAll, refreshTarget } from '../../activities/refresher/refresher.js';
import type { Db } from '../../activities/db/db.js';
import type { Deployment } from '../../common/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const R1 = 'wss://one.example';
const R2 = 'wss://two.example';
const DAY = 86_400;
const T0 = 1_700_006_400; // 2023-11-15 00:00:00 UTC
const DOC = Buffer.alloc(32, 0xd0); // a failure's document

interface Ev {
  id: Buffer;
  pubkey: Buffer;
  created_at: number;
  kind: number;
  tags: string[][];
}

const author = (n: number) => Buffer.alloc(32, n);
function ev(pubkey: Buffer, kind: number, created_at: number, tags: string[][] = [], id?: Buffer): Ev {
  return { id: id ?? randomBytes(32), pubkey, created_at, kind, tags };
}

async function insertEvents(db: Db | { query: Db['query'] }, events: Ev[], relay?: string, seenAt = T0 + 10 * DAY) {
  await db.query('SELECT event_insert($1::bytea[], $2::bytea[], $3::bigint[], $4::int[], $5::jsonb[], $6::text[], $7::bytea[])', [
    events.map((e) => e.id),
    events.map((e) => e.pubkey),
    events.map((e) => e.created_at),
    events.map((e) => e.kind),
    events.map((e) => JSON.stringify(e.tags)),
    events.map(() => ''),
    events.map(() => Buffer.alloc(64, 1)),
  ]);
  if (relay) await link(db, events, relay, seenAt);
}

async function link(db: Db | { query: Db['query'] }, events: Ev[], relay: string, seenAt = T0 + 10 * DAY) {
  await db.query('SELECT event_relay_link($1::bytea[], $2::text, $3::bigint)', [events.map((e) => e.id), relay, seenAt]);
}

/** Every analytics table's rows in a stable order (relay_summary without its refresh time and sync lag, which follow the clock). */
async function snapshot(db: Db, deployment: Deployment): Promise<Record<string, unknown[]>> {
  const tables: Record<string, string> = {
    kind_stats: 'SELECT * FROM kind_stats ORDER BY kind',
    pubkey_stats: 'SELECT encode(pubkey, $$hex$$) AS pubkey, events, first_at, last_at FROM pubkey_stats ORDER BY pubkey',
    day_stats: 'SELECT day::text, events FROM day_stats ORDER BY day',
    day_kind_stats: 'SELECT day::text, kind, events FROM day_kind_stats ORDER BY day, kind',
    relay_stats: 'SELECT * FROM relay_stats ORDER BY relay_url',
    relay_kind_stats: 'SELECT * FROM relay_kind_stats ORDER BY relay_url, kind',
    relay_pubkey_stats: 'SELECT relay_url, encode(pubkey, $$hex$$) AS pubkey, events, first_at, last_at FROM relay_pubkey_stats ORDER BY relay_url, pubkey',
    replaceable_current: 'SELECT encode(pubkey, $$hex$$) AS pubkey, kind, encode(event_id, $$hex$$) AS id, created_at FROM replaceable_current ORDER BY pubkey, kind',
    relay_check_hour: 'SELECT * FROM relay_check_hour ORDER BY relay_url, check_name, hour',
    relay_summary: 'SELECT url, network, software, supported_nips, country, up, uptime_30d, events, pubkeys, first_event_at, last_event_at, last_seen_at, open_gaps FROM relay_summary ORDER BY url',
  };
  if (deployment === 'bigbrotr') {
    tables.addressable_current = 'SELECT encode(pubkey, $$hex$$) AS pubkey, kind, d, encode(event_id, $$hex$$) AS id, created_at FROM addressable_current ORDER BY pubkey, kind, d';
  }
  const out: Record<string, unknown[]> = {};
  for (const [name, sql] of Object.entries(tables)) out[name] = (await db.query(sql)).rows;
  return out;
}

async function seedRelays(db: Db) {
  await db.query(`INSERT INTO relay (url, network, discovered_at) VALUES ($1, 'clearnet', 1), ($2, 'clearnet', 2)`, [R1, R2]);
}

describe('analytics tables (bigbrotr)', () => {
  let t: TestDatabase;
  const A = author(1);
  const B = author(2);
  // Known data: A posts 3 notes (2 days), a profile twice, a long-form article twice under one `d`;
  // B posts 1 note and a profile; R1 serves everything of A, R2 serves one note of A and all of B.
  const notesA = [ev(A, 1, T0 + 100), ev(A, 1, T0 + 200), ev(A, 1, T0 + DAY + 5)];
  const profileA = [ev(A, 0, T0 + 50), ev(A, 0, T0 + 60)];
  const articleA = [ev(A, 30023, T0 + 70, [['d', 'intro'], ['t', 'x']]), ev(A, 30023, T0 + 80, [['t', 'y'], ['d', 'intro']])];
  const noteB = ev(B, 1, T0 + 300);
  const profileB = ev(B, 0, T0 + 40);

  before(async () => {
    t = await freshDatabase({ deployment: 'bigbrotr' });
    await seedRelays(t.db);
    await insertEvents(t.db, [...notesA, ...profileA, ...articleA], R1, T0 + 10 * DAY);
    await insertEvents(t.db, [noteB, profileB], R2, T0 + 11 * DAY);
    await link(t.db, [notesA[0]!], R2, T0 + 11 * DAY);
    await t.db.query(`INSERT INTO metadata (id, payload) VALUES ($1, '{"code":"timeout"}')`, [DOC]);
    await t.db.query(
      `INSERT INTO relay_check (relay_url, check_name, generated_at, outcome, code, metadata_id) VALUES
        ($1, 'open', 1000, 'ok', NULL, NULL), ($1, 'open', 2000, 'ok', NULL, NULL), ($1, 'open', 4000, 'failed', 'timeout', $2),
        ($1, 'nip11', 1000, 'absent', 'http-status', $2)`,
      [R1, DOC],
    );
  });
  after(() => t?.drop());

  test('a first refresh builds every table from the archive', async () => {
    await refreshAll(t.db, 'bigbrotr');
    const s = await snapshot(t.db, 'bigbrotr');
    assert.deepEqual(
      s.kind_stats!.map((r: any) => [r.kind, Number(r.events), Number(r.first_at), Number(r.last_at)]),
      [[0, 3, T0 + 40, T0 + 60], [1, 4, T0 + 100, T0 + DAY + 5], [30023, 2, T0 + 70, T0 + 80]],
    );
    assert.deepEqual(
      s.pubkey_stats!.map((r: any) => [r.pubkey, Number(r.events)]),
      [[A.toString('hex'), 7], [B.toString('hex'), 2]],
    );
    assert.deepEqual(s.day_stats!.map((r: any) => [r.day, Number(r.events)]), [['2023-11-15', 8], ['2023-11-16', 1]]);
    assert.deepEqual(
      s.day_kind_stats!.map((r: any) => [r.day, r.kind, Number(r.events)]),
      [['2023-11-15', 0, 3], ['2023-11-15', 1, 3], ['2023-11-15', 30023, 2], ['2023-11-16', 1, 1]],
    );
    assert.deepEqual(
      s.relay_stats!.map((r: any) => [r.relay_url, Number(r.events), Number(r.pubkeys), Number(r.first_event_at), Number(r.last_event_at), Number(r.last_seen_at)]),
      [[R1, 7, 1, T0 + 50, T0 + DAY + 5, T0 + 10 * DAY], [R2, 3, 2, T0 + 40, T0 + 300, T0 + 11 * DAY]],
    );
    assert.deepEqual(
      s.relay_kind_stats!.map((r: any) => [r.relay_url, r.kind, Number(r.events)]),
      [[R1, 0, 2], [R1, 1, 3], [R1, 30023, 2], [R2, 0, 1], [R2, 1, 2]],
    );
    assert.deepEqual(
      s.relay_pubkey_stats!.map((r: any) => [r.relay_url, r.pubkey, Number(r.events)]),
      [[R1, A.toString('hex'), 7], [R2, A.toString('hex'), 1], [R2, B.toString('hex'), 2]],
    );
    // NIP-01: the newest profile of each author
    assert.deepEqual(
      s.replaceable_current!.map((r: any) => [r.pubkey, r.kind, r.id]),
      [[A.toString('hex'), 0, profileA[1]!.id.toString('hex')], [B.toString('hex'), 0, profileB.id.toString('hex')]],
    );
    assert.deepEqual(
      s.addressable_current!.map((r: any) => [r.pubkey, r.kind, r.d, r.id]),
      [[A.toString('hex'), 30023, 'intro', articleA[1]!.id.toString('hex')]],
    );
    assert.deepEqual(
      s.relay_check_hour!.map((r: any) => [r.relay_url, r.check_name, Number(r.hour), r.ok, r.failed]),
      [[R1, 'open', 0, 2, 0], [R1, 'open', 3600, 0, 1]],
    );
    const summary = s.relay_summary as any[];
    assert.deepEqual(summary.map((r) => [r.url, r.up, Number(r.events), Number(r.pubkeys)]), [[R1, false, 7, 1], [R2, null, 3, 2]]);
  });

  test('after new events, links and checks, an incremental refresh equals a rebuild', async () => {
    const newer = [ev(A, 0, T0 + 500), ev(B, 1, T0 + 2 * DAY), ev(A, 30023, T0 + 90, [['d', 'intro']]), ev(author(3), 10002, T0 + 7)];
    // the same second as A's newest profile, with a lower id: NIP-01 keeps the lowest id
    const tie = ev(A, 0, T0 + 500, [], Buffer.alloc(32, 0));
    await insertEvents(t.db, [...newer, tie], R1, T0 + 12 * DAY);
    await link(t.db, [notesA[1]!, newer[1]!], R2, T0 + 13 * DAY); // known events, newly seen on R2
    await t.db.query(`INSERT INTO relay_check (relay_url, check_name, generated_at, outcome, code) VALUES ($1, 'open', 3700, 'ok', NULL)`, [R1]);
    const rows = await refreshAll(t.db, 'bigbrotr');
    assert.ok(rows.event_stats! > 0 && rows.relay_stats! > 0, `incremental refresh wrote rows: ${JSON.stringify(rows)}`);
    const incremental = await snapshot(t.db, 'bigbrotr');
    assert.equal((incremental.replaceable_current as any[]).find((r) => r.pubkey === A.toString('hex')).id, tie.id.toString('hex'));
    await refreshAll(t.db, 'bigbrotr', true);
    assert.deepEqual(await snapshot(t.db, 'bigbrotr'), incremental);
  });

  test('a refresh with nothing new changes nothing, and the queues are pruned', async () => {
    const before = await snapshot(t.db, 'bigbrotr');
    await refreshAll(t.db, 'bigbrotr');
    assert.deepEqual(await snapshot(t.db, 'bigbrotr'), before);
    await pruneAnalyticsQueues(t.db);
    const { rows } = await t.db.query(
      `SELECT (SELECT count(*) FROM analytics_event_queue) + (SELECT count(*) FROM analytics_link_queue) + (SELECT count(*) FROM analytics_check_queue) AS n`,
    );
    assert.equal(Number(rows[0].n), 0, 'every queued change was counted by every target, so none is left');
  });

  test('a writer that commits after a refresh began is counted exactly once, by the next refresh', async () => {
    const late = ev(author(9), 1, T0 + 3 * DAY);
    const writer = await t.db.connect();
    try {
      await writer.query('BEGIN');
      await insertEvents(writer, [late], R1, T0 + 14 * DAY); // not committed yet
      await refreshAll(t.db, 'bigbrotr'); // cannot see it
      await writer.query('COMMIT');
    } finally {
      writer.release();
    }
    const count = async () => Number((await t.db.query(`SELECT events FROM pubkey_stats WHERE pubkey = $1`, [late.pubkey])).rows[0]?.events ?? 0);
    assert.equal(await count(), 0, 'the refresh that ran before the commit did not count it');
    await refreshAll(t.db, 'bigbrotr');
    assert.equal(await count(), 1, 'the next refresh counted it');
    await refreshAll(t.db, 'bigbrotr');
    assert.equal(await count(), 1, 'and no later refresh counts it again');
    const incremental = await snapshot(t.db, 'bigbrotr');
    await refreshAll(t.db, 'bigbrotr', true);
    assert.deepEqual(await snapshot(t.db, 'bigbrotr'), incremental);
  });

  test('a refresh outside REPEATABLE READ is refused, an unknown target named', async () => {
    await assert.rejects(t.db.query(`SELECT analytics_refresh('event_stats')`), /needs a REPEATABLE READ transaction/);
    await assert.rejects(refreshTarget(t.db, 'nope' as never), /no target nope/);
  });

  test('a deleted relay takes its statistics with it, and its queued links are skipped', async () => {
    const orphan = ev(author(7), 1, T0 + 4 * DAY);
    await insertEvents(t.db, [orphan], R2, T0 + 15 * DAY);
    await t.db.query('DELETE FROM relay WHERE url = $1', [R2]);
    await refreshAll(t.db, 'bigbrotr');
    const { rows } = await t.db.query(`SELECT count(*) AS n FROM relay_stats WHERE relay_url = $1`, [R2]);
    assert.equal(Number(rows[0].n), 0);
    const incremental = await snapshot(t.db, 'bigbrotr');
    await refreshAll(t.db, 'bigbrotr', true);
    assert.deepEqual(await snapshot(t.db, 'bigbrotr'), incremental);
  });
});

describe('analytics tables (lilbrotr)', () => {
  let t: TestDatabase;
  before(async () => {
    t = await freshDatabase({ deployment: 'lilbrotr' });
    await seedRelays(t.db);
  });
  after(() => t?.drop());

  test('the tables that need no tags, built then kept incrementally', async () => {
    assert.deepEqual(deploymentTargets('lilbrotr'), ['event_stats', 'replaceable_current', 'relay_stats', 'relay_check_hour', 'relay_summary']);
    const A = author(4);
    await insertEvents(t.db, [ev(A, 0, T0), ev(A, 1, T0 + 1)], R1);
    await refreshAll(t.db, 'lilbrotr');
    await insertEvents(t.db, [ev(A, 0, T0 + 9), ev(A, 7, T0 + 2)], R2);
    await refreshAll(t.db, 'lilbrotr');
    const incremental = await snapshot(t.db, 'lilbrotr');
    assert.deepEqual((incremental.kind_stats as any[]).map((r) => [r.kind, Number(r.events)]), [[0, 2], [1, 1], [7, 1]]);
    assert.equal((incremental.replaceable_current as any[])[0].created_at, String(T0 + 9));
    await refreshAll(t.db, 'lilbrotr', true);
    assert.deepEqual(await snapshot(t.db, 'lilbrotr'), incremental);
  });
});
