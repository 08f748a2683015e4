// The hostile-relay zoo (issue 23): relays that send events of megabytes paced under the frame cap
// (ten at once), the same without pauses, an event of 100,000 tags, events for ever without EOSE,
// beside an honest relay. Read as a worker reads them, in a process with the worker's heap cap
// (test/helpers/zoo-reader.ts): it must not die, its heap must stay under the cap, every relay's
// small events are archived, the big ones counted too-large, and the honest relay is archived whole.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRelays } from '../../activities/db/store.js';
import { count, freshDatabase, type TestDatabase } from './../helpers/db.js';
import { ZOO_BASE, type ZooRelay } from '../helpers/hostile-relay-farm.js';

const HEAP_CAP_MB = 256; // the worker's default (BIGBROTR_WORKER_HEAP_MB)
const HELPERS = new URL('../helpers/', import.meta.url).pathname;

let t: TestDatabase;
let farm: ReturnType<typeof spawn>;
let zoo: ZooRelay[];

before(async () => {
  t = await freshDatabase();
  farm = spawn(process.execPath, ['--import', 'tsx', `${HELPERS}hostile-relay-farm.ts`], { stdio: ['pipe', 'pipe', 'inherit'] });
  zoo = await new Promise<ZooRelay[]>((resolve, reject) => {
    let out = '';
    farm.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as ZooRelay[]);
    });
    farm.on('exit', (code) => reject(new Error(`the relay farm exited (${code}) before it was ready`)));
  });
  await insertRelays(t.db, zoo.map((r) => ({ url: r.url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
});
after(async () => {
  farm?.stdin?.end();
  await t?.drop();
});

interface ReaderReport {
  peakHeapMb: number;
  results: Array<{ url: string; ok: boolean; invalid?: Record<string, number>; received?: number; error?: string }>;
}

/** The zoo read at once by a process with the worker's heap cap; rejects, naming how, if it dies. */
function readAll(urls: string[]): Promise<ReaderReport> {
  const arg = JSON.stringify({ databaseUrl: t.url, relays: urls, since: ZOO_BASE, until: ZOO_BASE + 4000, limit: 500 });
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_CAP_MB}`, '--import', 'tsx', `${HELPERS}zoo-reader.ts`, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => child.on('exit', (code, signal) => {
    const line = out.split('\n').find((l) => l.startsWith('{"peakHeapMb"'));
    if (code === 0 && line) resolve(JSON.parse(line) as ReaderReport);
    else reject(new Error(`the reader died (code ${code}, signal ${signal}) with a ${HEAP_CAP_MB} MB heap cap: ${err}`));
  }));
}

const linkedTo = (url: string) => count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [url]);

describe('hostile relays: one relay costs its own slot, never the worker', () => {
  let report: ReaderReport;
  const result = (name: string) => report.results.find((r) => r.url === zoo.find((z) => z.name === name)!.url)!;

  it('ten relays of big events paced under the frame cap, one unpaced, 100,000 tags and a stream without end, beside an honest relay: the reader lives', async () => {
    report = await readAll(zoo.map((r) => r.url));
    console.log(`[hostile-relays] reader's peak heap ${report.peakHeapMb} MB (cap ${HEAP_CAP_MB} MB) reading ${zoo.length} relays at once`);
    assert.ok(report.peakHeapMb < HEAP_CAP_MB, `peak heap ${report.peakHeapMb} MB`);
  });

  it('each big-event relay: its small events archived, its big ones counted too-large', async () => {
    for (const z of zoo.filter((r) => r.name.startsWith('paced') || r.name === 'unpaced')) {
      const r = result(z.name);
      assert.ok(r.ok, `${z.name}: ${r.error}`);
      assert.equal(r.invalid?.['too-large'], z.tooLarge, `${z.name}: too-large`);
      assert.equal(await linkedTo(z.url), z.good, `${z.name}: small events linked`);
    }
  });

  it('an event of 100,000 tags is too-large; the relay\'s other events are archived', async () => {
    const r = result('tags-100k');
    assert.ok(r.ok, r.error);
    // Counted each time it is received: the proof's paging can ask its second twice.
    assert.ok((r.invalid?.['too-large'] ?? 0) >= 1, JSON.stringify(r.invalid));
    assert.equal(await linkedTo(zoo.find((z) => z.name === 'tags-100k')!.url), 50);
  });

  it('a relay that streams events for ever costs a bounded read and fails its attempt', () => {
    const r = result('forever');
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /more than twice the limit/);
  });

  it('the honest relay beside them is archived in full', async () => {
    const r = result('honest');
    assert.ok(r.ok, r.error);
    assert.equal(await linkedTo(zoo.find((z) => z.name === 'honest')!.url), 2000);
  });
});
