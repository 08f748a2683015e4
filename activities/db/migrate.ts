// The migration runner: applies sql/*.sql and sql/<deployment>/*.sql in the order of their numbers,
// each in its own transaction, and records what it applied. Every worker runs it at start-up: an
// advisory lock makes two at once safe (the second waits, then finds nothing to do).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
import type { Deployment } from '../../common/config.js';

// Any constant will do, as long as nothing else in the database uses it: "bbmigrat" in ASCII.
const MIGRATION_LOCK = 0x62626d6967726174n;

export interface Migration {
  version: string; // the file name, e.g. 0002_events.sql
  deployment: Deployment | null; // null for the shared files
  path: string;
  sql: string;
  checksum: string;
}

export function listMigrations(deployment: Deployment, dir = SQL_DIR): Migration[] {
  const files = [
    ...sqlFiles(dir).map((f) => ({ path: join(dir, f), deployment: null })),
    ...sqlFiles(join(dir, deployment)).map((f) => ({ path: join(dir, deployment, f), deployment })),
  ].sort((a, b) => basename(a.path).localeCompare(basename(b.path)));
  const seen = new Map<string, string>();
  return files.map(({ path, deployment }) => {
    const version = basename(path);
    const number = version.split('_')[0] ?? version;
    const other = seen.get(number);
    if (other) throw new Error(`two migrations share number ${number}: ${other} and ${path}`);
    seen.set(number, path);
    const sql = readFileSync(path, 'utf8');
    return { version, deployment, path, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

function sqlFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f));
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export async function migrate(db: Db, deployment: Deployment, log: (msg: string) => void = () => {}): Promise<MigrationResult> {
  const migrations = listMigrations(deployment);
  const client = await db.connect();
  // Each step is one transaction holding a transaction-level advisory lock, and looks again at what
  // is applied once it holds it: two runners at once are safe, and so is a transaction-pooling
  // PgBouncer, which a session-level lock would not survive.
  const locked = async <T>(fn: () => Promise<T>): Promise<T> => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK.toString()]);
      const out = await fn();
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  };
  try {
    await locked(() => client.query(`CREATE TABLE IF NOT EXISTS schema_migration (
      version    text PRIMARY KEY,
      deployment text,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`));
    checkDeployment(await appliedMigrations(client), deployment);
    const applied: string[] = [];
    for (const m of migrations) {
      const didApply = await locked(async () => {
        const prior = (await appliedMigrations(client)).get(m.version);
        if (prior) {
          if (prior.checksum !== m.checksum) {
            throw new Error(`${m.path} was changed after it was applied: schema changes go in a new numbered file`);
          }
          return false;
        }
        try {
          await client.query(m.sql);
        } catch (err) {
          throw new Error(`migration ${m.path} failed: ${(err as Error).message}`);
        }
        await client.query('INSERT INTO schema_migration (version, deployment, checksum) VALUES ($1::text, $2::text, $3::text)', [
          m.version,
          m.deployment,
          m.checksum,
        ]);
        return true;
      });
      if (didApply) {
        applied.push(m.version);
        log(`applied ${m.deployment ?? 'shared'}/${m.version}`);
      }
    }
    return { applied, alreadyApplied: migrations.length - applied.length };
  } finally {
    client.release();
  }
}

type Applied = Map<string, { deployment: string | null; checksum: string }>;

async function appliedMigrations(client: { query: Db['query'] }): Promise<Applied> {
  const { rows } = await client.query<{ version: string; deployment: string | null; checksum: string }>(
    'SELECT version, deployment, checksum FROM schema_migration',
  );
  return new Map(rows.map((r) => [r.version, r]));
}

function checkDeployment(done: Applied, deployment: Deployment): void {
  for (const [version, row] of done) {
    if (row.deployment !== null && row.deployment !== deployment) {
      throw new Error(
        `this database holds a ${row.deployment} archive (${version}) but the config says ${deployment}: ` +
          'use a separate database per deployment',
      );
    }
  }
}

/** What the schema lacks, for the Seeder's check: migrations not applied, tables or functions gone. */
export async function missingSchema(db: Db, deployment: Deployment): Promise<string[]> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migration')::text AS t`);
  if (!exists.rows[0]?.t) return ['schema_migration (no migration has run)'];
  const done = await appliedMigrations(db);
  const missing = listMigrations(deployment)
    .filter((m) => !done.has(m.version))
    .map((m) => `migration ${m.deployment ?? 'shared'}/${m.version}`);
  const objects = await db.query<{ name: string }>(
    `SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL
     UNION ALL
     SELECT name || '()' FROM unnest($2::text[]) AS name
     WHERE NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = name)`,
    [REQUIRED_TABLES, REQUIRED_FUNCTIONS],
  );
  return [...missing, ...objects.rows.map((r) => r.name)];
}

const REQUIRED_TABLES = ['relay', 'candidate', 'event', 'event_relay', 'metadata', 'relay_metadata', 'relay_metadata_latest', 'sync_gap', 'sync_refusal', 'relay_check', 'relay_uptime'];
const REQUIRED_FUNCTIONS = ['candidate_insert', 'relay_insert', 'event_insert', 'event_relay_insert', 'event_relay_link', 'event_find', 'metadata_insert', 'relay_metadata_insert', 'relay_check_insert'];
