// The Refresher workflow under the time-skipping test server, on its real activities and a real
// database: every target in dependency order with its rows and time, a failing target isolated
// (reported, the rest still run), a chosen subset rebuilt, a bad input refused with its field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createRefresherActivities } from '../../activities/refresher/refresher.js';
import { refresher } from '../../workflows/index.js';
import type { RefreshReport } from '../../common/index.js';
import type { TestDatabase } from '../helpers/db.js';
import { testConfig } from '../helpers/config.js';
import { withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));

let n = 0;
async function runRefresher(args: [unknown] = [{}]): Promise<RefreshReport> {
  const taskQueue = `refresher-${++n}`;
  const config = testConfig(t.url, { BIGBROTR__refresher__attempts: '2' });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createRefresherActivities({ db: t.db, config }),
  });
  return worker.runUntil(env.client.workflow.execute(refresher, { taskQueue, workflowId: `refresher-${n}`, args }));
}

async function addEvents(count: number, kind: number) {
  await t.db.query(`INSERT INTO relay (url, network, discovered_at) VALUES ('wss://r.example', 'clearnet', 1) ON CONFLICT DO NOTHING`);
  const ids = Array.from({ length: count }, (_, i) => Buffer.from(`${kind}-${i}-${Date.now()}`.padEnd(32, '.')).subarray(0, 32));
  await t.db.query(
    `SELECT event_insert($1::bytea[], array_fill('\\x01'::bytea || decode(repeat('00', 31), 'hex'), ARRAY[$2::int]),
       array_fill(1700000000::bigint, ARRAY[$2::int]), array_fill($3::int, ARRAY[$2::int]), array_fill('[]'::jsonb, ARRAY[$2::int]),
       array_fill(''::text, ARRAY[$2::int]), array_fill(decode(repeat('00', 64), 'hex'), ARRAY[$2::int]))`,
    [ids, count, kind],
  );
  await t.db.query(`SELECT event_relay_link($1::bytea[], 'wss://r.example', 1700000100)`, [ids]);
}

describe('refresher workflow', () => {
  it('refreshes every target in dependency order and reports rows and times', async () => {
    await addEvents(5, 1);
    const report = await runRefresher();
    assert.deepEqual(
      report.targets.map((r) => [r.target, r.ok, r.full]),
      [
        ['event_stats', true, true], ['replaceable_current', true, true], ['addressable_current', true, true],
        ['relay_stats', true, true], ['relay_check_hour', true, true], ['relay_summary', true, true],
      ],
    );
    assert.equal(report.failed, 0);
    const { rows } = await t.db.query(`SELECT events FROM kind_stats WHERE kind = 1`);
    assert.equal(Number(rows[0].events), 5);
    await addEvents(3, 1);
    const next = await runRefresher();
    assert.ok(next.targets.every((r) => r.ok && !r.full), 'the second run counts only what is new');
    assert.equal(Number((await t.db.query(`SELECT events FROM kind_stats WHERE kind = 1`)).rows[0].events), 8);
    assert.equal(Number((await t.db.query(`SELECT events FROM relay_summary`)).rows[0].events), 8);
  });

  it('a target that fails every attempt is reported, and the targets after it still run', async () => {
    await t.db.query('ALTER TABLE relay_kind_stats RENAME TO relay_kind_stats_away');
    try {
      await addEvents(2, 7);
      const report = await runRefresher();
      const byTarget = Object.fromEntries(report.targets.map((r) => [r.target, r]));
      assert.equal(byTarget.relay_stats!.ok, false);
      assert.match(byTarget.relay_stats!.error ?? '', /relay_kind_stats/);
      assert.equal(report.failed, 1);
      for (const after of ['relay_check_hour', 'relay_summary', 'event_stats'] as const) assert.ok(byTarget[after]!.ok, `${after} ran`);
    } finally {
      await t.db.query('ALTER TABLE relay_kind_stats_away RENAME TO relay_kind_stats');
    }
    // The failed target's changes were not lost: the next refresh counts them.
    const report = await runRefresher();
    assert.equal(report.failed, 0);
    assert.equal(Number((await t.db.query(`SELECT events FROM relay_kind_stats WHERE kind = 7`)).rows[0].events), 2);
  });

  it('rebuilds only the targets asked for, from scratch, when told to', async () => {
    const report = await runRefresher([{ full: true, targets: ['relay_summary', 'event_stats'] }]);
    assert.deepEqual(report.targets.map((r) => [r.target, r.full]), [['event_stats', true], ['relay_summary', true]]);
  });

  it('refuses an input naming an unknown target, with the field', async () => {
    const err = await runRefresher([{ targets: ['everything'] }]).then(() => assert.fail('should fail'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String((err.cause as Error).message), /targets/);
  });
});
