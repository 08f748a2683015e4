// The Synchronizer's effects on the base queue (workflows/sync.ts calls them; a relay's windows:
// windows.ts): its settings for the workflows (which cannot read
// the config), and the coordinator's look at the relays' sync workflows through the worker's
// Temporal client (which workflows run, which a person stopped, stopping them all).
import { parseRelayUrl, type CoordinatorSettings, type SyncSettings } from '../../common/index.js';
import { cancelRelayWorkflows, relayWorkflowPage, type RelayWorkflowRow } from '../shared/relay-workflows.js';
import type { ActivityDeps } from '../shared/deps.js';
import { metrics, networkOfUrl } from '../shared/metrics.js';
import { noteRefusal } from './sync-records.js';
import { reachableNetworks, type PageQuery } from '../shared/pages.js';

export const syncWorkflowId = (url: string) => `sync/${url}`;

export type SyncRow = RelayWorkflowRow;

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
        backoff: { after: s.backoff.after, ladderMs: s.backoff.ladder },
        heartbeatTimeoutMs: s.heartbeat_timeout,
        denseLimit: s.dense_limit,
      };
    },

    /**
     * The relay's reads killed the worker too often in a row: why it waits, recorded where a
     * person looks (sync_refusal, until a read succeeds; the counter for alerts).
     */
    async setAsideRelay(q: { url: string; reason: string }): Promise<void> {
      await noteRefusal(db, q.url, q.reason);
      metrics.syncSetAside.inc({ network: networkOfUrl(q.url) });
    },

    async synchronizerSettings(): Promise<CoordinatorSettings> {
      // Starting a child is quick (the children run on their own): a page's worth at once.
      return { intervalMs: s.pass_interval, pageSize: s.page_size, maxInFlight: s.page_size, networks: reachableNetworks(config) };
    },

    /** A page of relays, each with what the coordinator does with its sync workflow (relay-workflows.ts). */
    async syncPage(q: PageQuery & { runningSince: number }): Promise<SyncRow[]> {
      return relayWorkflowPage(db, syncWorkflowId, q);
    },

    /** The coordinator was cancelled: cancel every relay's sync workflow (each ends after its window). */
    async stopSyncs(): Promise<{ cancelled: number }> {
      return cancelRelayWorkflows(db, config, syncWorkflowId, 'synchronizer');
    },
  };
};

export type SyncActivities = ReturnType<typeof createSyncActivities>;
