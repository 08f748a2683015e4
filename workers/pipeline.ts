// Starts the pipeline's workflows with fixed IDs, leaving alone any that already run.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from './config.js';

export interface PipelineStep {
  workflowId: string;
  workflowType: string;
  /** One-shot: run again only if the last run failed. Endless loops: keep the one that runs. */
  oneShot: boolean;
}

// In order: each service feeds the next. Later issues add the Finder, Validator, Monitor, Synchronizer.
export const PIPELINE: PipelineStep[] = [{ workflowId: 'seeder', workflowType: 'seeder', oneShot: true }];

export type StepOutcome = 'started' | 'already running' | 'already completed';

export async function startPipeline(client: Client, config: Config): Promise<Record<string, StepOutcome>> {
  const out: Record<string, StepOutcome> = {};
  for (const step of PIPELINE) {
    try {
      await client.workflow.start(step.workflowType, {
        workflowId: step.workflowId,
        taskQueue: config.temporal.task_queue,
        args: [{}],
        ...(step.oneShot
          ? { workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const }
          : { workflowIdConflictPolicy: 'USE_EXISTING' as const }),
      });
      out[step.workflowId] = 'started';
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const { status } = await client.workflow.getHandle(step.workflowId).describe();
      out[step.workflowId] = status.name === 'RUNNING' ? 'already running' : 'already completed';
    }
  }
  return out;
}
