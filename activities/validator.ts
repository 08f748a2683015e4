// The Validator's database effects: page through the candidates, record what each probe found.
// A promoted relay is handed on at once: its first Monitor check starts, and the Synchronizer is
// woken, so neither waits for its interval (which stays the upper bound between passes).
import { getClient, log } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { CoordinatorSettings, MonitorCheck, ProbeOutcome, ValidationRecord } from '../common/index.js';
import type { Network } from '../common/index.js';
import type { Db } from './db.js';
import type { ActivityDeps } from './seeder.js';
import type { Config } from '../workers/config.js';
import { NETWORKS } from '../common/index.js';

export interface PageQuery {
  after: string | null;
  limit: number;
  networks: Network[];
}
type Row = { url: string; network: Network };

/** The next rows of `table` after `after`, in URL order, of the given networks: a page, small and bounded. */
export async function pageByUrl(db: Db, table: 'candidate' | 'relay', q: PageQuery): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT url, network FROM ${table} WHERE ($1::text IS NULL OR url > $1::text) AND network = ANY($3::text[])
     ORDER BY url LIMIT $2::int`,
    [q.after, q.limit, q.networks],
  );
  return rows;
}

/** Clearnet, and every overlay network the config gives a proxy. */
export function reachableNetworks(config: Config): Network[] {
  return NETWORKS.filter((n) => n === 'clearnet' || config.networks[n].proxy !== '');
}

/** The coordinators' fixed workflow IDs (workers/pipeline.ts starts them under these). */
export const COORDINATOR = { validator: 'validator', monitor: 'monitor', synchronizer: 'synchronizer' } as const;
/** The one relay's Monitor workflow: the ID the Monitor's coordinator gives its child. */
export const monitorWorkflowId = (url: string) => `monitor/${url}`;

/**
 * Sends `runNow` to a coordinator: it cuts the coordinator's sleep short, or, during a pass, asks
 * for the next pass right after it (workflows/coordinator.ts). A coordinator that is not running
 * (not started yet, or stopped by a person) is left so: its next start reads its table from the
 * first row anyway. Returns whether the signal was delivered.
 */
/**
 * The worker's Temporal client, for the activities that hand work on; undefined where there is
 * none (an activity run outside a worker, as the integration tests run them): nothing is handed
 * on, and the next passes take the work up.
 */
export function temporalClient(): Client | undefined {
  try {
    return getClient();
  } catch {
    return undefined;
  }
}

export async function wakeCoordinator(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).signal('runNow');
    return true;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    log.info('coordinator not running: not woken', { workflowId });
    return false;
  }
}

/** What a relay's check runs, and whether it publishes: the Monitor's settings from the config. */
export function monitorChecks(config: Config): { checks: MonitorCheck[]; publish: boolean } {
  const m = config.monitor;
  return { checks: m.checks, publish: !!m.private_key && m.publish_relays.length > 0 };
}

/**
 * Starts the first check of a just-promoted relay: its own Monitor workflow, with the ID and on the
 * task queue the Monitor's coordinator would use, so the two never check one relay at once (a
 * running check wins, the other start is refused). A `runNow` to the Monitor would instead start a
 * pass over every relay, per promotion. Nothing starts while the Monitor's coordinator does not run
 * (a person stopped it, or the pipeline has not started it yet).
 */
export async function startMonitorCheck(client: Client, config: Config, url: string, network: Network): Promise<'started' | 'running' | 'monitor not running'> {
  const coordinator = await client.workflow
    .getHandle(COORDINATOR.monitor)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  if (coordinator?.status.name !== 'RUNNING') {
    log.info('monitor not running: the promoted relay waits for its next pass', { url });
    return 'monitor not running';
  }
  const input = { url, network, generatedAt: Math.floor(Date.now() / 1000), ...monitorChecks(config) };
  try {
    await client.workflow.start('monitorRelay', { workflowId: monitorWorkflowId(url), taskQueue: coordinator.taskQueue, args: [input] });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return 'running'; // the coordinator's pass checks it right now
  }
}

export const createValidatorActivities = ({ db, config }: ActivityDeps) => {
  /**
   * The promoted relay's first check and sync start now. Best effort: the promotion is done and
   * stays done (a retry of this activity would only probe nothing new), and the Monitor's and the
   * Synchronizer's next passes take the relay up in any case.
   */
  async function handOn(url: string, network: Network): Promise<void> {
    const client = temporalClient();
    if (!client) return;
    const [monitor, sync] = await Promise.allSettled([startMonitorCheck(client, config, url, network), wakeCoordinator(client, COORDINATOR.synchronizer)]);
    for (const r of [monitor, sync]) {
      if (r.status === 'rejected') log.warn('could not hand the promoted relay on at once: the next pass takes it up', { url, error: (r.reason as Error).message });
    }
    if (monitor.status === 'fulfilled') log.info('promoted relay handed on', { url, monitor: monitor.value, synchronizer: sync.status === 'fulfilled' && sync.value ? 'woken' : 'not woken' });
  }

  return {
  async validatorSettings(): Promise<CoordinatorSettings> {
    const v = config.validator;
    return { intervalMs: v.interval, pageSize: v.page_size, maxInFlight: v.max_in_flight, networks: reachableNetworks(config) };
  },

  /**
   * The next candidates after `after`, in URL order (a page: small and bounded), that are due: new
   * ones, and those last probed an interval ago or more. A pass woken early (new candidates,
   * `runNow`) then probes only what is new, and a dead candidate still fails at most once an
   * interval, however often passes run.
   */
  async candidatePage(q: PageQuery): Promise<Row[]> {
    const dueBefore = Math.floor((Date.now() - config.validator.interval) / 1000);
    const { rows } = await db.query<Row>(
      `SELECT url, network FROM candidate
       WHERE ($1::text IS NULL OR url > $1::text) AND network = ANY($3::text[])
         AND (last_checked_at IS NULL OR last_checked_at <= $4::bigint)
       ORDER BY url LIMIT $2::int`,
      [q.after, q.limit, q.networks, dueBefore],
    );
    return rows;
  },

  /** A valid candidate becomes a relay; an invalid one has its failures raised, and is dropped at the limit. */
  async recordValidation(o: ProbeOutcome & { network: Network }): Promise<ValidationRecord> {
    const now = Math.floor(Date.now() / 1000);
    if (o.verdict === 'skipped') return { ...o, result: 'skipped' };
    if (o.verdict === 'valid') {
      await db.query('SELECT candidate_promote($1::text[], $2::text[], $3::bigint)', [[o.url], [o.network], now]);
      await handOn(o.url, o.network);
      return { ...o, result: 'promoted' };
    }
    const { rows } = await db.query<{ failures: number; dropped: boolean }>(
      'SELECT failures, dropped FROM candidate_fail($1::text[], $2::text[], $3::bigint, $4::int)',
      [[o.url], [o.reason.slice(0, 1000)], now, config.validator.max_failures],
    );
    const row = rows[0];
    // No row: the candidate went away meanwhile (another pass promoted it, or it was dropped).
    if (!row) return { ...o, result: 'gone' };
    return { ...o, result: row.dropped ? 'dropped' : 'failed', failures: row.failures };
  },
  };
};

export type ValidatorActivities = ReturnType<typeof createValidatorActivities>;
