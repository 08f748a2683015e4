// The read-only HTTP API: Fastify over the read core (read/), with its OpenAPI document at
// /openapi.json and the interactive docs at /docs. Rate limited per client address, gzip,
// ETags, CORS only for the configured origins. `npm run start-api` runs it alone
// (workers/start-api.ts); `npm start` runs it with the stack.
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import etag from '@fastify/etag';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Db } from '../activities/db/db.js';
import type { Config } from '../common/config.js';
import { metrics } from '../activities/shared/metrics.js';
import { createReader } from '../read/index.js';
import { registerErrorHandlers } from './errors.js';
import { GZIP_ROUTE, registerGzip } from './gzip.js';
import { healthBody, registerRoutes } from './routes.js';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export interface ApiDeps {
  config: Config;
  /** The read-only pool (read/connect.ts connectReader). */
  db: Pick<Db, 'query'>;
  log?: (message: string) => void;
}

export async function buildApi({ config, db, log = () => {} }: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // A relay URL is a path parameter, URL-encoded (2,048 characters, up to 3 bytes each escaped).
    routerOptions: { maxParamLength: 8192 },
    return503OnClosing: true,
    // Behind a reverse proxy, the client is X-Forwarded-For's (api.trust_proxy); else every
    // client would share the proxy's one rate-limit bucket. Off by default: a client could name itself.
    trustProxy: config.api.trust_proxy,
    // A URL the router cannot decode (`%zz`): Fastify's own answer would quote it back.
    frameworkErrors: (_err, _req, reply) => {
      void (reply as FastifyReply).code(400).send({ error: 'bad_request', message: 'malformed request URL' });
    },
  });
  // The read core validates every parameter (the same checks the DVM gets); the zod schemas
  // given to the routes are there for the OpenAPI document.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandlers(app, log, config.api.cors_origins.length > 0);
  // Prometheus: by route pattern (a URL the router did not match is "unmatched"), never the raw URL.
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.apiRequests.inc({ route, status: String(reply.statusCode) });
    metrics.apiDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(rateLimit, {
    global: true,
    max: config.api.rate_limit,
    timeWindow: 60_000,
    keyGenerator: (req) => clientKey(req.ip),
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      message: `more than ${ctx.max} requests a minute from this address: retry in ${ctx.after}`,
    }),
  });
  if (config.api.cors_origins.length) await app.register(cors, { origin: config.api.cors_origins, methods: ['GET', 'HEAD'] });
  // The ETag is taken of the JSON before it is compressed (hooks run in registration order).
  await app.register(etag);
  // The docs page's files; the API's own answers are gzipped by registerGzip (api/gzip.ts).
  await app.register(compress, { encodings: ['gzip'], threshold: 1024 });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'BigBrotr archive API',
        version: '1',
        description:
          `Read-only access to a BigBrotr archive (${config.deployment}): Nostr relays, their health, archived events and statistics. ` +
          'Pages are bounded (limit at most 500) and follow keyset cursors: pass `next` back as `cursor`. Statistics are as of the last analytics refresh.',
      },
      tags: [
        { name: 'relays', description: 'relays, their documents, uptime and sync status' },
        { name: 'events', description: 'archived events (NIP-01)' },
        { name: 'pubkeys', description: 'authors' },
        { name: 'stats', description: 'statistics of the last analytics refresh' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: true } });

  registerGzip(app);
  registerRoutes(app, createReader(db, config.deployment));
  // Exempt from the per-client limit (load balancers probe it from one address), so its database
  // check is shared: one query a second at most, however many clients ask.
  let checked: { at: number; done: Promise<unknown> } | undefined;
  app.get('/health', { ...GZIP_ROUTE, config: { rateLimit: false, gzip: true }, schema: { summary: 'Liveness: the database answers', response: { 200: healthBody } } }, async () => {
    if (!checked || Date.now() - checked.at >= 1000) checked = { at: Date.now(), done: db.query('SELECT 1') };
    await checked.done;
    return { ok: true };
  });
  app.get('/openapi.json', { ...GZIP_ROUTE, schema: { hide: true } }, async () => app.swagger());
  return app;
}

export async function startApiServer(deps: ApiDeps): Promise<ApiServer> {
  const app = await buildApi(deps);
  const { host, port } = deps.config.api;
  await app.listen({ host, port });
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, close: () => app.close() };
}

/**
 * A client's rate-limit key: its IPv4 address, or the /64 of its IPv6 one (one host holds a whole
 * /64, so per-address buckets would give it billions).
 */
export function clientKey(ip: string): string {
  const v6 = ip.replace(/^\[|\]$/g, '');
  if (isIP(v6) !== 6) return ip;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(v6)) return v6.slice(7); // IPv4-mapped
  const [head, tail = ''] = v6.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = v6.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}
