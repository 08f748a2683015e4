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
import { ladderStep, ladderWaitMs, NETWORKS } from '../common/index.js';

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
 * Starts a just-promoted relay's Monitor workflow (its first check runs at once), with the ID and
 * on the task queue the Monitor's coordinator would use, so a relay never has two (the second start
 * is refused). Nothing starts while the Monitor's coordinator does not run (a person stopped it, or
 * the pipeline has not started it yet): its next pass starts the relay's workflow.
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
  const input = { url, network };
  try {
    await client.workflow.start('monitorRelay', { workflowId: monitorWorkflowId(url), taskQueue: coordinator.taskQueue, args: [input] });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return 'running'; // the coordinator started it meanwhile
  }
}

export const createValidatorActivities = ({ db, config }: ActivityDeps) => {
  const v = config.validator;
  const backoff = { after: v.backoff.after, ladderMs: v.backoff.ladder };
  // The wait after f failures in a row, f = 0 .. max_failures (a candidate with more is dropped):
  // the ladder as an array the due-candidates query indexes by failures.
  const waitsMs = Array.from({ length: v.max_failures + 1 }, (_, f) => ladderWaitMs(f, v.interval, backoff));

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
    return { intervalMs: v.interval, pageSize: v.page_size, maxInFlight: v.max_in_flight, networks: reachableNetworks(config) };
  },

  /**
   * The next candidates after `after`, in URL order (a page: small and bounded), that are due: new
   * ones, and those last probed their wait ago or more: the interval, or their ladder step's after
   * `backoff.after` failures in a row. A pass woken early (new candidates, `runNow`) then probes
   * only what is new, and a dead candidate fails at most once per wait, however often passes run.
   */
  async candidatePage(q: PageQuery): Promise<Row[]> {
    const { rows } = await db.query<Row>(
      `SELECT url, network FROM candidate
       WHERE ($1::text IS NULL OR url > $1::text) AND network = ANY($3::text[])
         AND (last_checked_at IS NULL
              OR last_checked_at * 1000 <= $4::bigint - ($5::bigint[])[LEAST(failures, cardinality($5::bigint[]) - 1) + 1])
       ORDER BY url LIMIT $2::int`,
      [q.after, q.limit, q.networks, Date.now(), waitsMs],
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
    if (row.dropped) return { ...o, result: 'dropped', failures: row.failures };
    const waitMs = waitsMs[Math.min(row.failures, waitsMs.length - 1)]!;
    return { ...o, result: 'failed', failures: row.failures, step: ladderStep(row.failures, backoff), nextProbeAt: new Date(now * 1000 + waitMs).toISOString() };
  },
  };
};

export type ValidatorActivities = ReturnType<typeof createValidatorActivities>;
