// `npm test`: every test file under test/, on node's test runner, against a real PostgreSQL:
// DATABASE_URL's server when set, else an embedded server started here for the run (each test
// file makes its own database on it). The Temporal binaries come from temporal-binaries.ts.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { databaseServer } from './helpers/database-server.js';
import { findTemporalBinary } from '../workers/temporal-binaries.js';

const root = new URL('.', import.meta.url).pathname;
const only = process.argv.slice(2); // `npm test -- test/unit` runs part of the suite
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join(root, f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const server = await databaseServer();
const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: server.url };
console.log(server.embedded ? `[test] embedded PostgreSQL at ${server.url.replace(/:[^:@/]*@/, ':***@')}` : '[test] PostgreSQL from DATABASE_URL');
const testServer = findTemporalBinary('test-server', env);
if (testServer) env.TEMPORAL_TEST_SERVER_PATH = testServer;
const cli = findTemporalBinary('cli', env);
if (cli) env.TEMPORAL_CLI_PATH = cli;

console.log(`[test] ${files.length} test files: ${files.map((f) => relative(root, f)).join(', ')}`);
// One file at a time: the workflow tests share the machine's two cores with real servers, and a
// time-skipping environment's clock is global to it.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env });
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await server.stop();
process.exit(code);
