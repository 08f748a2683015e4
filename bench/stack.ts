// The stack a benchmark runs on: PostgreSQL (DATABASE_URL's, else an embedded one) with a fresh
// database, and a Temporal dev server; `stop` stops the benchmark's processes, then all of it.
import type { ChildProcess } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporalExecutable } from '../workers/temporal-binaries.js';
import { databaseServer } from '../test/helpers/database-server.js';
import { freshDatabase } from '../test/helpers/db.js';
import { stopProcesses } from './proc.js';

export async function benchStack() {
  const server = await databaseServer();
  const t = await freshDatabase();
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli') } });
  return {
    t,
    env,
    async stop(worker: ChildProcess | undefined, relays: ChildProcess | undefined) {
      await stopProcesses(worker, relays);
      await env.teardown();
      await t.drop();
      await server.stop();
    },
  };
}
