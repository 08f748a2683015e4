// The Synchronizer's effects on the base queue: its settings for the workflows (which cannot read
// the config), and the coordinator's look at the relays' sync workflows through the worker's
// Temporal client (which workflows run, which a person stopped, stopping them all).
import { getClient, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { inPool, parseRelayUrl, type CoordinatorSettings, type Network, type SyncAction, type SyncSettings } from '../common/index.js';
import type { ActivityDeps } from './seeder.js';
import { pageByUrl, reachableNetworks, type PageQuery } from './validator.js';

export const syncWorkflowId = (url: string) => `sync/${url}`;

/** Temporal calls at once when the coordinator looks at a page of relays' workflows. */
const LOOKUPS_IN_FLIGHT = 20;

export interface SyncRow {
  url: string;
  network: Network;
  action: SyncAction;
}

export const createSyncActivities = ({ db, config }: ActivityDeps) => {
  const s = config.synchronizer;
  const priority = new Set(s.priority_relays.map((u) => {
    const parsed = parseRelayUrl(u, { allowLocal: config.relay_url.allow_local });
    return parsed.ok ? parsed.url : u;
  }));

  return {
    /** One relay's settings for its next round, and whether the relay is still in the relay table. */
    async syncSettings(q: { url: string }): Promise<SyncSettings> {
      // (The relay's own cap, its NIP-11 max_limit, is read by the sync activity itself before
      // its windows, where it can also fetch the document when none is stored.)
      const { rows } = await db.query(`SELECT 1 FROM relay WHERE url = $1::text`, [q.url]);
      const isPriority = priority.has(q.url);
      return {
        start: s.start,
        endLagSec: Math.round(s.end_lag / 1000),
        limit: s.limit,
        maxWindowSec: Math.max(1, Math.round(s.max_window / 1000)),
        intervalMs: isPriority ? s.priority_interval : s.interval,
        listed: rows.length > 0,
        priority: isPriority,
        gapRetryMs: s.gap_retry,
        refusedRetryMs: s.refused_retry,
      };
    },

    async synchronizerSettings(): Promise<CoordinatorSettings> {
      // Starting a child is quick (the children run on their own): a page's worth at once.
      return { intervalMs: s.pass_interval, pageSize: s.page_size, maxInFlight: s.page_size, networks: reachableNetworks(config) };
    },

    /**
     * A page of relays, each with what the coordinator should do: start a sync workflow (none
     * runs), leave it (one runs), or leave it stopped (a person cancelled it since `runningSince`,
     * when this coordinator started: it stays stopped until the coordinator is started again).
     */
    async syncPage(q: PageQuery & { runningSince: number }): Promise<SyncRow[]> {
      const rows = await pageByUrl(db, 'relay', q);
      const client = getClient();
      const out: SyncRow[] = [];
      await inPool(rows, LOOKUPS_IN_FLIGHT, async (row) => {
        let action: SyncAction = 'start';
        try {
          const d = await client.workflow.getHandle(syncWorkflowId(row.url)).describe();
          if (d.status.name === 'RUNNING') action = 'running';
          else if (d.status.name === 'CANCELLED' && (d.closeTime?.getTime() ?? 0) >= q.runningSince) action = 'stopped';
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        out.push({ ...row, action });
      });
      return out.sort((a, b) => (a.url < b.url ? -1 : 1)); // the page's order: its last URL is the cursor
    },

    /**
     * The coordinator was cancelled: cancel every relay's sync workflow (each ends after its
     * window), on every network the config reaches. The networks come from the config here, not
     * from the workflow: a cancel that reaches the coordinator before its settings (right after it
     * continued as new) must stop them all the same.
     */
    async stopSyncs(): Promise<{ cancelled: number }> {
      const networks = reachableNetworks(config);
      const client = getClient();
      let after: string | null = null;
      let cancelled = 0;
      for (;;) {
        const rows = await pageByUrl(db, 'relay', { after, limit: 1000, networks });
        await inPool(rows, LOOKUPS_IN_FLIGHT, async ({ url }) => {
          try {
            await client.workflow.getHandle(syncWorkflowId(url)).cancel();
            cancelled++;
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err; // never started, or already ended
          }
        });
        heartbeat(cancelled);
        if (rows.length < 1000) break;
        after = rows.at(-1)!.url;
      }
      log.info('synchronizer stopped the relays sync workflows', { cancelled });
      return { cancelled };
    },
  };
};

export type SyncActivities = ReturnType<typeof createSyncActivities>;
