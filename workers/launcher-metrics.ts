// `npm start`'s /metrics (config `metrics`): the worker process's exposition (it serves one on a
// loopback port of its own, a new one at each start) with the launcher's API families in place of
// the worker's unused ones. One address to scrape, which outlives worker restarts; the process_*
// and nodejs_* metrics are the worker's.
import { createServer } from 'node:http';
import { registry } from '../activities/shared/metrics.js';
import type { Config } from '../common/config.js';
import { StartupError } from './errors.js';
import { closeServer, fetchMetricsText, type MetricsServer } from './metrics-server.js';

/** Counted where the API runs: the launcher. */
const API_FAMILIES = new Set(['bigbrotr_api_requests_total', 'bigbrotr_api_request_duration_seconds']);

export async function startLauncherMetrics(config: Config, worker: () => string | undefined): Promise<MetricsServer | undefined> {
  const { host, port } = config.metrics;
  if (port === 0) return undefined;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if ((req.url ?? '/').split('?')[0] !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
    scrape(worker()).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new StartupError(`port ${port} on ${host} for the metrics endpoint is already taken: set metrics.port (BIGBROTR__metrics__port) to a free one, or 0 for none`) : err));
    server.listen(port, host, () => resolve());
  });
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`, close: () => closeServer(server) };
}

async function scrape(worker: string | undefined): Promise<string> {
  const ours = await Promise.all([...API_FAMILIES].map((name) => registry.getSingleMetricAsString(name)));
  let family = '';
  // A family's samples follow its # HELP and # TYPE lines.
  const theirs = (await fetchMetricsText(worker)).split('\n').filter((line) => {
    family = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1] ?? family;
    return !API_FAMILIES.has(family);
  });
  const lines = [...theirs, ...ours.flatMap((t) => t.split('\n'))].filter((l) => l.trim() !== '');
  return `${lines.join('\n')}\n`;
}
