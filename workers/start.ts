// `npm start`: the whole local stack from nothing. PostgreSQL (embedded, unless DATABASE_URL is set),
// the Temporal dev server with its Web UI (unless TEMPORAL_ADDRESS is set), the workers (a child
// process: stack-worker.ts), the pipeline and the API. Data lives under .data/ (BIGBROTR_DATA_DIR)
// and survives restarts; Ctrl-C stops it all. The servers are watched (restarted when they die,
// within bounds), the worker process too (restarted for ever, after a growing delay); what a crashed
// launcher left running is stopped by the next one (stack-leftovers.ts).
import { chmodSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { redactUrl } from '../activities/db/db.js';
import { startApiServer } from '../api/server.js';
import { connectReader } from '../read/index.js';
import { loadConfig, PROJECT_DIR } from './config.js';
import { assertPortFree, startEmbeddedPostgres } from './embedded-postgres.js';
import { StartupError } from './errors.js';
import { startLauncherMetrics } from './launcher-metrics.js';
import { configureLogging } from './logging.js';
import { runMain, say } from './main.js';
import { startPipeline } from './pipeline.js';
import { takeOverDataFolder } from './stack-leftovers.js';
import { supervise, type Supervision } from './stack-supervisor.js';
import { startTemporalDevServer } from './stack-temporal.js';
import { startWorkerProcess, type RunningWorker } from './stack-worker.js';

/** A stop asked for (Ctrl-C, SIGTERM, a server given up on) while the stack was starting. */
class Stopping extends Error {}

runMain(async () => {
  const started = Date.now();
  const config = loadConfig();
  configureLogging(config, 'launcher');
  const dataDir = resolve(process.env.BIGBROTR_DATA_DIR ?? join(PROJECT_DIR, '.data'));
  // The launcher's user alone reads it: the database's password, Temporal's state, the logs.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  // Undone in reverse order on the way out.
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    for (const fn of cleanups.reverse()) {
      // A step that hangs (a server already gone) must not keep the rest from stopping.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 20 s')), 20_000)));
      await Promise.race([fn(), timeout])
        .catch((err: Error) => say(`while stopping: ${err.message}`))
        .finally(() => clearTimeout(timer));
    }
  };
  // Once the stack stops (Ctrl-C, SIGTERM, a server given up on), a process's exit is expected.
  let stopping = false;
  let stopNow = () => {};
  const stop = new Promise<void>((r) => (stopNow = r));
  const onSignal = () => {
    stopping = true;
    stopNow();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);
  // Between start-up steps: a stop asked for meanwhile ends start-up (a step under way finishes first).
  const goOn = () => {
    if (stopping) throw new Stopping();
  };
  let failed: string | undefined;
  const giveUp = (why: string) => {
    if (failed) return;
    [failed, stopping] = [why, true];
    stopNow();
  };

  // Before anything starts: a taken API port stops start-up with what to do, not half a stack later.
  if (config.api.port !== 0) await assertPortFree(config.api.port, 'HTTP API', 'BIGBROTR__api__port (config api.port; 0: any free port)');
  if (config.metrics.port !== 0) await assertPortFree(config.metrics.port, 'metrics endpoint', 'BIGBROTR__metrics__port (config metrics.port; 0: none)');
  const temporalDb = join(dataDir, 'temporal.db');
  const record = await takeOverDataFolder(dataDir, temporalDb, say);
  let worker: Supervision<RunningWorker> | undefined;
  try {
    let dbUrl = config.database.url;
    if (!dbUrl) {
      const first = await startEmbeddedPostgres(dataDir, config.deployment, say);
      const watch = supervise('the embedded PostgreSQL', first, {
        restart: () => startEmbeddedPostgres(dataDir, config.deployment, say, { port: first.port }),
        restarted: (pg) => record.set({ postgres: { pid: pg.pid, port: pg.port, dir: pg.dir } }),
        stopping: () => stopping,
        say,
        giveUp,
      });
      record.set({ postgres: { pid: first.pid, port: first.port, dir: first.dir } });
      cleanups.push(() => watch.current().stop());
      dbUrl = first.url;
      say(`PostgreSQL: embedded server, data in ${first.dir}, ${redactUrl(dbUrl)}, log in ${first.logFile}`);
      say(`PostgreSQL: to connect, ${first.psql}`);
    } else say('PostgreSQL: DATABASE_URL');
    goOn();

    let address = config.temporal.address;
    let webUi = process.env.TEMPORAL_UI_URL ?? '(the Web UI of your Temporal server)';
    if (!address) {
      const port = portFromEnv('TEMPORAL_PORT', 7233);
      const uiPort = portFromEnv('TEMPORAL_UI_PORT', 8233);
      await assertPortFree(port, 'Temporal server', 'TEMPORAL_PORT');
      await assertPortFree(uiPort, 'Temporal Web UI', 'TEMPORAL_UI_PORT');
      const options = { port, uiPort, namespace: config.temporal.namespace, dbFile: temporalDb, logFile: join(dataDir, 'temporal.log'), say };
      const first = await startTemporalDevServer(options); // workflow histories survive restarts
      const watch = supervise('the Temporal dev server', first, {
        restart: () => startTemporalDevServer(options),
        restarted: (t) => record.set({ temporal: { pid: t.pid, port, uiPort } }),
        stopping: () => stopping,
        say,
        giveUp,
      });
      record.set({ temporal: { pid: first.pid, port, uiPort } });
      cleanups.push(() => watch.current().stop());
      address = first.address;
      webUi = `http://127.0.0.1:${uiPort}`;
      say(`Temporal: dev server at ${address}, state in ${temporalDb}, log in ${first.logFile}`);
    } else say(`Temporal: ${address}`);
    goOn();

    // The workers apply the schema before they say they are ready: the API's role comes with it.
    const startWorker = () => startWorkerProcess({ databaseUrl: dbUrl, temporalAddress: address, metrics: config.metrics.port !== 0 });
    const firstWorker = await startWorker();
    // A hostile relay may kill the workers again and again: restarted for ever, never given up on.
    worker = supervise('the worker process', firstWorker, {
      restart: startWorker,
      stopping: () => stopping,
      say,
      giveUp,
      backoff: { firstMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 },
    });
    say(`workers: process ${firstWorker.pid}, restarted if it dies`);
    goOn();
    const metrics = await startLauncherMetrics(config, () => worker?.current().metrics);
    if (metrics) {
      cleanups.push(() => metrics.close());
      say(`metrics: ${metrics.url}`);
    }
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const outcomes = await startPipeline(client, config);
    for (const [id, outcome] of Object.entries(outcomes)) say(`workflow ${id}: ${outcome}`);
    // The read side: the HTTP API on the same database, reading as the read-only role.
    const reader = await connectReader({ ...config, database: { ...config.database, url: dbUrl } });
    cleanups.push(() => reader.end());
    const api = await startApiServer({ config, db: reader, log: say });
    cleanups.push(() => api.close());
    say(`API: ${api.url}/v1 (docs: ${api.url}/docs)`);
    say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`Web UI: ${webUi}/namespaces/${config.temporal.namespace}/workflows`);
    say('Ctrl-C stops everything; the next `npm start` resumes where this one stopped');
    await stop;
  } catch (err) {
    // A stop during start-up (the servers may have had the same Ctrl-C), or a server given up on,
    // which makes the next step fail: the cause is the news.
    if (!stopping) throw err;
  } finally {
    stopping = true;
    // The workers first, gracefully (their running activities end), while the servers still run.
    if (worker) {
      await worker.current().stop();
      say('stopping the servers');
    }
    await cleanUp();
    record.clear(); // what this launcher started is stopped
  }
  if (failed) throw new StartupError(failed);
  say('stopped');
});

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartupError(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}
