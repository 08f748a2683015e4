// The Validator's database effects: page through the candidates, record what each probe found.
import type { CoordinatorSettings, ProbeOutcome, ValidationRecord } from '../common/index.js';
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

export const createValidatorActivities = ({ db, config }: ActivityDeps) => ({
  async validatorSettings(): Promise<CoordinatorSettings> {
    const v = config.validator;
    return { intervalMs: v.interval, pageSize: v.page_size, maxInFlight: v.max_in_flight, networks: reachableNetworks(config) };
  },

  /** The next candidates after `after`, in URL order (a page: small and bounded). */
  async candidatePage(q: PageQuery): Promise<Row[]> {
    return pageByUrl(db, 'candidate', q);
  },

  /** A valid candidate becomes a relay; an invalid one has its failures raised, and is dropped at the limit. */
  async recordValidation(o: ProbeOutcome & { network: Network }): Promise<ValidationRecord> {
    const now = Math.floor(Date.now() / 1000);
    if (o.verdict === 'skipped') return { ...o, result: 'skipped' };
    if (o.verdict === 'valid') {
      await db.query('SELECT candidate_promote($1::text[], $2::text[], $3::bigint)', [[o.url], [o.network], now]);
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
});

export type ValidatorActivities = ReturnType<typeof createValidatorActivities>;
