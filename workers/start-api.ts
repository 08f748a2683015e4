// `npm run start-api`: the read-only HTTP API alone, against the database of the config
// (API_DATABASE_URL, a role that can only read; else DATABASE_URL acting as bigbrotr_reader).
// Run as many as you like: it keeps no state.
import { startApiServer } from '../api/server.js';
import { connectReader } from '../read/index.js';
import { loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { configureLogging } from './logging.js';
import { runMain, say } from './main.js';
import { startMetricsServer } from './metrics-server.js';

runMain(async () => {
  const config = loadConfig();
  configureLogging(config, 'api');
  // The API's own metrics and the process's; the database's gauges are the workers'.
  const metrics = await startMetricsServer({ config });
  if (metrics) say(`metrics: ${metrics.url}`);
  const db = await connectReader(config);
  let server;
  try {
    server = await startApiServer({ config, db, log: say });
  } catch (err) {
    await db.end();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.api.port} on ${config.api.host} is taken: set api.port (BIGBROTR__api__port) to a free one, or 0 for any`);
    if (code === 'EADDRNOTAVAIL') throw new StartupError(`cannot listen on ${config.api.host}: set api.host (BIGBROTR__api__host) to an address of this machine`);
    throw err;
  }
  say(`API on ${server.url} (docs: ${server.url}/docs); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await metrics?.close();
  await db.end();
  say('API stopped');
});
