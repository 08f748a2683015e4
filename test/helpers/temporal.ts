// The time-skipping test environment on the installed test server (temporal-binaries.ts), and
// the workflow bundle, made once per test file.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';

export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: temporalExecutable('test-server') } });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

// webpack's report is noise in test output; errors still throw.
const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
