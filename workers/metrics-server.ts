// Every process's one Prometheus endpoint (config `metrics`, off at port 0): GET /metrics answers
// our registry (activities/shared/metrics.ts: the system's metrics, the database's gauges where
// the process has a pool, prom-client's process and Node.js metrics) followed by the Temporal
// SDK's own (its Runtime serves them on a loopback port of its own, workers/runtime.ts), so an
// operator scrapes one address per process.
import { createServer, request, type Server } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { registry, watchDatabase } from '../activities/shared/metrics.js';
import type { Db } from '../activities/db/db.js';
import type { Config } from '../common/config.js';
import { StartupError } from './errors.js';
import { sdkMetricsAddress } from './runtime.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

let defaults = false;

/** Serves /metrics on config.metrics (undefined when it is off: port 0). */
export async function startMetricsServer(opts: { config: Config; db?: Db }): Promise<MetricsServer | undefined> {
  const { host, port } = opts.config.metrics;
  if (port === 0) return undefined;
  if (!defaults) {
    collectDefaultMetrics({ register: registry });
    defaults = true;
  }
  if (opts.db) watchDatabase(opts.db);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    scrape().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const hint = 'set metrics.port (BIGBROTR__metrics__port) to a free one, or 0 for none';
      if (err.code === 'EADDRINUSE') reject(new StartupError(`port ${port} on ${host} for the metrics endpoint is already taken: ${hint}`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new StartupError(`cannot listen on ${host} for the metrics endpoint: set metrics.host (BIGBROTR__metrics__host) to an address of this machine`));
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`, close: () => closeServer(server) };
}

/** Our registry's text, then the SDK's (when its Runtime serves any): one exposition. */
export async function scrape(): Promise<string> {
  const [ours, sdk] = await Promise.all([registry.metrics(), sdkMetrics()]);
  return joinExpositions(ours, sdk);
}

function joinExpositions(...parts: string[]): string {
  // Blank lines dropped: each part ends its own families; one newline at the end.
  const lines = parts.flatMap((p) => p.split('\n')).filter((l) => l.trim() !== '');
  return `${lines.join('\n')}\n`;
}

/** The SDK's exposition, or '' (no Runtime with metrics in this process, or it did not answer in 5 s). */
function sdkMetrics(): Promise<string> {
  return fetchMetricsText(sdkMetricsAddress());
}

/** The Prometheus text a process serves at `address` (host:port), or '' (none, or no answer in 5 s). */
export function fetchMetricsText(address: string | undefined): Promise<string> {
  if (!address) return Promise.resolve('');
  const [hostname, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const req = request({ hostname, port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
    req.end();
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
