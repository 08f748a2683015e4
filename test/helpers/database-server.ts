// The PostgreSQL server for test runs, recordings and benchmarks: DATABASE_URL's when set, else an
// embedded one in a temporary folder, which `stop` removes. Sets DATABASE_URL for what follows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../workers/embedded-postgres.js';

export async function databaseServer(): Promise<{ url: string; embedded: boolean; stop: () => Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) return { url: given, embedded: false, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'bigbrotr-pg-'));
  const pg = await startEmbeddedPostgres(dir, 'postgres');
  process.env.DATABASE_URL = pg.url;
  return {
    url: pg.url,
    embedded: true,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
