// The Seeder's guards against its input: a file name typed in the Web UI must not read files
// outside the seed folder, and no seed file may take the worker's memory down.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSeederActivities } from '../../activities/seeder/seeder.js';
import type { SeedReport } from '../../common/index.js';
import type { Config } from '../../workers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig, writeSeedFile } from '../helpers/config.js';

let t: TestDatabase;
before(async () => (t = await freshDatabase()));
after(() => t.drop());

const MB = 1024 * 1024;

function seed(config: Config, input: object): Promise<SeedReport> {
  return new MockActivityEnvironment().run(createSeederActivities({ db: t.db, config }).seedCandidates, input);
}

/** The refusal's message, after checking it is bad input that Temporal will not retry. */
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = (await p.then(
    (r) => assert.fail(`expected a refusal, got ${JSON.stringify(r).slice(0, 300)}`),
    (e: unknown) => e,
  )) as Error & { nonRetryable?: boolean; type?: string };
  assert.equal(err.type, 'BadInput', err.message);
  assert.equal(err.nonRetryable, true);
  return err.message;
}

function withSeeder(config: Config, seeder: Partial<Config['seeder']>): Config {
  return { ...config, seeder: { ...config.seeder, ...seeder } };
}

describe('seeder: the seed folder', () => {
  it('refuses an absolute path outside it, naming the input and nothing of the file', async () => {
    const msg = await refusal(seed(testConfig(t.url), { file: '/etc/passwd' }));
    assert.match(msg, /seeder input file "\/etc\/passwd" refused: seed files must be inside the seed folder .* \(config seeder\.dir\)/);
    assert.doesNotMatch(msg, /root:/);
  });

  it('refuses a ../ path, even to a file that exists and holds relay URLs', async () => {
    const config = testConfig(t.url);
    const outside = join(dirname(config.dir), `seeder-outside-${process.pid}.txt`);
    writeFileSync(outside, 'wss://outside.example\n');
    const msg = await refusal(seed(config, { file: `../${outside.split('/').at(-1)}` }));
    assert.match(msg, /seeder input file "\.\.\/seeder-outside-\d+\.txt" refused: seed files must be inside the seed folder/);
    assert.match(await refusal(seed(config, { file: 'sub/../../x.txt' })), /must be inside the seed folder/);
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url = 'wss://outside.example'`), 0);
  });

  it('refuses a symlink that leads out of the folder, but follows one that stays inside', async () => {
    const config = testConfig(t.url);
    symlinkSync('/etc/passwd', join(config.dir, 'passwd.txt'));
    const msg = await refusal(seed(config, { file: 'passwd.txt' }));
    assert.match(msg, /seeder input file "passwd\.txt" refused: it leads out of the seed folder/);
    assert.doesNotMatch(msg, /root:/);
    // a symlinked folder leading out is refused the same way
    symlinkSync('/etc', join(config.dir, 'etc'));
    assert.match(await refusal(seed(config, { file: 'etc/passwd' })), /leads out of the seed folder/);

    writeSeedFile(config, 'real.txt', 'wss://linked.example\n');
    symlinkSync('real.txt', join(config.dir, 'link.txt'));
    assert.equal((await seed(config, { file: 'link.txt' })).inserted, 1);
  });

  it('refuses what is not a regular file', async () => {
    const config = testConfig(t.url);
    mkdirSync(join(config.dir, 'folder'));
    assert.match(await refusal(seed(config, { file: 'folder' })), /"folder" refused: not a regular file/);
  });

  it('reads only from config seeder.dir when it is set, and checks config seeder.file too', async () => {
    const base = testConfig(t.url);
    const config = withSeeder(base, { dir: 'seeds' });
    mkdirSync(join(config.dir, 'seeds'));
    writeSeedFile(config, 'top.txt', 'wss://top.example\n');
    writeSeedFile(config, 'seeds/inner.txt', 'wss://inner.example\n');
    assert.equal((await seed(config, { file: 'inner.txt' })).inserted, 1);
    assert.match(await refusal(seed(config, { file: '../top.txt' })), /must be inside the seed folder .*seeds/);
    // the default file is held to the same rule: the operator sets seeder.dir to read elsewhere
    assert.match(await refusal(seed(withSeeder(base, { file: '/etc/passwd' }), {})), /^config seeder\.file "\/etc\/passwd" refused/);
  });
});

describe('seeder: size caps', () => {
  it('refuses a 50 MB file at once, without reading it into memory', async () => {
    const config = testConfig(t.url);
    const path = writeSeedFile(config, 'huge.txt', 'wss://huge.example\n');
    truncateSync(path, 50 * MB); // sparse: the test itself allocates nothing
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    const msg = await refusal(seed(config, { file: 'huge.txt' }));
    const took = performance.now() - started;
    const grew = process.memoryUsage().rss - rss;
    assert.match(msg, /"huge\.txt" refused: 52428800 bytes, more than 20000000 \(config seeder\.max_file_bytes\)/);
    assert.ok(took < 1000, `took ${took} ms`);
    assert.ok(grew < 10 * MB, `rss grew by ${(grew / MB).toFixed(1)} MB`);
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url = 'wss://huge.example'`), 0);
  });

  it('a 10 MB line under the size cap is one invalid line, not a crash', async () => {
    const config = testConfig(t.url);
    const path = writeSeedFile(config, 'long-line.txt', 'wss://before-long.example\n');
    const block = Buffer.alloc(MB, 'x');
    for (let i = 0; i < 10; i++) appendFileSync(path, block);
    appendFileSync(path, '\nwss://after-long.example\n');
    const rss = process.memoryUsage().rss;
    const r = await seed(config, { file: 'long-line.txt' });
    const grew = process.memoryUsage().rss - rss;
    assert.equal(r.read, 3);
    assert.equal(r.valid, 2);
    assert.equal(r.inserted, 2);
    assert.deepEqual(r.invalidReasons, { 'line-too-long': 1 });
    assert.equal(r.invalidSamples.length, 1);
    assert.equal(r.invalidSamples[0]?.line, 2);
    assert.ok(r.invalidSamples[0]!.url.length <= 100, `sample of ${r.invalidSamples[0]!.url.length} characters`);
    assert.match(r.invalidSamples[0]!.reason, /longer than 4096 bytes \(config seeder\.max_line_bytes\)/);
    assert.ok(grew < 5 * MB, `rss grew by ${(grew / MB).toFixed(1)} MB`);
  });

  it('lists at most 5 invalid lines, each cut to 100 characters, while counting them all', async () => {
    const config = testConfig(t.url);
    const bad = Array.from({ length: 30 }, (_, i) => `wss://bad host ${i} ${'y'.repeat(300)}`);
    writeSeedFile(config, 'bad.txt', `${bad.join('\n')}\nwss://good.example\n`);
    const r = await seed(config, { file: 'bad.txt' });
    assert.equal(r.invalid, 30);
    assert.equal(r.valid, 1);
    assert.equal(r.invalidSamples.length, 5);
    for (const s of r.invalidSamples) {
      assert.ok(s.url.length <= 100, `sample of ${s.url.length} characters`);
      assert.ok(s.reason.length <= 200, `reason of ${s.reason.length} characters`);
    }
  });

  it('refuses a file with more URL lines than seeder.max_urls before inserting any', async () => {
    const config = withSeeder(testConfig(t.url), { max_urls: 3 });
    writeSeedFile(config, 'four.txt', '# comments and blank lines do not count\n\nwss://m1.example\nwss://m2.example\nwss://m3.example\nwss://m4.example\n');
    const msg = await refusal(seed(config, { file: 'four.txt', batchSize: 1 }));
    assert.match(msg, /holds more than 3 URLs \(config seeder\.max_urls\)/);
    assert.equal(await count(t.db, `SELECT * FROM candidate WHERE url LIKE 'wss://m_.example'`), 0);
    writeSeedFile(config, 'three.txt', 'wss://m1.example\nwss://m2.example\nwss://m3.example\n');
    assert.equal((await seed(config, { file: 'three.txt' })).inserted, 3);
  });
});
