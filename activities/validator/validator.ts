// The Validator's database effects (workflows/validator.ts calls them; the probe: probe.ts): page
// through the candidates, record what each probe found. A promoted relay is handed on at once:
// its Monitor workflow starts and the Synchronizer is woken, so neither waits for its interval.
import { log } from '@temporalio/activity';
import type { CoordinatorSettings, Network, ProbeOutcome, ValidationRecord } from '../../common/index.js';
import { COORDINATOR, startMonitorCheck, temporalClient, wakeCoordinator } from '../shared/handoff.js';
import { reachableNetworks, type PageQuery, type Row } from '../shared/pages.js';
import { withSearchAttributes } from '../shared/relay-workflows.js';
import type { ActivityDeps } from '../shared/deps.js';
import { ladderStep, ladderWaitMs, storableText } from '../../common/index.js';
import { isDataError } from '../db/db.js';

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
    return withSearchAttributes(rows); // each child then starts with RelayUrl, RelayNetwork
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
    const fail = (reason: string) => db.query<{ failures: number; dropped: boolean }>(
      'SELECT failures, dropped FROM candidate_fail($1::text[], $2::text[], $3::bigint, $4::int)',
      [[o.url], [reason], now, config.validator.max_failures],
    );
    // The reason may quote the relay (NUL, lone surrogates; the cut may split a pair): made storable.
    // A reason PostgreSQL still refuses is replaced by its message, once; no retry could store it.
    const { rows } = await fail(storableText(o.reason.slice(0, 1000))).catch((err: unknown) => {
      if (!isDataError(err)) throw err;
      return fail(storableText(`unstorable: ${(err as Error).message}`));
    });
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
