import assert from 'node:assert/strict';
import { symlinkSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createSeederActivities } from '../../activities/seeder/seeder.js';
import { seeder } from '../../workflows/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';
import { withEnvironmentAndDatabase, workflowBundle } from '../helpers/temporal.js';

let env: TestWorkflowEnvironment;
let t: TestDatabase;
withEnvironmentAndDatabase((e, db) => ([env, t] = [e, db]));

let n = 0;
async function runSeeder(activities: object, args: [unknown] = [{}]) {
  const taskQueue = `seeder-${++n}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(env.client.workflow.execute(seeder, { taskQueue, workflowId: `seeder-${n}`, args }));
}

/** The ApplicationFailure that failed the workflow, looked for down the cause chain. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => assert.fail('the workflow should have failed'), (e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  let cause: unknown = err.cause;
  while (cause && !(cause instanceof ApplicationFailure)) cause = (cause as Error).cause;
  assert.ok(cause instanceof ApplicationFailure, String(err.cause));
  return cause;
}

describe('seeder workflow', () => {
  it('checks the schema and loads the seed file into candidates on a real database', async () => {
    const config = testConfig(t.url);
    writeSeedFile(config, 'seed_relays.txt', 'wss://relay.a.example\nwss://relay.b.example\nnot a url\n');
    const report = await runSeeder(createSeederActivities({ db: t.db, config }));
    assert.equal(report.read, 3);
    assert.equal(report.valid, 2);
    assert.equal(report.inserted, 2);
    assert.deepEqual(report.invalidReasons, { 'control-characters': 1 });
    assert.equal(await count(t.db, 'SELECT * FROM candidate'), 2);
    const again = await runSeeder(createSeederActivities({ db: t.db, config }));
    assert.equal(again.inserted, 0);
    assert.equal(again.alreadyKnown, 2);
  });

  it('a failing activity is retried by Temporal and the workflow still completes', async () => {
    const config = testConfig(t.url);
    writeSeedFile(config, 'seed_relays.txt', 'wss://relay.retry.example\n');
    const real = createSeederActivities({ db: t.db, config });
    let attempts = 0;
    const report = await runSeeder({
      ...real,
      async seedCandidates(input: object) {
        attempts++;
        if (attempts < 3) throw new Error('connection terminated unexpectedly'); // what pg says when the server goes away
        return real.seedCandidates(input);
      },
    });
    assert.equal(attempts, 3);
    assert.equal(report.inserted, 1);
  });

  it('fails without retrying when the schema is incomplete, naming what is missing', async () => {
    const bare = await freshDatabase({ migrate: false });
    try {
      const failure = await failureOf(runSeeder(createSeederActivities({ db: bare.db, config: testConfig(bare.url) })));
      assert.equal(failure.type, 'SchemaIncomplete');
      assert.match(failure.message, /schema is incomplete \(missing: schema_migration/);
    } finally {
      await bare.drop();
    }
  });

  it('rejects a bad input from the Web UI with the field named', async () => {
    const failure = await failureOf(runSeeder(createSeederActivities({ db: t.db, config: testConfig(t.url) }), [{ batchSize: 'lots' }]));
    assert.equal(failure.type, 'BadInput');
    assert.match(failure.message, /invalid seeder input: batchSize: .*number/);
    const unknown = await failureOf(runSeeder(createSeederActivities({ db: t.db, config: testConfig(t.url) }), [{ bachSize: 5 }]));
    assert.match(unknown.message, /bachSize/);
  });

  it('a seed file that does not exist fails the workflow at once, naming the file', async () => {
    const failure = await failureOf(runSeeder(createSeederActivities({ db: t.db, config: testConfig(t.url) }), [{ file: 'nope.txt' }]));
    assert.equal(failure.type, 'BadInput');
    assert.match(failure.message, /cannot read seed file .*nope\.txt/);
  });

  it('refuses a file name that points out of the seed folder at once, before any activity runs', async () => {
    let seeded = 0;
    const real = createSeederActivities({ db: t.db, config: testConfig(t.url) });
    const acts = { ...real, seedCandidates: async (input: object) => (seeded++, real.seedCandidates(input)) };
    for (const file of ['/etc/passwd', '../../etc/passwd', 'C:\\Windows\\win.ini']) {
      const failure = await failureOf(runSeeder(acts, [{ file }]));
      assert.equal(failure.type, 'BadInput');
      assert.match(failure.message, /invalid seeder input: file: must (be a path relative to|not contain "\.\.")/);
      assert.doesNotMatch(failure.message, /root:/);
    }
    assert.equal(seeded, 0);
  });

  it('a symlink out of the seed folder, or a file over the size cap, fails the workflow after one attempt', async () => {
    const config = testConfig(t.url);
    symlinkSync('/etc/passwd', join(config.dir, 'passwd.txt'));
    truncateSync(writeSeedFile(config, 'huge.txt', 'wss://huge.example\n'), 50 * 1024 * 1024);
    const real = createSeederActivities({ db: t.db, config });
    let attempts = 0;
    const acts = { ...real, seedCandidates: async (input: object) => (attempts++, real.seedCandidates(input)) };
    const link = await failureOf(runSeeder(acts, [{ file: 'passwd.txt' }]));
    assert.equal(link.type, 'BadInput');
    assert.match(link.message, /seeder input file "passwd\.txt" refused: it leads out of the seed folder/);
    assert.doesNotMatch(link.message, /root:/);
    const huge = await failureOf(runSeeder(acts, [{ file: 'huge.txt' }]));
    assert.equal(huge.type, 'BadInput');
    assert.match(huge.message, /more than 20000000 \(config seeder\.max_file_bytes\)/);
    assert.equal(attempts, 2); // one each: bad input is not retried
  });
});
