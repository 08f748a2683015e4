// Every error as a small JSON body: 400 naming the parameter, 404, 405 (the API only reads),
// 429, 503 when a query outruns its deadline, 500 otherwise. SQL, stack traces and messages of
// other libraries never reach a client (they may quote the query or the input); 5xx are logged.
import type { FastifyError, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ReadInputError } from '../read/index.js';

export const errorBody = z.object({
  error: z.string().meta({ description: 'bad_request, not_found, method_not_allowed, rate_limited, timeout or internal' }),
  param: z.string().optional().meta({ description: 'the parameter at fault (400)' }),
  message: z.string(),
});

const METHOD_NOT_ALLOWED = { error: 'method_not_allowed', message: 'this API only reads: GET and HEAD' };

/** PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

export function registerErrorHandlers(app: FastifyInstance, log: (message: string) => void, cors: boolean): void {
  // Before anything reads a body: a write method is refused whatever its path or content.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || (cors && req.method === 'OPTIONS')) return;
    return reply.code(405).header('allow', 'GET, HEAD').send(METHOD_NOT_ALLOWED);
  });
  app.setErrorHandler((err: FastifyError & { code?: string }, req, reply) => {
    if (err instanceof ReadInputError) return reply.code(400).send({ error: 'bad_request', param: err.param, message: err.message });
    if (err.statusCode === 429) return reply.code(429).send({ error: 'rate_limited', message: err.message });
    if (err.code === QUERY_CANCELED) {
      log(`api: ${req.method} ${shortUrl(req.url)} ran past its statement timeout`);
      return reply.code(503).send({ error: 'timeout', message: 'the query took too long: narrow it (a filter, a smaller limit) or retry later' });
    }
    // Fastify's own 4xx (a malformed URL escape, an unsupported Accept-Encoding ...).
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: 'bad_request', message: 'malformed request' });
    }
    log(`api: ${req.method} ${shortUrl(req.url)} failed: ${err.message}`);
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return reply.code(405).header('allow', 'GET, HEAD').send(METHOD_NOT_ALLOWED);
    }
    return reply.code(404).send({ error: 'not_found', message: 'no such route (the routes: /docs)' });
  });
}

/** A request URL for a log line: escaped, and cut (it is the client's text). */
function shortUrl(url: string): string {
  return JSON.stringify(url.length > 200 ? `${url.slice(0, 200)}…` : url);
}
