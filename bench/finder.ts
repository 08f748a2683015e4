// `npm run bench:finder`: one full Finder scan of 1,000,000 archived events (BENCH_EVENTS to
// change), through the real stack: Temporal dev server, the production worker entry
// (workers/start-workers.ts) in its own process, PostgreSQL. Prints wall time, events/s, the
// worker's peak RSS and the workflow's history length.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporalExecutable } from '../workers/temporal-binaries.js';
import { finderStatus } from '../workflows/finder.js';
import { databaseServer } from '../test/helpers/database-server.js';
import { freshDatabase } from '../test/helpers/db.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 5000);
const say = (m: string) => console.log(`[bench:finder] ${m}`);

const server = await databaseServer();
const t = await freshDatabase();
const env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } });
try {
  say(`generating ${EVENTS.toLocaleString()} events`);
  const g0 = Date.now();
  // Shaped like a real archive: most events are notes and reactions with e/p tags, a third of
  // those with relay hints (from 20,000 relays); some relay lists (10002), contact lists with the
  // old relay map (3), relay sets (30002). Ids and signatures are random bytes: the Finder does
  // not verify (the Synchronizer did, before storing).
  await t.db.query(`
    INSERT INTO event (id, pubkey, created_at, kind, tags, content, sig)
    SELECT decode(md5(i::text) || md5((-i)::text), 'hex'),
           decode(md5((i % 50000)::text) || md5((i % 50000 + 1)::text), 'hex'),
           1600000000 + i / 3,
           k.kind,
           CASE k.kind
             WHEN 10002 THEN jsonb_build_array(jsonb_build_array('r', 'wss://relay' || (i % 20000) || '.example'),
                                               jsonb_build_array('r', 'wss://relay' || ((i * 7) % 20000) || '.example', 'write'))
             WHEN 30002 THEN jsonb_build_array(jsonb_build_array('d', 'set'), jsonb_build_array('relay', 'wss://relay' || ((i * 3) % 20000) || '.example'))
             ELSE jsonb_build_array(
                    jsonb_build_array('e', md5(i::text) || md5(i::text), CASE WHEN i % 3 = 0 THEN 'wss://relay' || (i % 20000) || '.example/' ELSE '' END, 'reply'),
                    jsonb_build_array('p', md5((i % 50000)::text) || md5((i % 50000)::text), CASE WHEN i % 5 = 0 THEN 'wss://relay' || ((i * 11) % 20000) || '.example' ELSE '' END))
           END,
           CASE k.kind WHEN 3 THEN '{"wss://relay' || (i % 20000) || '.example":{"read":true,"write":true}}' ELSE repeat('note text ', 20) END,
           decode(repeat(md5(i::text), 4), 'hex')
    FROM generate_series(1, $1::int) AS i,
         LATERAL (SELECT CASE WHEN i % 50 = 0 THEN 10002 WHEN i % 97 = 0 THEN 3 WHEN i % 501 = 0 THEN 30002 WHEN i % 4 = 0 THEN 7 ELSE 1 END AS kind) AS k`,
    [EVENTS],
  );
  await t.db.query('ANALYZE event');
  say(`generated in ${((Date.now() - g0) / 1000).toFixed(1)} s`);

  const taskQueue = 'bench-finder';
  // as `npm run start-workers` does: the bundle is built first, in its own process
  await new Promise((r) => spawn(process.execPath, ['--import', 'tsx', 'workers/bundle-workflows.ts'], { stdio: 'ignore' }).on('exit', r));
  const worker = spawn(process.execPath, ['--import', 'tsx', 'workers/start-workers.ts'], {
    env: { ...process.env, DATABASE_URL: t.url, TEMPORAL_ADDRESS: env.address, BIGBROTR__temporal__task_queue: taskQueue, BIGBROTR__finder__apis: '[]' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    worker.stdout?.on('data', (d: Buffer) => String(d).includes('worker on ') && resolve());
    worker.on('exit', (c) => reject(new Error(`worker exited (${c})`)));
  });
  const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const idleRss = peakRss();

  const t0 = Date.now();
  const h = await env.client.workflow.start('finder', { taskQueue, workflowId: 'finder', args: [{ sources: ['events'], pageSize: PAGE, interval: '1h' }] });
  let status;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    status = await h.query(finderStatus);
    if (status.last) break;
  }
  const wall = (Date.now() - t0) / 1000;
  const { historyLength } = await h.describe();
  const candidates = Number((await t.db.query('SELECT count(*) AS n FROM candidate')).rows[0].n);
  say(`events scanned      ${status.last.eventsScanned.toLocaleString()} in ${status.last.pages} pages of ${PAGE}`);
  say(`wall time           ${wall.toFixed(1)} s (target <= 20 s)`);
  say(`throughput          ${Math.round(status.last.eventsScanned / wall).toLocaleString()} events/s`);
  say(`relay URLs found    ${status.last.urlsFound.toLocaleString()} (new candidates ${status.last.newCandidates.toLocaleString()}, in table ${candidates.toLocaleString()})`);
  say(`worker peak RSS     ${peakRss().toFixed(0)} MB (idle after start-up ${idleRss.toFixed(0)} MB; target <= 300 MB)`);
  say(`workflow history    ${historyLength} events (target < 10,000)`);
  await h.cancel();
  worker.kill('SIGINT');
  await new Promise((r) => worker.on('exit', r));
} finally {
  await env.teardown();
  await t.drop();
  await server.stop();
}
