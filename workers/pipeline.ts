// Starts the pipeline's workflows with fixed IDs, leaving alone any that already run.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from './config.js';
import { ensureRefresherSchedule, REFRESHER_SCHEDULE, type ScheduleOutcome } from './schedules.js';

export interface PipelineStep {
  workflowId: string;
  workflowType: string;
  /** One-shot: run again only if the last run failed. Endless loops: start unless one runs. */
  oneShot: boolean;
  /** Started only when the config says so (the DVM: dvm.enabled); otherwise left out of the outcomes. */
  when?: (config: Config) => boolean;
}

// In order: each service feeds the next.
export const PIPELINE: PipelineStep[] = [
  { workflowId: 'seeder', workflowType: 'seeder', oneShot: true },
  { workflowId: 'finder', workflowType: 'finder', oneShot: false },
  { workflowId: 'validator', workflowType: 'validator', oneShot: false },
  { workflowId: 'monitor', workflowType: 'monitor', oneShot: false },
  { workflowId: 'synchronizer', workflowType: 'synchronizer', oneShot: false },
  { workflowId: 'dvm', workflowType: 'dvm', oneShot: false, when: (config) => config.dvm.enabled },
];

export type StepOutcome = 'started' | 'already running' | 'already completed' | 'completed' | `failed: ${string}` | ScheduleOutcome;

export async function startPipeline(client: Client, config: Config, steps = PIPELINE): Promise<Record<string, StepOutcome>> {
  const out: Record<string, StepOutcome> = {};
  for (const step of steps) {
    if (step.when && !step.when(config)) continue;
    const status = await client.workflow
      .getHandle(step.workflowId)
      .describe()
      .then((d) => d.status.name)
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (status === 'RUNNING') out[step.workflowId] = 'already running';
    else if (step.oneShot && status === 'COMPLETED') out[step.workflowId] = 'already completed';
    else {
      // USE_EXISTING: should another launcher start it between our look and this call, keep theirs.
      await client.workflow.start(step.workflowType, {
        workflowId: step.workflowId,
        taskQueue: config.temporal.task_queue,
        args: [{}],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      out[step.workflowId] = 'started';
    }
    // The loops after a one-shot step work on what it made (the Validator on the Seeder's
    // candidates): they start once it is done, so that their first pass does not find nothing.
    if (step.oneShot && out[step.workflowId] !== 'already completed') {
      out[step.workflowId] = await client.workflow
        .getHandle(step.workflowId)
        .result()
        .then((): StepOutcome => 'completed', (err: Error): StepOutcome => `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    }
  }
  // A Seeder run now (the last one had failed) made candidates a Validator already running would
  // take up only after its interval: wake it. (On a first start the Validator starts after it.)
  if (out.seeder === 'completed' && out.validator === 'already running') {
    await client.workflow
      .getHandle('validator')
      .signal('runNow')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // ended meanwhile: its next start reads them
      });
  }
  // The read side: the Schedule that keeps the analytics tables current.
  out[`${REFRESHER_SCHEDULE} (schedule)`] = await ensureRefresherSchedule(client, config);
  return out;
}
