// Validator: turns candidates into relays. A coordinator (ID `validator`, see coordinator.ts) pages
// through the candidates and runs one child workflow per candidate (ID `validate/<url>`), a
// bounded number at once; each child probes its relay on its network's task queue, then records
// the verdict (promoted to relay, failure counted, or dropped after too many).
import { ActivityFailure, executeChild, isCancellation, proxyActivities, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { NetworkActivities } from '../activities/network.js';
import type { ValidatorActivities } from '../activities/validator/validator.js';
import { coordinatorInput, networkQueue, parseOrFail, relayInput, type ProbeOutcome, type ValidationRecord } from '../common/index.js';
import { childSearchAttributes, coordinate, type Row } from './coordinator.js';

const db = proxyActivities<ValidatorActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export async function validator(raw: unknown = {}): Promise<void> {
  return coordinate(
    {
      name: 'validator',
      settings: db.validatorSettings,
      page: db.candidatePage,
      async child(row: Row) {
        const { url, network } = row;
        try {
          const r = await executeChild(validateCandidate, { workflowId: `validate/${url}`, args: [{ url, network }], typedSearchAttributes: childSearchAttributes('validator', row) });
          return { outcome: r.result, reason: r.verdict === 'valid' ? undefined : r.reason };
        } catch (err) {
          // Another pass is validating this URL right now: leave it to that one.
          if (!isCancellation(err) && err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'skipped' };
          throw err;
        }
      },
    },
    parseOrFail(coordinatorInput, raw, 'validator input'),
    validator,
  );
}

/** One candidate: probe it from its network's queue, then record the verdict. */
export async function validateCandidate(raw: unknown): Promise<ValidationRecord> {
  const { url, network } = parseOrFail(relayInput, raw, 'validateCandidate input');
  const net = proxyActivities<NetworkActivities>({
    taskQueue: networkQueue(workflowInfo().taskQueue, network),
    // Only workers that have this network's proxy serve its queue: if none picks the probe up,
    // the network is not served here, and that is not the relay's failure.
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '3 minutes',
    // A dead relay is an answer, not an error: only faults of ours are retried.
    retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
  });
  let outcome: ProbeOutcome;
  try {
    outcome = await net.probeRelay({ url, network });
  } catch (err) {
    if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START')) throw err;
    outcome = { url, verdict: 'skipped', reason: `unserved: no worker serves the ${network} network (configure networks.${network}.proxy on a worker)` };
  }
  return db.recordValidation({ ...outcome, network });
}
