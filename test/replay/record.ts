// `npm run record-histories`: runs each workflow for real (Temporal dev server, real PostgreSQL,
// real activities) and saves its history under test/replay/histories/, which the replay test
// replays on every CI run. Re-record when a workflow changes on purpose (see README).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { insertEvents } from '../../activities/store.js';
import { createActivities } from '../../workers/activities.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { databaseServer } from '../helpers/database-server.js';
import { freshDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';
import { signed } from '../helpers/nostr.js';
import { workflowBundle } from '../helpers/temporal.js';

const OUT = new URL('./histories/', import.meta.url).pathname;
const server = await databaseServer();
const t = await freshDatabase();
const cleanups: Array<() => Promise<unknown>> = [];
const env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } });
try {
  const base = testConfig(t.url);
  // A local API source (this process's HTTP server) so the recorded Finder asks one too.
  const api = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('["wss://relay.e.example"]'));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const config = { ...base, finder: { ...base.finder, apis: [{ name: 'local', url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/` }] } };
  cleanups.push(() => new Promise((r) => api.close(r)));
  writeSeedFile(config, 'seed_relays.txt', '# recorded run\nwss://relay.a.example\nwss://relay.b.example\nhttps://not.a.relay\n');
  const taskQueue = 'record';
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }),
  });
  const save = async (name: string, workflowId: string, runId?: string) => {
    const path = join(OUT, `${name}.json`);
    writeFileSync(path, historyToJSON(await env.client.workflow.getHandle(workflowId, runId).fetchHistory()));
    console.log(`recorded ${path}`);
  };
  await worker.runUntil(async () => {
    // Seeder: one run to completion, one URL a batch.
    const seeder = await env.client.workflow.start('seeder', { taskQueue, workflowId: 'seeder', args: [{ batchSize: 1 }] });
    await seeder.result();
    await save('seeder', 'seeder');

    // Finder: a cycle a run, so it continues as new; then cancelled while it sleeps.
    await insertEvents(t.db, [
      signed({ kind: 10002, created_at: 10, tags: [['r', 'wss://relay.c.example']] }),
      signed({ kind: 1, created_at: 11, tags: [['e', 'a'.repeat(64), 'wss://relay.d.example']] }),
    ]);
    const finder = await env.client.workflow.start('finder', {
      taskQueue, workflowId: 'finder', args: [{ cyclesPerRun: 1, interval: '1s', pageSize: 1, sources: ['events', 'apis'] }],
    });
    let runId = finder.firstExecutionRunId;
    while (runId === finder.firstExecutionRunId) {
      await new Promise((r) => setTimeout(r, 200));
      runId = (await env.client.workflow.getHandle('finder').describe()).runId;
    }
    await save('finder-continued-as-new', 'finder', finder.firstExecutionRunId);
    await new Promise((r) => setTimeout(r, 300));
    const latest = env.client.workflow.getHandle('finder');
    await latest.cancel();
    await latest.result().catch(() => {});
    await save('finder-cancelled', 'finder', (await latest.describe()).runId);
  });
} finally {
  for (const c of cleanups) await c();
  await env.teardown();
  await t.drop();
  await server.stop();
}
