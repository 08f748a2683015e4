// The embedded database's credentials: a random password per data folder in a file only its owner
// reads, scram-sha-256, nothing else let in; a cluster from before (fixed password, clear text) is
// moved to the same.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PASSWORD_FILE, startEmbeddedPostgres, type RunningPostgres } from '../../workers/embedded-postgres.js';

const dataDir = mkdtempSync(join(tmpdir(), 'bigbrotr-credentials-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function login(server: RunningPostgres, password: string): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', password, database: 'bigbrotr' });
  try {
    await c.connect();
    return 'in';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

const hbaMethods = (server: RunningPostgres) =>
  new Set(readFileSync(join(server.dir, 'pg_hba.conf'), 'utf8').split('\n').filter((l) => /^\s*(local|host)/.test(l)).map((l) => l.trim().split(/\s+/).at(-1)));

describe('the embedded database', () => {
  it('has a random password in a 0600 file, scram-sha-256, and refuses a wrong or empty one', async () => {
    const server = await startEmbeddedPostgres(dataDir);
    try {
      const file = join(dataDir, PASSWORD_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600, 'the password file is the owner\'s alone');
      assert.equal(statSync(dataDir).mode & 0o066, 0, 'the data folder is not readable by others');
      const password = readFileSync(file, 'utf8').trim();
      assert.ok(password.length >= 24 && password !== 'bigbrotr', 'a generated password');
      assert.equal(decodeURIComponent(new URL(server.url).password), password);
      assert.equal(await login(server, password), 'in');
      assert.equal(await login(server, 'bigbrotr'), '28P01', 'the old fixed password is refused');
      assert.equal(await login(server, `${password}x`), '28P01', 'a wrong password is refused');
      assert.notEqual(await login(server, ''), 'in', 'an empty password is refused');
      assert.deepEqual(hbaMethods(server), new Set(['scram-sha-256']));
      assert.doesNotMatch(server.psql, new RegExp(password), 'the psql command does not show the password');
      assert.match(server.psql, new RegExp(`^PGPASSWORD="\\$\\(cat ${file}\\)" psql -h 127\\.0\\.0\\.1 -p ${server.port} -U postgres bigbrotr$`));
    } finally {
      await server.stop();
    }
  });

  it('keeps the password across restarts of the same data folder', async () => {
    const before = readFileSync(join(dataDir, PASSWORD_FILE), 'utf8');
    const server = await startEmbeddedPostgres(dataDir);
    try {
      assert.equal(readFileSync(join(dataDir, PASSWORD_FILE), 'utf8'), before);
      assert.equal(await login(server, before.trim()), 'in');
    } finally {
      await server.stop();
    }
  });

  it('moves a cluster from before (password `bigbrotr` in clear text) to a random password and scram', async () => {
    // Make this folder's cluster look like one made by the earlier launcher.
    let server = await startEmbeddedPostgres(dataDir);
    const admin = new pg.Client(server.url);
    await admin.connect();
    await admin.query("SET password_encryption = 'md5'");
    await admin.query("ALTER ROLE postgres PASSWORD 'bigbrotr'");
    await admin.end();
    const hba = join(server.dir, 'pg_hba.conf');
    writeFileSync(hba, readFileSync(hba, 'utf8').replaceAll('scram-sha-256', 'password'));
    await server.stop();
    rmSync(join(dataDir, PASSWORD_FILE));

    const said: string[] = [];
    server = await startEmbeddedPostgres(dataDir, 'bigbrotr', (m) => said.push(m));
    try {
      assert.match(said.join('\n'), /the cluster had the old fixed password: it now has a random one \(scram-sha-256\)/);
      const password = readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim();
      assert.equal(statSync(join(dataDir, PASSWORD_FILE)).mode & 0o777, 0o600);
      assert.equal(await login(server, password), 'in');
      assert.equal(await login(server, 'bigbrotr'), '28P01', 'the old password no longer works');
      assert.deepEqual(hbaMethods(server), new Set(['scram-sha-256']));
    } finally {
      await server.stop();
    }
  });
});
