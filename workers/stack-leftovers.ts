// What a launcher that died without stopping its servers (kill -9, out of memory) left running.
// Each launcher records its pid and its servers' pids and ports in <data dir>/stack.json; the next
// one stops what is still alive rather than reusing it: it must be the servers' parent to see them
// die (stack-supervisor.ts), and the ports it is asked for may have changed since. A pid outlives
// its process: only a process proven to be the server is signalled, anything else is left alone.
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isAlive, postmasterOwner, postmasterPid } from './embedded-postgres.js';
import { StartupError } from './errors.js';

export const STATE_FILE = 'stack.json';

export interface StackState {
  launcher: number;
  postgres?: { pid: number; port: number; dir: string };
  temporal?: { pid?: number; port: number; uiPort: number };
}

export interface StackRecord {
  /** Adds a server's pid and ports to the file, as soon as it runs. */
  set(part: Partial<Omit<StackState, 'launcher'>>): void;
  /** After a clean stop: nothing is left. */
  clear(): void;
}

/**
 * Refuses to start beside a live launcher on the same data folder; stops the servers a dead one
 * left, saying so in one line; then starts this launcher's record.
 */
export async function takeOverDataFolder(dataDir: string, temporalDb: string, say: (m: string) => void): Promise<StackRecord> {
  const file = join(dataDir, STATE_FILE);
  const old = readState(file);
  if (old && old.launcher !== process.pid && isAlive(old.launcher) && (commandLine(old.launcher) ?? 'start.ts').includes('start.ts')) {
    throw new StartupError(`another \`npm start\` (pid ${old.launcher}) uses ${dataDir}: stop it first (Ctrl-C there, or kill ${old.launcher}), or set BIGBROTR_DATA_DIR to another folder`);
  }
  const stopped: string[] = [];
  // The cluster's own pid file is the authority (it also covers a launcher from before stack.json).
  const pgDir = old?.postgres?.dir ?? (existsSync(join(dataDir, 'pg')) ? realpathSync(join(dataDir, 'pg')) : undefined);
  const pgPid = pgDir ? postmasterPid(pgDir) : undefined;
  if (pgDir && pgPid && isAlive(pgPid)) {
    const owner = postmasterOwner(pgPid, pgDir);
    if (owner === 'ours') {
      await stopProcess(pgPid, 'SIGINT'); // PostgreSQL's fast shutdown
      stopped.push(`its PostgreSQL (pid ${pgPid})`);
    } else {
      say(`${join(pgDir, 'postmaster.pid')} names pid ${pgPid}, ${owner === 'other' ? 'now another program (its folder and start time are not the server\'s)' : 'which cannot be proven to be its server (/proc tells nothing)'}: left it alone`);
    }
  }
  const temporal = temporalServersOn(temporalDb, old?.temporal?.pid);
  for (const pid of temporal.ours) {
    await stopProcess(pid, 'SIGTERM');
    stopped.push(`its Temporal dev server (pid ${pid})`);
  }
  if (temporal.notOurs) say(`the recorded Temporal dev server's pid ${temporal.notOurs} is now a program whose command line does not name ${temporalDb}: left it alone`);
  if (stopped.length) {
    say(`a previous \`npm start\`${old ? ` (pid ${old.launcher})` : ''} ended without stopping its servers: stopped ${stopped.join(' and ')}`);
  }
  let state: StackState = { launcher: process.pid };
  const write = () => writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  write();
  return {
    set(part) {
      state = { ...state, ...part };
      write();
    },
    clear: () => rmSync(file, { force: true }),
  };
}

function readState(file: string): StackState | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as StackState;
    return Number.isInteger(s.launcher) ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Dev servers on this state file (their command line names it): the recorded pid, and where /proc
 * exists, any other; `notOurs`: the recorded pid, alive but not one of them.
 */
function temporalServersOn(dbFile: string, recorded: number | undefined): { ours: number[]; notOurs?: number } {
  const isOurs = (pid: number) => {
    const cmd = ` ${commandLine(pid) ?? ''} `;
    return isAlive(pid) && cmd.includes(' start-dev ') && cmd.includes(` --db-filename ${dbFile} `);
  };
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => p !== process.pid);
  } catch {
    // no /proc (macOS): the recorded pid only
  }
  if (recorded) pids.push(recorded);
  const ours = [...new Set(pids)].filter(isOurs);
  return { ours, notOurs: recorded && isAlive(recorded) && !ours.includes(recorded) ? recorded : undefined };
}

/** Signals a process that is not our child and waits for it to go; SIGKILL after 30 s. */
async function stopProcess(pid: number, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
