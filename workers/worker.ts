// The worker: workflows and activities on the deployment's task queue.
import { bundleWorkflowCode, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createPool, redactUrl, type Db } from '../activities/db.js';
import { migrate } from '../activities/migrate.js';
import { createActivities } from './activities.js';
import type { Config } from './config.js';
import { StartupError } from './errors.js';

export const WORKFLOWS_PATH = new URL('../workflows/index.ts', import.meta.url).pathname;


/** Applies the schema (safe from many workers at once), then builds the worker. */
export async function createWorker(opts: {
  connection: NativeConnection;
  config: Config;
  db: Db;
  log?: (msg: string) => void;
  bundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker> {
  const { connection, config, db } = opts;
  await migrate(db, config.deployment, opts.log);
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.task_queue,
    workflowBundle: opts.bundle ?? (await bundleWorkflows()),
    activities: createActivities({ db, config }),
  });
}

/** Connects to Temporal, or says what to do about it. */
export async function connectTemporal(address: string): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ address });
  } catch (err) {
    throw new StartupError(
      `cannot reach Temporal at ${address}: ${(err as Error).message}. ` +
        'Set TEMPORAL_ADDRESS to a running server, or use `npm start` for the local stack.',
    );
  }
}

/** The process's pool, checked once so that a wrong URL fails start-up with a clear message. */
export async function connectDatabase(url: string, config: Config, name: string): Promise<Db> {
  const db = createPool(url, { max: config.database.pool_max, name });
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.end();
    throw new StartupError(
      `cannot reach PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}. ` +
        'Check DATABASE_URL (or unset it and use `npm start`, which runs an embedded server).',
    );
  }
  return db;
}

/** The workflow code, bundled once; webpack's report is left out of the logs (its errors are not). */
export function bundleWorkflows() {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
}
