// Monitor: every relay's health, each cycle. A coordinator (ID `monitor`, see coordinator.ts)
// pages through the relays and runs one child workflow per relay (ID `monitor/<url>`); a relay
// gone from the relay table is not in the next pass. Each child runs the NIP-11 and NIP-66 checks
// on its network's task queue (they store their results), then publishes the relay's kind 30166
// event when a key and target relays are configured.
import { ActivityFailure, executeChild, isCancellation, proxyActivities, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MonitorActivities } from '../activities/monitor.js';
import type { NetworkActivities } from '../activities/network.js';
import { coordinatorInput, MONITOR_CHECKS, monitorRelayInput, networkQueue, parseOrFail, type MonitorCheck, type MonitorSummary } from '../common/index.js';
import { coordinate, type Row } from './coordinator.js';

// A PostgreSQL outage is a fault that passes, not an answer: the database activities retry, with
// backoff up to a minute and no attempt limit (as the Synchronizer's), until the server is back. A
// limit would fail the coordinator itself, or every child of the pass, after a few seconds down.
const db = proxyActivities<MonitorActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function monitor(raw: unknown = {}): Promise<void> {
  let checks: MonitorCheck[] = [...MONITOR_CHECKS];
  let publish = false;
  return coordinate(
    {
      name: 'monitor',
      async settings() {
        const s = await db.monitorSettings();
        checks = s.checks as MonitorCheck[];
        publish = s.publish;
        return s;
      },
      page: db.relayPage,
      async onPassStart() {
        if (publish) await db.publishAnnouncement();
      },
      async child({ url, network }: Row) {
        // One timestamp for the pass's documents of this relay: Date.now() is replay-safe here.
        const generatedAt = Math.floor(Date.now() / 1000);
        let s: MonitorSummary;
        try {
          s = await executeChild(monitorRelay, {
            workflowId: `monitor/${url}`,
            args: [{ url, network, generatedAt, checks, publish }],
          });
        } catch (err) {
          // Being checked right now: the first check of a just-promoted relay, which the Validator
          // starts under this ID (activities/validator.ts). That check stands for this pass's.
          if (!isCancellation(err) && err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'skipped' };
          throw err;
        }
        const failed = Object.entries(s.failed);
        if (failed.length === 0) return { outcome: 'healthy' };
        // The socket's failure says most (refused, timeout, handshake, ...); else the first check's.
        const [check, reason] = failed.find(([c]) => c === 'open') ?? failed[0] ?? ['?', '?'];
        return { outcome: s.ok.length ? 'partial' : 'down', reason: `${reason} (${check})` };
      },
    },
    parseOrFail(coordinatorInput, raw, 'monitor input'),
    monitor,
  );
}

/** One relay's checks, then its 30166 event. */
export async function monitorRelay(raw: unknown): Promise<MonitorSummary> {
  const input = parseOrFail(monitorRelayInput, raw, 'monitorRelay input');
  const net = proxyActivities<NetworkActivities>({
    taskQueue: networkQueue(workflowInfo().taskQueue, input.network),
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '2 minutes',
    // A relay's failures are answers (returned); what throws is a fault of ours, above all the
    // storing of the results at the check's end while PostgreSQL is down. It is retried until it
    // succeeds, as the database activities are; the wait grows to 5 minutes, since each attempt
    // checks the relay again (connections to it) before it stores.
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  });
  let summary: MonitorSummary;
  try {
    summary = await net.checkRelay(input);
  } catch (err) {
    if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START')) throw err;
    return { url: input.url, ok: [], failed: { network: `unserved: no worker serves the ${input.network} network (networks.${input.network}.proxy)` }, stored: 0 };
  }
  if (input.publish && summary.stored > 0) {
    const p = await db.publishDiscovery({ url: input.url, network: input.network, generatedAt: input.generatedAt });
    summary.published = p.accepted;
  }
  return summary;
}
