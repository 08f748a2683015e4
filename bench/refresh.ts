// `npm run bench:refresh`: the Refresher's targets on a synthetic archive (bench/synthetic-archive.ts)
// of 1,000,000 events (BENCH_EVENTS to change): a full build from the base tables, then an
// incremental refresh after 10,000 new events (BENCH_NEW_EVENTS) with their links and new checks.
// Prints each target's time and rows, and the totals against the targets (full ≤ 60 s,
// incremental ≤ 2 s). Then checks that the incremental result equals a rebuild.
import { deploymentTargets, pruneAnalyticsQueues, refreshTarget } from '../activities/refresher/refresher.js';
import { databaseServer } from '../test/helpers/database-server.js';
import { freshDatabase } from '../test/helpers/db.js';
import { fillSyntheticArchive } from './synthetic-archive.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const NEW_EVENTS = Number(process.env.BENCH_NEW_EVENTS ?? 10_000);
const say = (m: string) => console.log(`[bench:refresh] ${m}`);

const server = await databaseServer();
const t = await freshDatabase({ deployment: 'bigbrotr' });
try {
  const fillStart = performance.now();
  await fillSyntheticArchive(t.db, { events: EVENTS, say: (m) => process.stdout.write(`\r[bench:refresh] archive: ${m}   `) });
  process.stdout.write('\n');
  say(`archive of ${EVENTS.toLocaleString()} events made in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);
  await t.db.query('VACUUM ANALYZE');
  await pruneAnalyticsQueues(t.db);

  const run = async (label: string, full: boolean) => {
    const started = performance.now();
    const lines: string[] = [];
    for (const target of deploymentTargets('bigbrotr')) {
      const r = await refreshTarget(t.db, target, full);
      lines.push(`  ${target.padEnd(20)} ${String(r.ms).padStart(7)} ms  ${r.rows.toLocaleString().padStart(10)} rows`);
    }
    const pruned = await pruneAnalyticsQueues(t.db);
    const total = (performance.now() - started) / 1000;
    say(`${label}: ${total.toFixed(2)} s (queued changes pruned: ${pruned.toLocaleString()})`);
    for (const l of lines) console.log(l);
    return total;
  };

  const full = await run(`full build at ${EVENTS.toLocaleString()} events`, true);
  await fillSyntheticArchive(t.db, { events: NEW_EVENTS, from: EVENTS });
  const incremental = await run(`incremental refresh after ${NEW_EVENTS.toLocaleString()} new events`, false);

  const tables = ['kind_stats', 'pubkey_stats', 'day_stats', 'day_kind_stats', 'relay_stats', 'relay_kind_stats', 'relay_pubkey_stats', 'replaceable_current', 'addressable_current', 'relay_check_hour'];
  const digest = async () => {
    const out: string[] = [];
    for (const table of tables) out.push((await t.db.query(`SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) AS h FROM ${table} x`)).rows[0].h);
    return out.join(' ');
  };
  const afterIncremental = await digest();
  await run('rebuild, to compare', true);
  const same = afterIncremental === (await digest());
  say(`incremental result equals a rebuild: ${same ? 'yes' : 'NO'}`);
  say(`targets: full build ${full.toFixed(2)} s (≤ 60 s: ${full <= 60 ? 'met' : 'MISSED'}), incremental ${incremental.toFixed(2)} s (≤ 2 s: ${incremental <= 2 ? 'met' : 'MISSED'})`);
  if (!same) process.exitCode = 1;
} finally {
  await t.drop();
  await server.stop();
}
