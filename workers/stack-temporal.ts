// The local stack's Temporal dev server (with its Web UI), run from the CLI binary the launcher
// found: as the launcher's child with a known pid and a log file, so that it can be watched and
// restarted. Without a binary the SDK downloads one and runs it (createLocal); that server is not
// watched (its pid is the SDK's).
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes.js';
import { StartupError } from './errors.js';
import { installHint, temporalExecutable } from './temporal-binaries.js';

export interface RunningTemporal {
  address: string;
  /** Undefined for the SDK's download, whose process the launcher does not see. */
  pid?: number;
  logFile: string;
  /** Settles when the server exits, with how; never for the SDK's download. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port: number;
  uiPort: number;
  namespace: string;
  dbFile: string;
  logFile: string;
  /** Told once when the SDK will download the CLI. */
  say: (m: string) => void;
}

export async function startTemporalDevServer(o: DevServerOptions): Promise<RunningTemporal> {
  // Workflow histories are as private as the database: the state file is the owner's alone.
  for (const suffix of ['', '-wal', '-shm', '-journal']) if (existsSync(o.dbFile + suffix)) chmodSync(o.dbFile + suffix, 0o600);
  const executable = temporalExecutable('cli');
  if (executable.type === 'cached-download') return startDownloaded(o);
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--ui-port', String(o.uiPort),
    '--namespace', o.namespace, '--db-filename', o.dbFile, '--log-format', 'pretty', '--log-level', 'warn',
    // as the SDK's createLocal starts it
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    // The relay search attributes (the Web UI's search finds a relay's workflows by URL): registered
    // at every start, which keeps those already in the state file.
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
  ];
  const fd = openSync(o.logFile, 'a', 0o600);
  // umask 077: the state file SQLite creates is the owner's alone from its first byte.
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', executable.path, ...args], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  chmodSync(o.logFile, 0o600);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)));
  child.once('error', () => {});
  let how: string | undefined;
  void exited.then((h) => (how = h));
  const deadline = Date.now() + 120_000;
  while (!(await listening(o.port)) || !(await listening(o.uiPort))) {
    if (how || Date.now() > deadline) {
      if (!how) child.kill('SIGKILL');
      throw new StartupError(`the Temporal dev server did not start (${how ?? 'not listening within 120 s'}); its log: ${o.logFile}${tail(o.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${o.port}`,
    pid: child.pid,
    logFile: o.logFile,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function startDownloaded(o: DevServerOptions): Promise<RunningTemporal> {
  o.say(`no Temporal CLI found: the SDK downloads one (needs internet); to use a local one, ${installHint('cli')}`);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip: '127.0.0.1',
      port: o.port,
      ui: true,
      uiPort: o.uiPort,
      namespace: o.namespace,
      dbFilename: o.dbFile,
      searchAttributes: SEARCH_ATTRIBUTES,
    },
  }).catch((err: Error) => {
    throw new StartupError(`the Temporal dev server did not start: ${err.message}; ${installHint('cli')}`);
  });
  if (existsSync(o.dbFile)) chmodSync(o.dbFile, 0o600);
  return { address: env.address, logFile: '(the terminal)', exited: new Promise(() => {}), stop: () => env.teardown() };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function tail(file: string): string {
  try {
    const t = readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
    return t ? `\n${t}` : '';
  } catch {
    return '';
  }
}
