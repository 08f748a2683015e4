// Paging over a table of relays or candidates by URL, the way the coordinators read them (the
// Validator's, the Monitor's, the Synchronizer's), and the networks this worker's config reaches.
import { NETWORKS, type Network } from '../../common/index.js';
import type { Config } from '../../common/config.js';
import type { Db } from '../db/db.js';

export interface PageQuery {
  after: string | null;
  limit: number;
  networks: Network[];
}
export type Row = { url: string; network: Network };

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
