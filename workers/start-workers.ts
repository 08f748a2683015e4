// `npm run start-workers`: only the workers, against TEMPORAL_ADDRESS and DATABASE_URL. Run as many
// as you like, on as many machines: they share the task queue (and apply the schema safely).
import { loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { configureLogging } from './logging.js';
import { runMain, say } from './main.js';
import { startMetricsServer } from './metrics-server.js';
import { installRuntime } from './runtime.js';
import { connectDatabase, connectTemporal, createWorkers, runWorkers } from './worker.js';

runMain(async () => {
  const config = loadConfig();
  const logger = configureLogging(config, 'worker');
  if (!config.database.url) {
    throw new StartupError('DATABASE_URL is not set: the workers need a PostgreSQL server (`npm start` runs the whole local stack instead)');
  }
  const address = config.temporal.address || 'localhost:7233';
  const db = await connectDatabase(config.database.url, config, 'bigbrotr-worker');
  await installRuntime(config, logger); // before the first connection
  const metrics = await startMetricsServer({ config, db });
  if (metrics) say(`metrics: ${metrics.url}`);
  const connection = await connectTemporal(address);
  const workers = await createWorkers({ connection, config, db, log: say });
  say(`worker on ${address} (namespace ${config.temporal.namespace}); Ctrl-C stops it`);
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: running activities finish first.
  await runWorkers(workers);
  await connection.close();
  await metrics?.close();
  await db.end();
  say('worker stopped');
});
