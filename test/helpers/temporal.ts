// The time-skipping test environment on the installed test server (temporal-binaries.ts), and
// the workflow bundle, made once per test file.
import { after, before } from 'node:test';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { bundleWorkflows } from '../../workers/worker.js';
import { freshDatabase, type TestDatabase } from './db.js';

export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: temporalExecutable('test-server') } });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflows();
  return bundle;
}

/**
 * Cancels a workflow and waits until it has ended, while its worker still runs: a cancel left
 * pending on a queue nobody serves would stop the test server from skipping time for later tests.
 */
export async function cancelAndWait(env: TestWorkflowEnvironment, workflowId: string): Promise<void> {
  const h = env.client.workflow.getHandle(workflowId);
  await h.cancel();
  await h.result().catch(() => {});
}

/**
 * Cancels workflows, then waits for each to end (cancelAndWait's rule: before the workers go).
 * All cancels first: waiting on a result lets the test server skip time, and a skip could wake a
 * waiting workflow or retry a failed activity, which a cancel would then find running: the test
 * server keeps such an activity pending after the workflow ends and never skips time again (every
 * later test would wait in real time). The waits one after another: each unlocks time skipping and
 * locks it again, and interleaved they leave it locked.
 */
export async function cancelAllAndWait(env: TestWorkflowEnvironment, workflowIds: string[]): Promise<void> {
  const handles = workflowIds.map((id) => env.client.workflow.getHandle(id));
  await Promise.all(handles.map((h) => h.cancel()));
  for (const h of handles) await h.result().catch(() => {});
}

/**
 * A test file's time-skipping environment and fresh database: made before its tests (handed to
 * `use`), torn down after them.
 */
export function withEnvironmentAndDatabase(use: (env: TestWorkflowEnvironment, t: TestDatabase) => void): void {
  let env: TestWorkflowEnvironment | undefined;
  let t: TestDatabase | undefined;
  before(async () => {
    [env, t] = await Promise.all([timeSkippingEnv(), freshDatabase()]);
    use(env, t);
  });
  after(async () => {
    await env?.teardown();
    await t?.drop();
  });
}

/** Inside a fake activity: never ends by itself, heartbeating until cancelled, as a real one does. */
export async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 50);
  try {
    return await ctx.cancelled;
  } finally {
    clearInterval(beat);
  }
}
