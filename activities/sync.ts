// The Synchronizer's settings, from the config, for the workflows (which cannot read it).
import type { SyncSettings } from '../common/index.js';
import type { ActivityDeps } from './seeder.js';

export const createSyncActivities = ({ config }: ActivityDeps) => ({
  async syncSettings(): Promise<SyncSettings> {
    const s = config.synchronizer;
    return { start: s.start, endLagSec: Math.round(s.end_lag / 1000), limit: s.limit, maxWindowSec: Math.max(1, Math.round(s.max_window / 1000)), intervalMs: s.interval };
  },
});

export type SyncActivities = ReturnType<typeof createSyncActivities>;
