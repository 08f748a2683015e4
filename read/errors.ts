// Bad input to the read core, whoever sent it (the HTTP API answers 400, the DVM an error
// feedback). The message names the parameter and what is allowed; it never quotes more than a
// short, escaped piece of what was sent, so a hostile value cannot flood a response or a log.
import type { z } from 'zod';

const MAX_MESSAGE = 300;

export class ReadInputError extends Error {
  override name = 'ReadInputError';
  readonly param: string;
  constructor(param: string, problem: string) {
    const name = shorten(param, 64);
    super(shorten(`${name}: ${problem}`, MAX_MESSAGE));
    this.param = name;
  }
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A value sent by a client, shown in a message: JSON-escaped and cut to a few characters. */
export function quote(value: unknown, max = 40): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/**
 * Parses a resource's parameters. Absent parameters may come as undefined or null (a DVM
 * request without params); anything else must be a plain object.
 */
export function parseParams<S extends z.ZodObject>(schema: S, raw: unknown): z.output<S> {
  const input = raw ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new ReadInputError('params', 'expected an object of parameters');
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  // An unknown parameter first: it usually explains the rest.
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(schema.shape).join(', ') || 'none';
    throw new ReadInputError(String(issue.keys[0]), `unknown parameter ${quote(issue.keys[0])} (allowed: ${allowed})`);
  }
  const [param, ...rest] = issue.path.map(String);
  // a list's element: `ids[3]: expected ...`
  const where = rest.length ? `[${rest.join('][')}] ` : '';
  throw new ReadInputError(param ?? 'params', `${where}${issue.message}`);
}
