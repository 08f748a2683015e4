// The read-only pool the API and the DVM read with. Either a login role that can only read
// (api.database_url), or database.url acting as role bigbrotr_reader (sql/0013). Both ways, every
// connection is read-only and has the configured statement timeout, set in the connection's
// start-up packet (`options`), so there is no window in which a fresh connection runs as
// anything else, and no extra round trip.
//
// PgBouncer: with transaction pooling, a `SET ROLE` sent on connect would stay on a server
// connection that other clients then get. PgBouncer refuses `options` unless told to ignore it,
// and ignoring it is caught here: the role and read-only setting are checked at start-up.
import { createPool, type Db } from '../activities/db/db.js';
import type { Config } from '../common/config.js';
import { StartupError } from '../common/errors.js';

export const READER_ROLE = 'bigbrotr_reader';

export async function connectReader(config: Config): Promise<Db> {
  const own = config.api.database_url;
  const url = own || config.database.url;
  if (!url) throw new StartupError('no database to read: set API_DATABASE_URL (a read-only role) or DATABASE_URL');
  const settings = [`-c default_transaction_read_only=on`, `-c statement_timeout=${config.api.statement_timeout}`];
  if (!own) settings.push(`-c role=${READER_ROLE}`);
  const pool = createPool(url, { max: config.api.pool_max, name: 'bigbrotr-api', startup: settings.join(' '), label: 'reader' });
  try {
    const { rows } = await pool.query<{ role: string; read_only: string }>(
      `SELECT current_user AS role, current_setting('transaction_read_only') AS read_only`,
    );
    const row = rows[0]!;
    if (row.read_only !== 'on') throw new StartupError(`the API's database connections are not read-only (is a pooler ignoring the start-up options?)`);
    if (!own && row.role !== READER_ROLE) {
      throw new StartupError(`the API reads as ${row.role}, not ${READER_ROLE} (is a pooler ignoring the start-up options?): set API_DATABASE_URL to a read-only role`);
    }
  } catch (err) {
    await pool.end();
    if (err instanceof StartupError) throw err;
    const message = (err as Error).message;
    if (!own && /role|permission denied/i.test(message)) {
      throw new StartupError(
        `cannot read as role ${READER_ROLE} (${message}): run the migrations (sql/0013 creates it) and \`GRANT ${READER_ROLE} TO <the user of DATABASE_URL>\`, or set API_DATABASE_URL to a read-only role (README, "Reading the archive")`,
      );
    }
    throw new StartupError(`cannot connect the API to PostgreSQL: ${message}`);
  }
  return pool;
}
