// Handing work on between services through the worker's Temporal client: waking a coordinator
// (the Finder wakes the Validator, the Validator the Synchronizer) and starting a promoted relay's
// Monitor workflow under the ID the Monitor's coordinator gives it.
import { getClient, log } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MonitorCheck, Network } from '../../common/index.js';
import { relaySearchAttributes } from '../../common/search-attributes.js';
import { searchAttributesReady } from './relay-workflows.js';
import type { Config } from '../../common/config.js';

/** The coordinators' fixed workflow IDs (workers/pipeline.ts starts them under these). */
export const COORDINATOR = { validator: 'validator', monitor: 'monitor', synchronizer: 'synchronizer' } as const;
/** The one relay's Monitor workflow: the ID the Monitor's coordinator gives its child. */
export const monitorWorkflowId = (url: string) => `monitor/${url}`;

/**
 * Sends `runNow` to a coordinator: it cuts the coordinator's sleep short, or, during a pass, asks
 * for the next pass right after it (workflows/coordinator.ts). A coordinator that is not running
 * (not started yet, or stopped by a person) is left so: its next start reads its table from the
 * first row anyway. Returns whether the signal was delivered.
 */
/**
 * The worker's Temporal client, for the activities that hand work on; undefined where there is
 * none (an activity run outside a worker, as the integration tests run them): nothing is handed
 * on, and the next passes take the work up.
 */
export function temporalClient(): Client | undefined {
  try {
    return getClient();
  } catch {
    return undefined;
  }
}

export async function wakeCoordinator(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).signal('runNow');
    return true;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    log.info('coordinator not running: not woken', { workflowId });
    return false;
  }
}

/** What a relay's check runs, and whether it publishes: the Monitor's settings from the config. */
export function monitorChecks(config: Config): { checks: MonitorCheck[]; publish: boolean } {
  const m = config.monitor;
  return { checks: m.checks, publish: !!m.private_key && m.publish_relays.length > 0 };
}

/**
 * Starts a just-promoted relay's Monitor workflow (its first check runs at once), with the ID and
 * on the task queue the Monitor's coordinator would use, so a relay never has two (the second start
 * is refused). Nothing starts while the Monitor's coordinator does not run (a person stopped it, or
 * the pipeline has not started it yet): its next pass starts the relay's workflow.
 */
export async function startMonitorCheck(client: Client, config: Config, url: string, network: Network): Promise<'started' | 'running' | 'monitor not running'> {
  const coordinator = await client.workflow
    .getHandle(COORDINATOR.monitor)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  if (coordinator?.status.name !== 'RUNNING') {
    log.info('monitor not running: the promoted relay waits for its next pass', { url });
    return 'monitor not running';
  }
  const input = { url, network };
  // (as the coordinator's own start: with the relay search attributes where the namespace has them)
  const typedSearchAttributes = (await searchAttributesReady(client)) ? relaySearchAttributes('monitor', url, network) : undefined;
  try {
    await client.workflow.start('monitorRelay', { workflowId: monitorWorkflowId(url), taskQueue: coordinator.taskQueue, args: [input], typedSearchAttributes });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return 'running'; // the coordinator started it meanwhile
  }
}
