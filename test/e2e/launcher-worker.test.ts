// `npm start` against what would take it down: a worker process that dies (here killed by the
// test hook BIGBROTR_TEST_DIE_READING each time it reads a relay, as a hostile relay or the heap
// cap would) is reported in one line and restarted while PostgreSQL and Temporal stay up; a stale
// pid that now belongs to another program is left alone; a link in the data folder is not followed
// by the root-only chown.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { parseExposition } from '../helpers/exposition.js';
import { alive, cmdline, ctrlC, descendants, npmStart, until, waitFor } from '../helpers/launch.js';
import { startLocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';

const scratch = mkdtempSync(join(tmpdir(), 'bigbrotr-worker-'));
chmodSync(scratch, 0o755); // as root, the postgres user crosses it to its cluster
// As root, where the postgres user gets what it cannot reach: this file's own (read at import).
process.env.BIGBROTR_PG_HOME = join(scratch, 'pg-home');
const { freePort, PASSWORD_FILE, startEmbeddedPostgres } = await import('../../workers/embedded-postgres.js');
const { takeOverDataFolder } = await import('../../workers/stack-leftovers.js');
const spawned: ChildProcess[] = [];
after(() => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Whatever a failed test left running on its folders.
  for (const d of readdirSync('/proc')) if (/^\d+$/.test(d) && cmdline(Number(d)).includes(scratch)) process.kill(Number(d), 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** The dev server under `pid` (the process tree, from /proc). */
function temporalPidUnder(pid: number): number | undefined {
  return descendants(pid).find((p) => cmdline(p).includes('start-dev'));
}

const DEATH = /^\[bigbrotr\] the worker process \(pid (\d+)\) died \(signal SIGKILL\): restarting it in (\d+) s; its log: the launcher's output$/m;

describe('npm start, with a worker process that keeps dying', () => {
  it('says so in one line per death and restarts it, PostgreSQL and Temporal staying up', async () => {
    const dataDir = join(scratch, 'data');
    const seedDir = join(scratch, 'seeds');
    const now = Math.floor(Date.now() / 1000);
    const relay = await startLocalRelay({ events: Array.from({ length: 20 }, (_, i) => signed({ kind: 1, content: `note ${i}`, created_at: now - 86_400 + i * 1000 })) });
    after(() => relay.stop());
    // The relay arrives as a seed; the Validator promotes it and the Synchronizer reads it, which
    // kills the worker, and its retry kills the next one.
    mkdirSync(seedDir);
    writeFileSync(join(seedDir, 'seed_relays.txt'), `${relay.url}\n`);
    const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BIGBROTR_DATA_DIR: dataDir,
      TEMPORAL_PORT: String(port),
      TEMPORAL_UI_PORT: String(uiPort),
      BIGBROTR__relay_url__allow_local: 'true',
      BIGBROTR__seeder__dir: seedDir,
      BIGBROTR__synchronizer__start: String(now - 2 * 86_400),
      BIGBROTR__api__port: '0',
      BIGBROTR__metrics__port: String(metricsPort),
      BIGBROTR__logging__format: 'text', // its lines read as at a terminal (`[bigbrotr] …`), not JSON
      BIGBROTR_TEST_DIE_READING: `127.0.0.1:${relay.port}`,
      // Deaths seen within seconds, and the relay set aside after two in a row.
      BIGBROTR__synchronizer__heartbeat_timeout: '5s',
      BIGBROTR__synchronizer__backoff__after: '2',
    };
    delete env.DATABASE_URL;
    delete env.TEMPORAL_ADDRESS;

    const launch = npmStart(env);
    const workers: number[] = [];
    try {
      await waitFor(launch, /\[bigbrotr\] Web UI: /, 240_000, 'the stack being ready');
      workers.push(Number((await waitFor(launch, /\[bigbrotr\] workers: process (\d+), restarted if it dies/, 1000, 'the worker process'))[1]));
      const pgPid = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const devServer = temporalPidUnder(launch.child.pid as number);
      assert.ok(alive(pgPid) && devServer && alive(devServer), 'PostgreSQL and the dev server run');

      // Two deaths, each one line, each followed by a restart.
      let mark = 0;
      for (let death = 1; death <= 2; death++) {
        const died = await waitFor(launch, DEATH, 300_000, `death ${death} of the worker process`, mark);
        assert.equal(Number(died[1]), workers.at(-1), 'the line names the pid of the worker that died');
        mark += (died.index ?? 0) + died[0].length;
        const again = await waitFor(launch, /\[bigbrotr\] the worker process: running again \(pid (\d+)\)/, 120_000, `the worker process running again after death ${death}`, mark);
        workers.push(Number(again[1]));
        assert.ok(!alive(workers.at(-2) as number), 'the dead worker is gone');
      }
      const lines = launch.output().split('\n');
      assert.equal(lines.filter((l) => l.includes('the worker process') && /died/.test(l)).length, lines.filter((l) => DEATH.test(l)).length, `every death is one line of its own:\n${launch.output()}`);
      assert.doesNotMatch(launch.output(), /stopped everything|restarting it \(\d of 3/, 'the launcher never gives up on the workers');

      // The servers never went down: same pids, and they answer.
      assert.equal(Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]), pgPid, 'the same PostgreSQL');
      assert.ok(alive(pgPid) && alive(devServer), 'PostgreSQL and the dev server still run');
      assert.equal(temporalPidUnder(launch.child.pid as number), devServer, 'the same dev server');
      assert.doesNotMatch(launch.output(), /the embedded PostgreSQL \(pid \d+\) died|the Temporal dev server \(pid \d+\) died/);
      const dbPort = launch.output().match(/postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\/bigbrotr/)?.[1];
      const db = new pg.Client({ host: '127.0.0.1', port: Number(dbPort), user: 'postgres', password: readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim(), database: 'bigbrotr' });
      await db.connect();
      try {
        assert.equal((await db.query('SELECT count(*)::int AS n FROM relay WHERE url = $1', [relay.url])).rows[0]?.n, 1, 'PostgreSQL answers: the relay was promoted');
      } finally {
        await db.end();
      }
      const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      try {
        const client = new Client({ connection });
        const synchronizer = await client.workflow.getHandle('synchronizer').describe();
        assert.equal(synchronizer.status.name, 'RUNNING', 'Temporal answers: the Synchronizer runs');
        // The relay whose reads kill the worker is set aside on its ladder after two deaths in a row.
        const sync = client.workflow.getHandle(`sync/${relay.url}`);
        let status: { phase?: string; deaths?: number; notArchivable?: string } = {};
        await until('the relay set aside after two deaths', 180_000, async () => {
          status = await sync.query<typeof status>('status').catch(() => ({}));
          return status.phase === 'set aside';
        });
        assert.equal(status.deaths, 2);
        assert.match(status.notArchivable ?? '', /worker died 2 times in a row/);
        const db2 = new pg.Client({ host: '127.0.0.1', port: Number(launch.output().match(/postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\/bigbrotr/)?.[1]), user: 'postgres', password: readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim(), database: 'bigbrotr' });
        await db2.connect();
        try {
          const { rows } = await db2.query<{ reason: string }>('SELECT reason FROM sync_refusal WHERE relay_url = $1', [relay.url]);
          assert.match(rows[0]?.reason ?? '', /set aside: the worker died 2 times/);
        } finally {
          await db2.end();
        }
      } finally {
        await connection.close();
      }
      assert.equal((await fetch(`http://127.0.0.1:${uiPort}/`)).status, 200, 'the Web UI answers');

      // One /metrics: the running worker's (its SDK's too) and the launcher's API counts, well formed.
      const api = launch.output().match(/API: (http:\S+)\/v1 /)?.[1];
      assert.equal((await fetch(`${api}/v1/relays`)).status, 200);
      let text = '';
      await until('the worker\'s metrics on the launcher\'s /metrics', 60_000, async () => {
        text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return /^bigbrotr_worker_info\{/m.test(text) && /^temporal_/m.test(text);
      });
      const m = parseExposition(text); // each family typed once: the worker's API families are the launcher's
      assert.ok(m.sum('bigbrotr_api_requests_total') >= 1, 'the API request is counted');
      assert.equal(m.sum('bigbrotr_worker_info'), 1);
    } finally {
      await ctrlC(launch);
    }
    assert.ok(workers.every((pid) => !alive(pid)), 'no worker process is left after Ctrl-C');
  });
});

describe('npm start, taking over a data folder', () => {
  it('leaves alone the programs that stale pids now name', async () => {
    const dataDir = join(scratch, 'stale');
    // A cluster, stopped cleanly; then its pid file is made to name an unrelated live process
    // whose command line has "postgres" in it, as after a crash and a pid reused.
    const server = await startEmbeddedPostgres(dataDir);
    await server.stop();
    const program = (...args: string[]) => {
      const c = spawn(process.execPath, ['-e', 'for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => console.log("got " + s)); setInterval(() => {}, 1000)', ...args], { cwd: scratch, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout?.on('data', (d) => (out += d));
      spawned.push(c);
      return { pid: c.pid as number, output: () => out };
    };
    const lookalike = program('postgres-lookalike', '-D', server.dir);
    const temporalLookalike = program('temporal', 'server', 'start-dev', '--db-filename', join(scratch, 'other', 'temporal.db'));
    await until('the lookalikes run', 10_000, () => alive(lookalike.pid) && alive(temporalLookalike.pid));
    writeFileSync(join(server.dir, 'postmaster.pid'), `${lookalike.pid}\n${server.dir}\n${Math.floor(Date.now() / 1000) - 3600}\n${server.port}\n/tmp\n127.0.0.1\n  1234567     65536\nready   \n`);
    writeFileSync(join(dataDir, 'stack.json'), JSON.stringify({ launcher: lookalike.pid, postgres: { pid: lookalike.pid, port: server.port, dir: server.dir }, temporal: { pid: temporalLookalike.pid, port: 1, uiPort: 2 } }));

    const said: string[] = [];
    const record = await takeOverDataFolder(dataDir, join(dataDir, 'temporal.db'), (m) => said.push(m));
    record.clear();
    assert.ok(said.includes(`${join(server.dir, 'postmaster.pid')} names pid ${lookalike.pid}, now another program (its folder and start time are not the server's): left it alone`), said.join('\n'));
    assert.ok(said.includes(`the recorded Temporal dev server's pid ${temporalLookalike.pid} is now a program whose command line does not name ${join(dataDir, 'temporal.db')}: left it alone`), said.join('\n'));
    assert.ok(!said.some((l) => /stopped/.test(l)), said.join('\n'));
    // The cluster starts on its stale pid file, and nothing was signalled.
    const again = await startEmbeddedPostgres(dataDir);
    await again.stop();
    assert.ok(alive(lookalike.pid) && alive(temporalLookalike.pid), 'the lookalikes still run');
    assert.equal(lookalike.output() + temporalLookalike.output(), '', 'no signal reached them');
  });
});

describe('the embedded PostgreSQL as root', () => {
  it('does not chown what a link in the data folder points to', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const dataDir = join(scratch, 'linked');
    const outside = join(scratch, 'outside');
    mkdirSync(dataDir);
    mkdirSync(outside, { mode: 0o700 });
    symlinkSync(outside, join(dataDir, 'pg'));
    await assert.rejects(startEmbeddedPostgres(dataDir), (err: Error) => {
      assert.match(err.message, new RegExp(`^${outside} is not a folder inside ${dataDir} or .*: not handing it to the postgres user \\(no chown through a link\\)`));
      return true;
    });
    const st = statSync(outside);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o700], 'the link\'s target keeps its owner and mode');
    assert.deepEqual(readdirSync(outside), [], 'nothing was made there');
  });
});
