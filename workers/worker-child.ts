// The workers of `npm start`, in a process of their own (workers/stack-worker.ts starts it), so
// that a worker dying (out of memory, killed by a hostile relay) leaves PostgreSQL, Temporal and the
// launcher up; the launcher restarts it. As `npm run start-workers` runs them, with DATABASE_URL and
// TEMPORAL_ADDRESS from the launcher, plus: a `ready` message once the workers are built, the
// workflow bundle saved for the next start, and a shutdown when the launcher is gone.
import { loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { configureLogging } from './logging.js';
import { runMain, say } from './main.js';
import { startMetricsServer } from './metrics-server.js';
import { installRuntime } from './runtime.js';
import { bundleWorkflows, connectDatabase, connectTemporal, createWorkers, prebuiltBundle, runWorkers, WORKFLOW_BUNDLE_PATH, writeWorkflowBundle } from './worker.js';

// Before the Runtime, a stop ends the process at once. After it, the Runtime's shutdown (which
// stops listening after the first SIGINT/SIGTERM) must not be cut short by a second one: Ctrl-C
// reaches this process and the launcher, which then asks it too.
let runtime = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => runtime || process.exit(0));
// The launcher killed (kill -9, out of memory): no one would stop or restart this process. A
// shutdown that hangs (its servers stopped by the next launcher) is cut after 30 s.
process.on('disconnect', () => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 30_000).unref();
});

runMain(async () => {
  const config = loadConfig();
  const logger = configureLogging(config, 'worker');
  const address = config.temporal.address;
  if (!config.database.url || !address) throw new StartupError('the worker process is started by `npm start`, with DATABASE_URL and TEMPORAL_ADDRESS');
  const db = await connectDatabase(config.database.url, config, 'bigbrotr-worker');
  await installRuntime(config, logger); // before the first connection
  runtime = true;
  const metrics = await startMetricsServer({ config, db });
  const connection = await connectTemporal(address);
  const workers = await createWorkers({ connection, config, db, log: say, bundle: prebuiltBundle() ?? (await saveBundle()) });
  process.send?.({ ready: true });
  await runWorkers(workers);
  await connection.close();
  await metrics?.close();
  await db.end();
  say('worker stopped');
});

/** Bundles the workflows once, for this start and the restarts after it (webpack takes seconds and ~150 MB). */
async function saveBundle(): Promise<{ codePath: string }> {
  writeWorkflowBundle((await bundleWorkflows()).code);
  return { codePath: WORKFLOW_BUNDLE_PATH };
}
