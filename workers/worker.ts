// The workers: workflows and activities on the deployment's task queues.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode, NativeConnection, Worker, type ActivityInterceptorsFactory, type WorkerOptions } from '@temporalio/worker';
import { createPool, redactUrl, type Db } from '../activities/db/db.js';
import { migrate } from '../activities/db/migrate.js';
import { createNetworkActivities } from '../activities/network.js';
import { isDbError, metrics, serviceOf } from '../activities/shared/metrics.js';
import { NETWORKS, networkQueue, syncQueue } from '../common/index.js';
import { createActivities } from './activities.js';
import type { Config } from './config.js';
import { StartupError } from './errors.js';
import { heapLimitMb } from './heap.js';

export const WORKFLOWS_PATH = new URL('../workflows/index.ts', import.meta.url).pathname;
export const WORKFLOW_BUNDLE_PATH = new URL('../.build/workflow-bundle.js', import.meta.url).pathname;
const WORKFLOW_SOURCES = ['../workflows/', '../common/'].map((d) => new URL(d, import.meta.url).pathname);


/**
 * Applies the schema (safe from many workers at once), then builds this process's workers: one on
 * the base task queue (workflows and database activities), and two per network it can reach: its
 * checks on the network's queue, limited to the network's concurrency, and its sync activities on
 * the network's sync queue, limited to `synchronizer.relays_in_flight`. An overlay network without a
 * proxy here is left to workers that have one.
 */
export async function createWorkers(opts: {
  connection: NativeConnection;
  config: Config;
  db: Db;
  log?: (msg: string) => void;
  bundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker[]> {
  const { connection, config, db } = opts;
  await migrate(db, config.deployment, opts.log);
  const base = { connection, namespace: config.temporal.namespace, interceptors: { activity: [countDbErrors] } };
  const workers = [
    await Worker.create({
      ...base,
      taskQueue: config.temporal.task_queue,
      workflowBundle: opts.bundle ?? prebuiltBundle() ?? (await bundleWorkflows()),
      activities: createActivities({ db, config }),
      // The DVM's listeners heartbeat every few seconds with a 30 s timeout: the SDK's default
      // throttle (80% of it) would let a cancel wait 24 s to reach one.
      maxHeartbeatThrottleInterval: '5 seconds',
    }),
  ];
  for (const network of NETWORKS) {
    const { proxy, concurrency } = config.networks[network];
    if (network !== 'clearnet' && !proxy) continue;
    const { syncWindows, ...checks } = createNetworkActivities({ config, network, db });
    workers.push(
      await Worker.create({
        ...base,
        taskQueue: networkQueue(config.temporal.task_queue, network),
        activities: checks,
        maxConcurrentActivityTaskExecutions: concurrency,
      }),
      await Worker.create({
        ...base,
        taskQueue: syncQueue(config.temporal.task_queue, network),
        activities: { syncWindows },
        maxConcurrentActivityTaskExecutions: config.synchronizer.relays_in_flight,
        // A sync activity's heartbeats carry its progress (the last complete window), which a
        // retry resumes from: sent every 5 s at most (not the SDK's 48 s for a 1-minute timeout),
        // a killed worker costs its successor 5 s of windows to read again, for one call per
        // relay in flight every 5 s.
        maxHeartbeatThrottleInterval: '5 seconds',
      }),
    );
  }
  metrics.workerInfo.set({ version: VERSION, deployment: config.deployment, task_queues: workers.map((w) => w.options.taskQueue).join(',') }, 1);
  opts.log?.(`serving task queues: ${workers.map((w) => w.options.taskQueue).join(', ')} (heap limit ${heapLimitMb()} MB)`);
  return workers;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** An activity failed by the database (a query of the pool, or PostgreSQL's own error) counts for its service. */
const countDbErrors: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        if (isDbError(err)) metrics.dbErrors.inc({ service: serviceOf(ctx.info.workflowType) });
        throw err;
      }
    },
  },
});

/** Runs the workers until the process is asked to stop (SIGINT, SIGTERM: a graceful shutdown). */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
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

/**
 * Writes a workflow bundle to WORKFLOW_BUNDLE_PATH: aside, then renamed into place, so that two
 * processes building it at once never load each other's half-written file.
 */
export function writeWorkflowBundle(code: string): void {
  mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  const tmp = `${WORKFLOW_BUNDLE_PATH}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, WORKFLOW_BUNDLE_PATH);
}

/** The bundle `npm run build:workflows` wrote, if it is newer than every workflow source file. */
export function prebuiltBundle(): { codePath: string } | undefined {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) return undefined;
  const built = statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
  const newest = Math.max(
    statSync(new URL('../package-lock.json', import.meta.url)).mtimeMs, // an SDK upgrade
    ...WORKFLOW_SOURCES.flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(dir, f)).mtimeMs)),
  );
  return built >= newest ? { codePath: WORKFLOW_BUNDLE_PATH } : undefined;
}
