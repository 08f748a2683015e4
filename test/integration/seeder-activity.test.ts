import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSeederActivities, seedLines, type SeedLine } from '../../activities/seeder/seeder.js';
import { parseRelayUrl, type SeedReport } from '../../common/index.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';

const ONION = 'oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad';
const SEED = `# a comment line
wss://relay.a.example
wss://relay.b.example/   # trailing comment, trailing slash

WSS://RELAY.A.EXAMPLE
ws://${ONION}.onion
https://not-a-relay.example
wss://192.168.1.1
wss://relay.c.example
`;

/** All the URL lines of a file, as the Seeder reads them. */
async function linesOf(path: string | URL, maxLineBytes = 4096): Promise<SeedLine[]> {
  const fh = await open(path);
  try {
    const out: SeedLine[] = [];
    for await (const l of seedLines(fh, maxLineBytes)) out.push(l);
    return out;
  } finally {
    await fh.close();
  }
}

let t: TestDatabase;
before(async () => (t = await freshDatabase()));
after(() => t.drop());

describe('seeder activities', () => {
  it('reads URL lines, skipping comments and blank lines', async () => {
    const path = writeSeedFile(testConfig(t.url), 'lines.txt', SEED);
    const lines = await linesOf(path);
    assert.deepEqual(lines.map((l) => l.line), [2, 3, 5, 6, 7, 8, 9]);
    assert.equal(lines[1]?.url, 'wss://relay.b.example/');
  });

  it('reads lines across read-buffer boundaries, CRLF and a last line without a newline alike', async () => {
    const urls = Array.from({ length: 20_000 }, (_, i) => `wss://relay-${i}.example`);
    const path = writeSeedFile(testConfig(t.url), 'many.txt', `${urls.join('\r\n')}\r\n# end\nwss://last.example`);
    const lines = await linesOf(path);
    assert.deepEqual(lines.map((l) => l.url), [...urls, 'wss://last.example']);
    assert.equal(lines.at(-1)?.line, 20_002);
  });

  it('a line over the cap is cut and marked, unless a comment starts before the cut', async () => {
    const long = 'x'.repeat(50);
    const path = writeSeedFile(testConfig(t.url), 'long.txt', `wss://a.example\n${long}\nwss://b.example # ${long}\n# ${long}\n`);
    assert.deepEqual(await linesOf(path, 20), [
      { line: 1, url: 'wss://a.example' },
      { line: 2, url: 'x'.repeat(20), tooLong: true },
      { line: 3, url: 'wss://b.example' },
    ]);
  });

  it('loads the seed file in batches and reports counts with reasons; a second run inserts nothing', async () => {
    const config = testConfig(t.url);
    writeSeedFile(config, 'seed.txt', SEED);
    const acts = createSeederActivities({ db: t.db, config });
    const env = new MockActivityEnvironment();
    const first: SeedReport = await env.run(acts.seedCandidates, { file: 'seed.txt', batchSize: 2 });
    assert.equal(first.read, 7);
    assert.equal(first.valid, 5);
    assert.equal(first.invalid, 2);
    assert.deepEqual(first.invalidReasons, { 'bad-scheme': 1, local: 1 });
    assert.deepEqual(first.invalidSamples.map((s) => s.line), [7, 8]);
    assert.equal(first.inserted, 4);
    assert.equal(first.alreadyKnown, 1); // WSS://RELAY.A.EXAMPLE is wss://relay.a.example
    const { rows } = await t.db.query('SELECT url, network, source FROM candidate ORDER BY url');
    assert.deepEqual(rows, [
      { url: `ws://${ONION}.onion`, network: 'tor', source: 'seed' },
      { url: 'wss://relay.a.example', network: 'clearnet', source: 'seed' },
      { url: 'wss://relay.b.example', network: 'clearnet', source: 'seed' },
      { url: 'wss://relay.c.example', network: 'clearnet', source: 'seed' },
    ]);

    const second: SeedReport = await new MockActivityEnvironment().run(acts.seedCandidates, { file: 'seed.txt' });
    assert.equal(second.inserted, 0);
    assert.equal(second.alreadyKnown, 5);
    assert.equal(await count(t.db, 'SELECT * FROM candidate'), 4);
  });

  it('a retried attempt resumes after the batches its heartbeat recorded', async () => {
    const config = testConfig(t.url);
    writeSeedFile(config, 'resume.txt', 'wss://r1.example\nwss://r2.example\nwss://r3.example\n');
    const acts = createSeederActivities({ db: t.db, config });
    const done = { file: 'x', read: 3, valid: 2, invalid: 0, invalidReasons: {}, invalidSamples: [], inserted: 2, alreadyKnown: 0 };
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { nextIndex: 2, report: done } });
    const r: SeedReport = await env.run(acts.seedCandidates, { file: 'resume.txt', batchSize: 2 });
    assert.equal(r.inserted, 3);
    assert.equal(r.valid, 3);
    // only the third line was read by this attempt
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url LIKE 'wss://r_.example'`), 1);
  });

  it('a missing seed file fails without retrying, naming the file', async () => {
    const config = testConfig(t.url);
    const acts = createSeederActivities({ db: t.db, config });
    await assert.rejects(new MockActivityEnvironment().run(acts.seedCandidates, { file: 'missing.txt' }), (err: Error & { nonRetryable?: boolean; type?: string }) => {
      assert.match(err.message, /cannot read seed file .*missing\.txt/);
      assert.equal(err.nonRetryable, true);
      assert.equal(err.type, 'BadInput');
      return true;
    });
  });

  it('the shipped seed file is all valid, distinct, public relay URLs in canonical form', async () => {
    const lines = await linesOf(new URL('../../config/seed_relays.txt', import.meta.url));
    assert.ok(lines.length > 7000, `${lines.length} relays`);
    const bad = lines.filter(({ url }) => { const r = parseRelayUrl(url); return !r.ok || r.url !== url; });
    assert.deepEqual(bad, []);
    assert.equal(new Set(lines.map((l) => l.url)).size, lines.length);
  });

  it('checkSchema finds the migrated schema complete', async () => {
    const acts = createSeederActivities({ db: t.db, config: testConfig(t.url) });
    assert.deepEqual(await new MockActivityEnvironment().run(acts.checkSchema), { complete: true, missing: [] });
  });
});
