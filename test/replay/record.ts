// `npm run record-histories`: runs each workflow for real (Temporal dev server, real PostgreSQL,
// real activities) and saves its history under test/replay/histories/, which the replay test
// replays on every CI run. Re-record when a workflow changes on purpose (see README).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../workers/activities.js';
import { startEmbeddedPostgres } from '../../workers/embedded-postgres.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { freshDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';
import { workflowBundle } from '../helpers/temporal.js';

const OUT = new URL('./histories/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'bigbrotr-record-'));
let stopPg = async () => {};
if (!process.env.DATABASE_URL) {
  const pg = await startEmbeddedPostgres(tmp, 'postgres');
  process.env.DATABASE_URL = pg.url;
  stopPg = () => pg.stop();
}
const t = await freshDatabase();
const env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } });
try {
  const config = testConfig(t.url);
  writeSeedFile(config, 'seed_relays.txt', '# recorded run\nwss://relay.a.example\nwss://relay.b.example\nhttps://not.a.relay\n');
  const taskQueue = 'record';
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }),
  });
  await worker.runUntil(async () => {
    for (const [workflowId, type, args] of [['seeder', 'seeder', [{ batchSize: 1 }]]] as const) {
      const handle = await env.client.workflow.start(type, { taskQueue, workflowId, args: [...args] });
      await handle.result();
      const path = join(OUT, `${workflowId}.json`);
      writeFileSync(path, historyToJSON(await handle.fetchHistory()));
      console.log(`recorded ${path}`);
    }
  });
} finally {
  await env.teardown();
  await t.drop();
  await stopPg();
  rmSync(tmp, { recursive: true, force: true });
}
