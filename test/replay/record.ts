// `npm run record-histories`: runs each workflow for real (Temporal dev server, real PostgreSQL,
// real activities) and saves its history under test/replay/histories/, which the replay test
// replays on every CI run. Re-record when a workflow changes on purpose (see README). Names given
// (`npm run record-histories -- refresher`) write only those histories: the others keep the
// versions they were recorded with, which running deployments may still hold.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { bytesToHex } from 'nostr-tools/utils';
import { Worker } from '@temporalio/worker';
import { createNetworkActivities } from '../../activities/network.js';
import { insertCandidates, insertEvents } from '../../activities/db/store.js';
import { openRelay } from '../../activities/relay/relay-socket.js';
import { networkQueue, syncQueue } from '../../common/index.js';
import type { Config } from '../../workers/config.js';
import { createActivities } from '../../workers/activities.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { databaseServer } from '../helpers/database-server.js';
import { freshDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';
import { startLocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { workflowBundle } from '../helpers/temporal.js';

const OUT = new URL('./histories/', import.meta.url).pathname;
const only = process.argv.slice(2);
const server = await databaseServer();
const t = await freshDatabase();
const cleanups: Array<() => Promise<unknown>> = [];
const env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } });
try {
  const base = testConfig(t.url);
  const dvmKey = generateSecretKey();
  // A local API source (this process's HTTP server) so the recorded Finder asks one too.
  const api = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('["wss://relay.e.example"]'));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => api.close(r)));
  // Local relays for the Validator and the Monitor: one to check, one to publish to.
  const relay = await startLocalRelay({ nip11: { name: 'recorded relay', supported_nips: [1, 11] }, events: [signed({ kind: 1, content: 'hi' })] });
  const target = await startLocalRelay();
  cleanups.push(() => relay.stop(), () => target.stop());
  const config: Config = {
    ...base,
    relay_url: { allow_local: true },
    finder: { ...base.finder, apis: [{ name: 'local', url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/` }] },
    networks: { ...base.networks, clearnet: { ...base.networks.clearnet, timeout: 1000 } },
    synchronizer: { ...base.synchronizer, start: Math.floor(Date.now() / 1000) - 600, end_lag: 1000 },
    monitor: { ...base.monitor, private_key: bytesToHex(generateSecretKey()), publish_relays: [target.url], checks: ['nip11', 'open', 'read', 'write', 'http'] },
    dvm: { ...base.dvm, enabled: true, relays: [target.url], private_key: bytesToHex(dvmKey) },
  };
  writeSeedFile(config, 'seed_relays.txt', '# recorded run\nwss://relay.a.example\nwss://relay.b.example\nhttps://not.a.relay\n');
  const taskQueue = 'record';
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities({ db: t.db, config }),
  });
  const net = createNetworkActivities({ config, network: 'clearnet', db: t.db });
  const clearnet = await Worker.create({ connection: env.nativeConnection, taskQueue: networkQueue(taskQueue, 'clearnet'), activities: net });
  const sync = await Worker.create({ connection: env.nativeConnection, taskQueue: syncQueue(taskQueue, 'clearnet'), activities: { syncWindows: net.syncWindows } });
  const done = async (workflowId: string) => {
    for (;;) {
      const d = await env.client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      if (d && d.status.name !== 'RUNNING') return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const cancel = async (workflowId: string) => {
    const h = env.client.workflow.getHandle(workflowId);
    await h.cancel();
    await h.result().catch(() => {});
    return (await h.describe()).runId;
  };
  const save = async (name: string, workflowId: string, runId?: string) => {
    if (only.length && !only.includes(name)) return;
    const path = join(OUT, `${name}.json`);
    writeFileSync(path, historyToJSON(await env.client.workflow.getHandle(workflowId, runId).fetchHistory()));
    console.log(`recorded ${path}`);
  };
  await sync.runUntil(() => clearnet.runUntil(() => worker.runUntil(async () => {
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

    // Validator: a page of two candidates a run (so it continues as new), one child per candidate.
    await insertCandidates(t.db, [{ url: relay.url, network: 'clearnet', source: 'seed' }], 1, { allowLocal: true });
    const validator = await env.client.workflow.start('validator', { taskQueue, workflowId: 'validator', args: [{ pageSize: 2, interval: '1h' }] });
    await done(`validate/${relay.url}`);
    await save('validate-candidate', `validate/${relay.url}`);
    await save('validator-continued-as-new', 'validator', validator.firstExecutionRunId);
    await cancel('validator');

    // Monitor: the coordinator starts the promoted relay's workflow, which checks it, publishes its
    // 30166 and waits its interval; cancelling the coordinator cancels it. (monitor-passes-cancelled
    // and monitor-relay-one-check are the one-check-per-pass Monitor of earlier versions.)
    await env.client.workflow.start('monitor', { taskQueue, workflowId: 'monitor', args: [{ interval: '1h' }] });
    const monitorRelay = env.client.workflow.getHandle(`monitor/${relay.url}`);
    for (;;) {
      const s = await monitorRelay.query<{ phase: string; checks: number }>('status').catch(() => undefined);
      if (s?.phase === 'waiting' && s.checks === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await save('monitor-cancelled', 'monitor', await cancel('monitor'));
    await done(`monitor/${relay.url}`);
    await save('monitor-relay-cancelled', `monitor/${relay.url}`);

    // Synchronizer: a page of one relay a run (so it continues as new); the relay's sync workflow
    // archives the last ten minutes and sleeps; cancelling the coordinator cancels it.
    const synchronizer = await env.client.workflow.start('synchronizer', { taskQueue, workflowId: 'synchronizer', args: [{ pageSize: 1 }] });
    const sync = env.client.workflow.getHandle(`sync/${relay.url}`);
    for (;;) {
      const s = await sync.query<{ phase: string }>('status').catch(() => undefined);
      if (s?.phase === 'caught up') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await save('synchronizer-continued-as-new', 'synchronizer', synchronizer.firstExecutionRunId);
    await save('synchronizer-cancelled', 'synchronizer', await cancel('synchronizer'));
    await done(`sync/${relay.url}`);
    await save('sync-relay-cancelled', `sync/${relay.url}`);

    // Refresher: what the Schedule starts, on the archive the runs above made (a full build).
    await env.client.workflow.execute('refresher', { taskQueue, workflowId: 'refresher', args: [{}] });
    await save('refresher', 'refresher');

    // DVM: announces itself, listens on the target relay, answers one request (its own job
    // workflow, ID dvm-job/<request id>), and is cancelled while listening.
    await env.client.workflow.start('dvm', { taskQueue, workflowId: 'dvm', args: [{ round: '2s' }] });
    const request = finalizeEvent(
      { kind: 5050, created_at: Math.floor(Date.now() / 1000), content: '', tags: [['i', 'summary', 'text'], ['p', getPublicKey(dvmKey)]] },
      generateSecretKey(),
    );
    const conn = await openRelay(target.url, { timeoutMs: 2000 });
    conn.send(['EVENT', request]);
    await conn.next((m) => (m[0] === 'OK' ? m : undefined), 2000);
    conn.close();
    await done(`dvm-job/${request.id}`);
    await save('dvm-job', `dvm-job/${request.id}`);
    await save('dvm-cancelled', 'dvm', await cancel('dvm'));
  })));
} finally {
  for (const c of cleanups) await c();
  await env.teardown();
  await t.drop();
  await server.stop();
}
