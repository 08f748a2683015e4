// gzip for the API's JSON: one synchronous deflate at level 1 of the serialised answer. The
// streaming form (@fastify/compress, which still serves the docs page's files) cost half of the
// API's CPU under load (its zlib stream and the many small socket writes it makes) for pages of
// 20-40 kB, where this costs about a tenth of a millisecond and compresses JSON nearly as well.
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const THRESHOLD = 1024;

/** True when the client takes gzip: named (or `*`) without q=0. */
export function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name !== 'gzip' && name !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Route options of the routes gzipped here (and not by @fastify/compress). */
export const GZIP_ROUTE = { compress: false, config: { gzip: true } } as const;

/** Compresses the answers of routes with GZIP_ROUTE; the hook runs after the ETag's (registration order). */
export function registerGzip(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (!(req.routeOptions.config as { gzip?: boolean }).gzip) return payload;
    if (typeof payload !== 'string' || payload.length < THRESHOLD || reply.getHeader('content-encoding')) return payload;
    reply.header('vary', 'accept-encoding');
    if (!acceptsGzip(req)) return payload;
    reply.header('content-encoding', 'gzip');
    reply.removeHeader('content-length');
    return gzipSync(payload, { level: 1 });
  });
}
