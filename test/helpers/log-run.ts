// A run of the workers with the production logger installed (JSON lines on stdout), for
// test/integration/logs.test.ts, which spawns it: the Runtime is installed once per process. It
// plays expected outcomes: a candidate that refuses connections (invalid), one that serves
// (promoted), a relay that refuses to be read (NIP-42 without a key), a relay whose dense second
// cannot be paged (a gap), a relay that is down. Prints `{"message":"log run done"}` last.
import { insertCandidates, insertRelays } from '../../activities/db/store.js';
import { configureLogging } from '../../workers/logging.js';
import { say } from '../../workers/main.js';
import { installRuntime } from '../../workers/runtime.js';
import { createWorkers } from '../../workers/worker.js';
import { monitorRelay, syncRelay, validator } from '../../workflows/index.js';
import { localRelayConfig } from './config.js';
import { count, freshDatabase } from './db.js';
import { eventually } from './eventually.js';
import { startLocalRelay } from './local-relay.js';
import { signed } from './nostr.js';
import { cancelAllAndWait, timeSkippingEnv, workflowBundle } from './temporal.js';

const TASK_QUEUE = 'log-run';
const now = Math.floor(Date.now() / 1000);
const t = await freshDatabase();
const config = localRelayConfig(t.url, {
  BIGBROTR__temporal__task_queue: TASK_QUEUE,
  BIGBROTR__synchronizer__start: String(now - 2 * 86_400),
  BIGBROTR__logging__format: 'json',
});
const logger = configureLogging(config, 'worker');
await installRuntime(config, logger);
const env = await timeSkippingEnv();
const notes = (n: number, at?: number) => Array.from({ length: n }, (_, i) => signed({ kind: 1, content: `note ${i}`, created_at: at ?? now - 86_400 + i * 1000 }));
const good = await startLocalRelay({ events: notes(10) });
const restricted = await startLocalRelay({ events: notes(3), auth: 'restricted-after' });
const dense = await startLocalRelay({ events: notes(12, now - 86_400), maxLimit: 5 });
const dead = 'ws://127.0.0.1:1';
const workers = await createWorkers({ connection: env.nativeConnection, config, db: t.db, bundle: await workflowBundle(), log: say });
const running = Promise.all(workers.map((w) => w.run()));
try {
  await insertCandidates(t.db, [good.url, dead].map((url) => ({ url, network: 'clearnet' as const, source: 'seed' })), 1, { allowLocal: true });
  await insertRelays(t.db, [restricted.url, dense.url, dead].map((url) => ({ url, network: 'clearnet' as const, discoveredAt: 1 })), { allowLocal: true });
  const start = (workflow: typeof validator | typeof syncRelay | typeof monitorRelay, workflowId: string, args: unknown[]) =>
    env.client.workflow.start(workflow as typeof validator, { taskQueue: TASK_QUEUE, workflowId, args: args as [] });
  await start(validator, 'validator', [{ interval: '1h' }]);
  await start(syncRelay, `sync/${restricted.url}`, [{ url: restricted.url, network: 'clearnet' }]);
  await start(syncRelay, `sync/${dense.url}`, [{ url: dense.url, network: 'clearnet' }]);
  await start(monitorRelay, `monitor/${dead}`, [{ url: dead, network: 'clearnet' }]);
  await eventually('the candidates probed', async () => (await count(t.db, 'SELECT 1 FROM candidate WHERE failures > 0')) === 1 && (await count(t.db, 'SELECT 1 FROM relay WHERE url = $1', [good.url])) === 1, 30_000);
  await eventually('the refusal recorded', async () => (await count(t.db, 'SELECT 1 FROM sync_refusal')) === 1, 30_000);
  await eventually('the dense relay read', async () => (await count(t.db, 'SELECT 1 FROM event_relay WHERE relay_url = $1', [dense.url])) >= 5, 30_000);
  await eventually('the dead relay checked', async () => (await count(t.db, 'SELECT 1 FROM relay_check WHERE relay_url = $1', [dead])) > 0, 30_000);
  await cancelAllAndWait(env, ['validator', `sync/${restricted.url}`, `sync/${dense.url}`, `monitor/${dead}`]);
} finally {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await running.catch(() => {});
  await Promise.all([good, restricted, dense].map((r) => r.stop()));
  await env.teardown();
  await t.drop();
}
say('log run done');
process.exit(0);
