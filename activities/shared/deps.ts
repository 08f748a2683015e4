// What every service's activities are built with: the worker's database pool and its config.
import type { Config } from '../../common/config.js';
import type { Db } from '../db/db.js';

export interface ActivityDeps {
  db: Db;
  config: Config;
}
