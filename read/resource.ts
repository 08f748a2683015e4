// What a resource is: a strict zod schema for its parameters (the API's OpenAPI document and the
// DVM's parameter checks come from it), a zod schema of what it returns (documentation), and one
// function that runs its one parameterised query.
import { z } from 'zod';
import type { Db } from '../activities/db/db.js';
import type { Deployment } from '../common/config.js';
import { encodeCursor } from './cursor.js';

export interface ReadContext {
  db: Pick<Db, 'query'>;
  deployment: Deployment;
}

export interface Page<T = unknown> {
  items: T[];
  /** The cursor of the next page; null when there is no more. */
  next: string | null;
}

export interface Resource<S extends z.ZodObject = z.ZodObject> {
  params: S;
  output: z.ZodType;
  /** Returns a Page; otherwise one object, or null when there is no such thing. */
  paged: boolean;
  summary: string;
  run(ctx: ReadContext, params: z.output<S>): Promise<unknown>;
}

/** Declares a resource, keeping its parameters' type for `run`. */
export const resource = <S extends z.ZodObject>(r: Resource<S>): Resource<S> => r;

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next: z.string().nullable().meta({ description: 'cursor of the next page; null at the end' }) });

/**
 * A page from `limit + 1` rows: the extra row only says there is more, and the cursor is the key
 * of the last row returned.
 */
export function toPage<R extends { item: unknown }>(name: string, rows: R[], limit: number, key: (row: R) => readonly unknown[]): Page {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { items: shown.map((r) => r.item), next: more ? encodeCursor(name, key(shown.at(-1)!)) : null };
}

/**
 * SQL text from fixed fragments, and its values. Which fragments are used depends on which
 * parameters are present; every value is a numbered parameter, never text in the query.
 */
export class Query {
  readonly values: unknown[] = [];
  readonly where: string[] = [];
  /** The placeholder of a new parameter, `$n`. */
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  whereClause(): string {
    return this.where.length ? `WHERE ${this.where.join(' AND ')}` : '';
  }
}

export const unixSeconds = z.number().int().meta({ description: 'Unix seconds' });
export const hexString = z.string().meta({ description: '64 lower-case hex characters' });
