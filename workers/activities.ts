// Every activity the worker serves, built once over the process's dependencies.
import type { Db } from '../activities/db/db.js';
import { createDvmActivities } from '../activities/dvm/dvm.js';
import { createFinderActivities } from '../activities/finder/finder.js';
import { createMonitorActivities } from '../activities/monitor/monitor.js';
import { createRefresherActivities } from '../activities/refresher/refresher.js';
import { createSeederActivities } from '../activities/seeder/seeder.js';
import { createSyncActivities } from '../activities/synchronizer/sync.js';
import { createValidatorActivities } from '../activities/validator/validator.js';
import type { Config } from './config.js';

export function createActivities(deps: { db: Db; config: Config }) {
  return {
    ...createSeederActivities(deps),
    ...createFinderActivities(deps),
    ...createValidatorActivities(deps),
    ...createMonitorActivities(deps),
    ...createSyncActivities(deps),
    ...createDvmActivities(deps), // its read-only pool is made at its first job (dvm.enabled)
    ...createRefresherActivities(deps),
  };
}
