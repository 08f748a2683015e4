// One YAML file per deployment (config/bigbrotr.yaml), environment overrides on top, validated by
// zod at start-up (the schema: common/config.ts): a wrong value stops start-up with the field, the
// value and what is allowed.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from '../common/config.js';
import { showValue } from './errors.js';

export type { Config };

export const PROJECT_DIR = resolve(import.meta.dirname, '..');
export const DEFAULT_CONFIG = resolve(PROJECT_DIR, 'config/bigbrotr.yaml');

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the config file (BIGBROTR_CONFIG, else config/bigbrotr.yaml) and applies the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, path = env.BIGBROTR_CONFIG ?? DEFAULT_CONFIG): Config {
  const file = resolve(path);
  if (!existsSync(file)) throw new ConfigError(`config file not found: ${file} (set BIGBROTR_CONFIG to a YAML file)`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${yamlProblem(err)}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: expected a mapping at the top`);
  const merged = applyEnv(raw as Record<string, unknown>, env);
  const r = configSchema.safeParse(merged);
  if (!r.success) {
    const problems = r.error.issues.flatMap((i) => {
      // A misspelt key is named, not shown: it may be a secret's (`privat_key`), and its section's
      // value would hold the section's secrets.
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `  ${[...i.path, k].join('.')}: not a known key (misspelt, or in the wrong section?)`);
      const field = i.path.join('.') || '(top level)';
      const value = i.path.length ? valueAt(merged, i.path) : undefined;
      // Secrets (keys, passwords, a URL's password) are never shown, not even a wrong one.
      return [`  ${field} = ${showValue(value, i.path.at(-1))}: ${i.message}`];
    });
    throw new ConfigError(`invalid config ${file}${envNote(env)}:\n${problems.join('\n')}`);
  }
  return { ...r.data, dir: dirname(file), path: file };
}

const ENV_PREFIX = 'BIGBROTR__';

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  const set = (path: string[], value: unknown) => {
    let node = out;
    for (const key of path.slice(0, -1)) {
      if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1) as string] = value;
  };
  if (env.DATABASE_URL) set(['database', 'url'], env.DATABASE_URL);
  if (env.API_DATABASE_URL) set(['api', 'database_url'], env.API_DATABASE_URL);
  if (env.TEMPORAL_ADDRESS) set(['temporal', 'address'], env.TEMPORAL_ADDRESS);
  if (env.TEMPORAL_NAMESPACE) set(['temporal', 'namespace'], env.TEMPORAL_NAMESPACE);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    // Values are YAML scalars, so `true`, `500` and `"500"` mean what they would in the file.
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch (err) {
      throw new ConfigError(`${name} is not a YAML value: ${yamlProblem(err)}`);
    }
    set(name.slice(ENV_PREFIX.length).toLowerCase().split('__'), parsed);
  }
  return out;
}

function envNote(env: NodeJS.ProcessEnv): string {
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX));
  return names.length ? ` (with environment overrides ${names.join(', ')})` : '';
}

/** The YAML parser's message without the source excerpt it quotes (which may hold a secret). */
function yamlProblem(err: unknown): string {
  return (err as Error).message.split(/:?\n/, 1)[0] ?? 'unreadable';
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), obj);
}
