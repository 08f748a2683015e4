// A fresh database per test file on the server the test runner gives (DATABASE_URL), with the
// schema applied, dropped at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Db } from '../../activities/db/db.js';
import { migrate } from '../../activities/db/migrate.js';
import type { Deployment } from '../../common/config.js';

export interface TestDatabase {
  db: Db;
  url: string;
  drop(): Promise<void>;
}

export async function freshDatabase(opts: { deployment?: Deployment; migrate?: boolean } = {}): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  const name = `bigbrotr_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = createPool(url, { max: 10, name: 'bigbrotr-test' });
  if (opts.migrate !== false) await migrate(db, opts.deployment ?? 'bigbrotr');
  return {
    db,
    url,
    async drop() {
      await db.end();
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) AS q`, params);
  return Number(rows[0]?.n);
}
