// gzip for the API's JSON: one synchronous deflate at level 1 of the serialised answer. The
// streaming form (@fastify/compress, which still serves the docs page's files) cost half of the
// API's CPU under load (its zlib stream and the many small socket writes it makes) for pages of
// 20-40 kB, where this costs about a tenth of a millisecond and compresses JSON nearly as well.
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

type GzipRequest = FastifyRequest & { gzipTagAsked?: boolean };

const THRESHOLD = 1024;

/** True when the client takes gzip: named with q > 0, or, not named, `*` with q > 0 (a named `gzip;q=0` refuses it whatever `*` says). */
export function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const value = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    q.set(name!.trim(), value === undefined ? 1 : Number(value.slice(2)) || 0);
  }
  return (q.get('gzip') ?? q.get('x-gzip') ?? q.get('*') ?? 0) > 0;
}

/** Adds `value` to the reply's Vary (CORS may have set Vary: Origin): appended, never replaced. */
export function addVary(reply: FastifyReply, value: string): void {
  const current = reply.getHeader('vary');
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? '')).split(',').map((v) => v.trim()).filter(Boolean);
  if (!list.some((v) => v.toLowerCase() === value.toLowerCase() || v === '*')) list.push(value);
  reply.header('vary', list.join(', '));
}

/** The strong ETag of a representation: the gzip one differs from the identity one (RFC 9110 8.8.3). */
const gzipTag = (tag: string) => tag.replace(/"$/, '-gzip"');

/** Route options of the routes gzipped here (and not by @fastify/compress). */
export const GZIP_ROUTE = { compress: false, config: { gzip: true } } as const;

/** Compresses the answers of routes with GZIP_ROUTE; the hook runs after the ETag's (registration order). */
export function registerGzip(app: FastifyInstance): void {
  // If-None-Match naming a gzip representation: compared by its identity tag (the ETag plugin
  // knows only that one); the 304 then names the gzip one again.
  app.addHook('onRequest', async (req) => {
    const inm = req.headers['if-none-match'];
    if (typeof inm !== 'string' || !inm.includes('-gzip"')) return;
    (req as GzipRequest).gzipTagAsked = true;
    req.headers['if-none-match'] = inm.replace(/-gzip"/g, '"');
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (!(req.routeOptions.config as { gzip?: boolean }).gzip) return payload;
    const tag = reply.getHeader('etag');
    // A 304 to a gzip representation's tag (see the onRequest hook below) names that representation.
    if (reply.statusCode === 304 && typeof tag === 'string' && (req as GzipRequest).gzipTagAsked) reply.header('etag', gzipTag(tag));
    if (typeof payload !== 'string' || payload.length < THRESHOLD || reply.getHeader('content-encoding')) return payload;
    addVary(reply, 'accept-encoding');
    if (!acceptsGzip(req)) return payload;
    reply.header('content-encoding', 'gzip');
    reply.removeHeader('content-length');
    if (typeof tag === 'string') reply.header('etag', gzipTag(tag));
    return gzipSync(payload, { level: 1 });
  });
}
