// `npm start`: the whole local stack from nothing. PostgreSQL (embedded, unless DATABASE_URL is set),
// the Temporal dev server with its Web UI (unless TEMPORAL_ADDRESS is set), the workers, and the
// pipeline. Data lives under .data/ (BIGBROTR_DATA_DIR) and survives restarts; Ctrl-C stops it all.
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig, PROJECT_DIR } from './config.js';
import { assertPortFree, startEmbeddedPostgres } from './embedded-postgres.js';
import { StartupError } from './errors.js';
import { runMain, say } from './main.js';
import { startPipeline } from './pipeline.js';
import { installHint, temporalExecutable } from './temporal-binaries.js';
import { connectDatabase, connectTemporal, createWorkers, runWorkers } from './worker.js';

runMain(async () => {
  const started = Date.now();
  const config = loadConfig();
  const dataDir = resolve(process.env.BIGBROTR_DATA_DIR ?? join(PROJECT_DIR, '.data'));
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
  try {
    let dbUrl = config.database.url;
    if (!dbUrl) {
      const server = await startEmbeddedPostgres(dataDir, config.deployment, say);
      cleanups.push(() => server.stop());
      dbUrl = server.url;
      say(`PostgreSQL: embedded server, data in ${join(dataDir, 'pg')}, ${dbUrl.replace(/:[^:@/]*@/, ':***@')}`);
    } else say('PostgreSQL: DATABASE_URL');
    const db = await connectDatabase(dbUrl, config, 'bigbrotr-launcher');
    cleanups.push(() => db.end());

    let address = config.temporal.address;
    let webUi = process.env.TEMPORAL_UI_URL ?? '(the Web UI of your Temporal server)';
    if (!address) {
      const port = portFromEnv('TEMPORAL_PORT', 7233);
      const uiPort = portFromEnv('TEMPORAL_UI_PORT', 8233);
      await assertPortFree(port, 'Temporal server', 'TEMPORAL_PORT');
      await assertPortFree(uiPort, 'Temporal Web UI', 'TEMPORAL_UI_PORT');
      const executable = temporalExecutable('cli');
      if (executable.type === 'cached-download') say(`no Temporal CLI found: the SDK downloads one (needs internet); to use a local one, ${installHint('cli')}`);
      const env = await TestWorkflowEnvironment.createLocal({
        server: {
          executable,
          ip: '127.0.0.1',
          port,
          ui: true,
          uiPort,
          namespace: config.temporal.namespace,
          dbFilename: join(dataDir, 'temporal.db'), // workflow histories survive restarts
        },
      }).catch((err: Error) => {
        throw new StartupError(`the Temporal dev server did not start: ${err.message}; ${installHint('cli')}`);
      });
      cleanups.push(() => env.teardown());
      address = env.address;
      webUi = `http://127.0.0.1:${uiPort}`;
      say(`Temporal: dev server at ${address}, state in ${join(dataDir, 'temporal.db')}`);
    } else say(`Temporal: ${address}`);

    const connection = await connectTemporal(address);
    cleanups.push(() => connection.close());
    const clientConnection = await Connection.connect({ address });
    cleanups.push(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });

    const workers = await createWorkers({ connection, config, db, log: say });
    const running = runWorkers(workers);
    const outcomes = await startPipeline(client, config);
    for (const [id, outcome] of Object.entries(outcomes)) say(`workflow ${id}: ${outcome}`);
    say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`Web UI: ${webUi}/namespaces/${config.temporal.namespace}/workflows`);
    say('Ctrl-C stops everything; the next `npm start` resumes where this one stopped');
    // The SDK's runtime turns Ctrl-C (SIGINT) and SIGTERM into a graceful worker shutdown.
    await running;
    say('worker stopped; stopping the servers');
  } finally {
    await cleanUp();
  }
  say('stopped');
});

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartupError(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}
