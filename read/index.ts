// The read core: the one way the HTTP API (api/) and the NIP-90 DVM read the archive. A resource
// is a name, strict parameters (strings accepted for numbers, as a query string or a `param` tag
// carries them) and one parameterised query; paged resources return a Page with an opaque cursor.
import { createHash } from 'node:crypto';
import type { Db } from '../activities/db/db.js';
import type { Deployment } from '../common/config.js';
import { parseParams, quote, ReadInputError } from './errors.js';
import { isResourceName, RESOURCE_TABLE, RESOURCES, type ResourceName } from './resources.js';
import type { Resource } from './resource.js';

export { ReadInputError } from './errors.js';
export type { Page } from './resource.js';
export { RESOURCES, RESOURCE_TABLE, type ResourceName } from './resources.js';
export { connectReader, READER_ROLE } from './connect.js';
export { DEFAULT_LIMIT, MAX_LIMIT } from './params.js';

export interface Reader {
  /** A Page, an object, or null (no such thing). Throws ReadInputError for an unknown resource or bad params. */
  read(resource: string, params: Record<string, unknown>): Promise<unknown>;
}

export function createReader(pool: Pick<Db, 'query'>, deployment: Deployment): Reader {
  const db = preparedStatements(pool);
  return {
    async read(name, raw) {
      if (typeof name !== 'string' || !isResourceName(name)) {
        throw new ReadInputError('resource', `unknown resource ${quote(name)} (one of ${RESOURCES.join(', ')})`);
      }
      const r = RESOURCE_TABLE[name] as unknown as Resource;
      return r.run({ db, deployment }, parseParams(r.params, raw));
    },
  };
}

/** The resource's definition (parameters, output, summary): what the API documents. */
export function resourceDefinition(name: ResourceName): Resource {
  return RESOURCE_TABLE[name] as unknown as Resource;
}

/**
 * Every read as a named prepared statement (one name per query text): a connection parses and
 * plans a query shape once, then only binds and runs it. Planning a query over the 16 partitions
 * of `event` cost 0.6-0.9 ms, as much as running it, for each page (bench:api). PostgreSQL keeps
 * planning each execution afresh while a generic plan would cost more than a custom one (its
 * plan_cache_mode auto), so a value that needs its own plan still gets it. The shapes are
 * bounded: each resource's filters combine into a few dozen texts at most.
 */
function preparedStatements(pool: Pick<Db, 'query'>): Pick<Db, 'query'> {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) names.set(text, (name = `read_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`));
    return name;
  };
  return {
    query: ((text: string, values?: unknown[]) => pool.query({ name: nameOf(text), text, values })) as Db['query'],
  };
}
