import pg from 'pg';
import { markDbError } from '../shared/metrics.js';

export type Db = pg.Pool;

/** PostgreSQL's SQLSTATE for a foreign key violation. */
export const FOREIGN_KEY_VIOLATION = '23503';

/**
 * PostgreSQL refused the data itself: SQLSTATE class 22 (data exception) or 23 (integrity
 * violation), which every retry would meet again. 23503 is left out: a foreign key violation
 * means the relay left the relay table meanwhile, an answer its callers handle.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code) && code !== FOREIGN_KEY_VIOLATION;
}

/** The process's one connection pool; `application_name` shows who holds a connection in pg_stat_activity. */
export function createPool(
  connectionString: string,
  options: { max?: number; name?: string; /** server settings sent at connection start (`-c key=value ...`) */ startup?: string; label?: string } = {},
): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.name ?? 'bigbrotr',
    ...(options.startup ? { options: options.startup } : {}),
  });
  const label = options.label ? `postgres (${options.label})` : 'postgres';
  // An idle client that loses its server emits 'error' on the pool; unhandled, it would kill the process.
  pool.on('error', (err) => console.error(`${label}: idle connection lost: ${err.message}`));
  // So does a client checked out between two queries (a transaction's, a refresh's) when the server
  // dies: its next query fails with the error; the process must not.
  pool.on('connect', (client) => client.on('error', () => {}));
  // What its queries throw is marked as the database's: an activity it fails counts in
  // bigbrotr_db_errors_total (workers/worker.ts), whatever the error's class.
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const r = query(...args);
    return r instanceof Promise ? r.catch(rethrowMarked) : r;
  }) as typeof pool.query;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  pool.connect = ((...args: unknown[]) => {
    const r = connect(...args);
    return r instanceof Promise ? r.catch(rethrowMarked) : r;
  }) as typeof pool.connect;
  return pool;
}

function rethrowMarked(err: unknown): never {
  markDbError(err);
  throw err;
}

/** A URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
