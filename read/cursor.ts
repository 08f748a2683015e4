// Keyset cursors: base64url of JSON [resource, ...key of the last row]. Opaque to clients, and
// checked when they come back: a cursor of another resource, or one garbled or forged into a
// shape the query cannot take, is refused as bad input (never passed on to SQL as it is).
import type { z } from 'zod';
import { ReadInputError } from './errors.js';

const MAX_CURSOR = 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(resource: string, key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([resource, ...key])).toString('base64url');
}

export function decodeCursor<T>(resource: string, cursor: string, key: z.ZodType<T>): T {
  const bad = (why: string) => new ReadInputError('cursor', `${why}: pass back the \`next\` of a previous ${resource} page unchanged`);
  if (cursor.length > MAX_CURSOR || !BASE64URL.test(cursor)) throw bad('not a cursor');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor');
  }
  if (!Array.isArray(decoded) || typeof decoded[0] !== 'string') throw bad('not a cursor');
  if (decoded[0] !== resource) throw bad('a cursor of another resource');
  const r = key.safeParse(decoded.slice(1));
  if (!r.success) throw bad('a damaged cursor');
  return r.data;
}
