// The launcher as a new user meets it: `npm start` on an empty data folder brings up PostgreSQL,
// the Temporal dev server with its Web UI, the worker and the pipeline; Ctrl-C stops it all; the
// next `npm start` finds its data where it left it.
import assert from 'node:assert/strict';
import { copyFileSync, appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import type { SeedReport } from '../../common/index.js';
import { freePort, PASSWORD_FILE } from '../../workers/embedded-postgres.js';
import { finderStatus } from '../../workflows/finder.js';
import { ctrlC, npmStart, waitFor } from '../helpers/launch.js';
import { startLocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'bigbrotr-launcher-'));
const seedDir = mkdtempSync(join(tmpdir(), 'bigbrotr-seeds-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
after(() => rmSync(seedDir, { recursive: true, force: true }));

/** A query on the database the launcher printed the address of. */
async function onDatabase<T extends pg.QueryResultRow>(output: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const port = output.match(/postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:(\d+)\/bigbrotr/)?.[1];
  assert.ok(port, 'the launcher prints the database address');
  const password = readFileSync(join(dataDir, PASSWORD_FILE), 'utf8').trim(); // made for this data folder
  const c = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'bigbrotr' });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

async function candidates(output: string): Promise<number> {
  const rows = await onDatabase<{ n: string }>(output, 'SELECT count(*) AS n FROM candidate');
  return Number(rows[0]?.n);
}

describe('npm start', () => {
  it('comes up from nothing, runs the Seeder, stops on Ctrl-C and resumes with its data', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    // A relay on this machine, with a day of notes, for the Synchronizer to archive.
    const now = Math.floor(Date.now() / 1000);
    const notes = Array.from({ length: 60 }, (_, i) => signed({ kind: 1, content: `note ${i}`, created_at: now - 86_400 + i * 1000 }));
    const relay = await startLocalRelay({ events: notes });
    after(() => relay.stop());
    // The shipped seed file, with the local relay in it: it arrives as a candidate, as a seed does.
    copyFileSync(join(ROOT, 'config/seed_relays.txt'), join(seedDir, 'seed_relays.txt'));
    appendFileSync(join(seedDir, 'seed_relays.txt'), `\n${relay.url}\n`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BIGBROTR_DATA_DIR: dataDir,
      TEMPORAL_PORT: String(port),
      TEMPORAL_UI_PORT: String(uiPort),
      BIGBROTR__relay_url__allow_local: 'true',
      BIGBROTR__seeder__dir: seedDir,
      BIGBROTR__synchronizer__start: String(now - 2 * 86_400),
      BIGBROTR__api__port: '0',
      BIGBROTR__logging__format: 'text', // its lines read as at a terminal (`[bigbrotr] …`), not JSON
    };
    delete env.DATABASE_URL; // the embedded default, as on a fresh laptop
    delete env.TEMPORAL_ADDRESS;

    const first = npmStart(env);
    try {
      await waitFor(first, /ready in /, 180_000);
      const ready = Date.now();
      await waitFor(first, /Web UI: (http:\S+)/, 10_000);
      assert.match(first.output(), /workflow seeder: completed/);
      assert.match(first.output(), /workflow finder: started/);
      assert.match(first.output(), /workflow validator: started/);
      assert.match(first.output(), /workflow monitor: started/);
      assert.match(first.output(), /workflow synchronizer: started/);
      assert.match(first.output(), /serving task queues: bigbrotr, bigbrotr-clearnet/);
      const page = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(page.status, 200, 'the Web UI answers');

      const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      try {
        const client = new Client({ connection });
        const report: SeedReport = await client.workflow.getHandle('seeder').result();
        assert.ok(report.inserted > 7000, `seeded ${report.inserted}`);
        assert.equal(report.invalid, 0);
        // (the Validator may have promoted some already: a promoted candidate is a relay)
        const relays = Number((await onDatabase<{ n: string }>(first.output(), 'SELECT count(*) AS n FROM relay'))[0]?.n);
        assert.ok((await candidates(first.output())) + relays >= report.inserted);
        // the Finder runs, and answers its status query
        const status = await client.workflow.getHandle('finder').query(finderStatus);
        assert.ok(status.cycle >= 1, JSON.stringify(status));

        // The seeded local relay: the Validator promotes it on its first pass, which hands it on to
        // the Synchronizer at once (not after its pass_interval), whose sync workflow archives its
        // events, each once, linked to it. No signal from here: the pipeline does it alone.
        const deadline = ready + 120_000;
        let archived = 0;
        let first_: number | undefined;
        while ((archived = Number((await onDatabase<{ n: string }>(first.output(), 'SELECT count(*) AS n FROM event_relay WHERE relay_url = $1', [relay.url]))[0]?.n)) < notes.length) {
          if (archived > 0) first_ ??= Date.now();
          assert.ok(Date.now() < deadline, `the seeded ${relay.url} to have its ${notes.length} events archived within 2 minutes of "ready": ${archived} archived`);
          await new Promise((r) => setTimeout(r, 250));
        }
        first_ ??= Date.now();
        console.log(`# from "ready" to the first archived event: ${((first_ - ready) / 1000).toFixed(1)} s; to all ${notes.length}: ${((Date.now() - ready) / 1000).toFixed(1)} s`);
        const validated = await onDatabase<{ n: string }>(first.output(), 'SELECT count(*) AS n FROM relay WHERE url = $1', [relay.url]);
        assert.equal(Number(validated[0]?.n), 1, 'the Validator promoted the seeded relay');
        assert.equal(Number((await onDatabase<{ n: string }>(first.output(), 'SELECT count(*) AS n FROM event'))[0]?.n), notes.length);

        // The read side: the Refresher's Schedule exists, and a refresh it runs shows the relay
        // and its events through the API, whose docs page is served.
        assert.match(first.output(), /workflow refresher \(schedule\): schedule created/);
        const api = first.output().match(/API: (http:\S+)\/v1 /)?.[1];
        assert.ok(api, 'the launcher prints the API address');
        assert.equal((await fetch(`${api}/docs`)).status, 200, 'the docs page answers');
        await client.schedule.getHandle('refresher').trigger();
        const apiDeadline = Date.now() + 60_000;
        for (;;) {
          const r = await fetch(`${api}/v1/relays/${encodeURIComponent(relay.url)}`);
          const body = r.status === 200 ? ((await r.json()) as { sync?: { events?: number } }) : undefined;
          if (body?.sync?.events === notes.length) break;
          assert.ok(Date.now() < apiDeadline, `the API to show ${relay.url} with its ${notes.length} events after a refresh: ${r.status} ${JSON.stringify(body)}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        await connection.close();
      }
    } finally {
      await ctrlC(first);
    }

    const second = npmStart(env);
    try {
      await waitFor(second, /Web UI: /, 120_000);
      // The Seeder's completed run is kept (Temporal's state file) and not run again...
      assert.match(second.output(), /workflow seeder: already completed/);
      assert.match(second.output(), /workflow finder: already running/);
      assert.match(second.output(), /workflow monitor: already running/);
      assert.match(second.output(), /workflow refresher \(schedule\): schedule unchanged/);
      // ...and the candidates are still there (the embedded server's data folder).
      assert.ok((await candidates(second.output())) > 7000);
      assert.doesNotMatch(second.output(), /creating a PostgreSQL cluster/);
    } finally {
      await ctrlC(second);
    }
  });
});
