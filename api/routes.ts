// The routes: each maps one URL onto one read-core resource, its path parameters taken from the
// path and the rest from the query string. The resource's zod schema is the route's schema (the
// OpenAPI document is generated from it) and the read core validates with it, so the API and the
// DVM accept and refuse exactly the same input.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createReader, ReadInputError, resourceDefinition, type Reader, type ResourceName } from '../read/index.js';
import { errorBody } from './errors.js';
import { DerivedCache } from './derived-cache.js';
import { GZIP_ROUTE } from './gzip.js';

interface Route {
  path: string;
  resource: ResourceName;
  tag: 'relays' | 'events' | 'pubkeys' | 'stats';
  /** Figures of the analytics refresh: the same until the next one, so caches may keep them a minute. */
  derived?: boolean;
}

export const ROUTES: readonly Route[] = [
  { path: '/v1/relays', resource: 'relays', tag: 'relays' },
  { path: '/v1/relays/:url', resource: 'relay', tag: 'relays' },
  { path: '/v1/relays/:url/metadata', resource: 'relay_metadata', tag: 'relays' },
  { path: '/v1/events', resource: 'events', tag: 'events' },
  { path: '/v1/events/:id', resource: 'event', tag: 'events' },
  { path: '/v1/events/:id/relays', resource: 'event_relays', tag: 'events' },
  { path: '/v1/pubkeys/:pubkey', resource: 'pubkey', tag: 'pubkeys', derived: true },
  { path: '/v1/pubkeys/:pubkey/replaceable/:kind', resource: 'replaceable', tag: 'pubkeys' },
  { path: '/v1/pubkeys/:pubkey/addressable/:kind/:d', resource: 'addressable', tag: 'pubkeys' },
  { path: '/v1/stats/kinds', resource: 'kinds', tag: 'stats', derived: true },
  { path: '/v1/stats/pubkeys', resource: 'pubkeys', tag: 'stats', derived: true },
  { path: '/v1/stats/days', resource: 'days', tag: 'stats', derived: true },
  { path: '/v1/stats/networks', resource: 'networks', tag: 'stats', derived: true },
  { path: '/v1/stats/software', resource: 'software', tag: 'stats', derived: true },
  { path: '/v1/stats/nips', resource: 'nips', tag: 'stats', derived: true },
  { path: '/v1/summary', resource: 'summary', tag: 'stats', derived: true },
];

const DERIVED_CACHE = 'public, max-age=60';
// Archive data changes as relays are synchronised: a cache may keep it, but must ask first (ETag).
const LIVE_CACHE = 'no-cache';

/** How long the API itself keeps a statistics answer (derived-cache.ts). */
export const DERIVED_CACHE_MS = 10_000;

export function registerRoutes(app: FastifyInstance, reader: Reader): void {
  const cache = new DerivedCache(DERIVED_CACHE_MS, 1000);
  for (const route of ROUTES) {
    const def = resourceDefinition(route.resource);
    const pathKeys = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const mask = Object.fromEntries(pathKeys.map((k) => [k, true as const])) as never;
    const query = def.params.omit(mask);
    app.get(
      route.path,
      {
        ...GZIP_ROUTE,
        schema: {
          summary: def.summary,
          tags: [route.tag],
          ...(pathKeys.length ? { params: def.params.pick(mask) } : {}),
          ...(Object.keys(query.shape).length ? { querystring: query } : {}),
          response: {
            200: def.output,
            400: errorBody,
            ...(def.paged ? {} : { 404: errorBody }),
            429: errorBody,
          },
        },
      },
      async (req, reply) => {
        if (route.derived) {
          const hit = cache.get(req.url);
          if (hit !== undefined) return reply.header('cache-control', DERIVED_CACHE).send(hit);
        }
        const q = req.query as Record<string, unknown>;
        const p = req.params as Record<string, string>;
        for (const k of pathKeys) if (Object.hasOwn(q, k)) throw new ReadInputError(k, 'is given in the path: not allowed in the query string too');
        const result = await reader.read(route.resource, { ...q, ...p });
        if (result === null) return reply.code(404).send({ error: 'not_found', message: `no such ${route.resource.replace('_', ' ')} in the archive` });
        if (route.derived) cache.set(req.url, result);
        reply.header('cache-control', route.derived ? DERIVED_CACHE : LIVE_CACHE);
        return result;
      },
    );
  }
}

export { createReader };
export const healthBody = z.object({ ok: z.boolean() });
