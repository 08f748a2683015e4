// Monitor: every relay's health. A coordinator (ID `monitor`, see coordinator.ts) pages through the
// relays and starts one long-lived workflow per relay (ID `monitor/<url>`) where none runs; the
// Validator starts a promoted relay's at once. The children outlive the coordinator's runs
// (abandoned on continue-as-new); cancel on the coordinator cancels them all, cancel on one relay's
// workflow stops only that relay until the coordinator is started again.
//
// A relay's workflow checks it (NIP-11 and NIP-66 on its network's task queue, which store every
// outcome), publishes its kind 30166 event when a key and target relays are configured, then waits
// on a durable timer: the interval, or, for a relay down `backoff.after` checks in a row, the next
// step of the ladder (common/backoff.ts). The position lives in the workflow's state (its `status`
// query; continue-as-new carries it), so a restart or a crash does not reset it; relay_backoff
// keeps a copy for SQL. One check that passes brings the relay back to the interval.
import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MonitorActivities } from '../activities/monitor/monitor.js';
import type { NetworkActivities } from '../activities/network.js';
import {
  coordinatorInput, isWorkerDeath, ladderStep, ladderWaitMs, MONITOR_CHECKS, monitorRelayInput, networkQueue, parseOrFail,
  type MonitorCheck, type MonitorRelayStatus, type MonitorSummary, type Network, WORKER_DEATHS,
} from '../common/index.js';
import type { RelayWorkflowRow } from '../activities/shared/relay-workflows.js';
import { coordinate, runNow, startRelayWorkflow, type Row } from './coordinator.js';

export const monitorRelayStatus = defineQuery<MonitorRelayStatus>('status');

// A PostgreSQL outage is a fault that passes, not an answer: the database activities retry, with
// backoff up to a minute and no attempt limit (as the Synchronizer's), until the server is back. A
// limit would fail the coordinator itself, or every relay's workflow, after a few seconds down.
const db = proxyActivities<MonitorActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const stopper = proxyActivities<MonitorActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 5 } });

export async function monitor(raw: unknown = {}): Promise<void> {
  const input = parseOrFail(coordinatorInput, raw, 'monitor input');
  // (patched: runs recorded before the ladder ran one short child per relay and pass.)
  if (!patched('monitor-ladder')) return monitorPasses(input);
  const runningSince = input.carry?.runningSince ?? Date.now();
  let publish = false;
  try {
    return await coordinate<RelayWorkflowRow>(
      {
        name: 'monitor',
        async settings() {
          const s = await db.monitorSettings();
          publish = s.publish;
          return s;
        },
        page: (q) => db.monitorPage({ ...q, runningSince }),
        async onPassStart() {
          if (publish) await db.publishAnnouncement();
        },
        async child(row) {
          if (row.action !== 'start') return { outcome: row.action };
          return startRelayWorkflow(monitorRelay, `monitor/${row.url}`, row, 'monitor');
        },
      },
      { ...input, carry: { ...input.carry, runningSince } },
      monitor,
    );
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => stopper.stopMonitors());
    throw err;
  }
}

/**
 * Checks a relay's workflow runs before it continues as new. Small: a worker caches a few dozen
 * workflows (256 MB heap) and a relay's check comes an interval after the last, so each check
 * replays its run's history from the start; 24 checks keep that under 300 events.
 */
const CHECKS_PER_RUN = 24;

/** One relay's checks, for as long as it is in the relay table. */
export async function monitorRelay(raw: unknown): Promise<MonitorSummary | MonitorRelayStatus> {
  const input = parseOrFail(monitorRelayInput, raw, 'monitorRelay input');
  // (patched: the one-check workflows of earlier versions, started by their coordinator's passes.)
  if (!patched('monitor-ladder')) return checkOnce({ url: input.url, network: input.network, generatedAt: input.generatedAt!, checks: input.checks!, publish: input.publish! });
  const carried = (input.carry ?? {}) as Partial<MonitorRelayStatus>;
  const status: MonitorRelayStatus = {
    url: input.url,
    phase: 'checking',
    checks: carried.checks ?? 0,
    failures: carried.failures ?? 0,
    step: carried.step ?? 0,
    waitMs: carried.waitMs ?? 0,
    nextCheckAt: null,
    lastCheckAt: carried.lastCheckAt ?? null,
    lastOkAt: carried.lastOkAt ?? null,
    lastFailedAt: carried.lastFailedAt ?? null,
    lastReason: carried.lastReason,
    last: carried.last,
  };
  let wake = false;
  setHandler(monitorRelayStatus, () => status);
  setHandler(runNow, () => void (wake = true));

  for (let n = 0; n < CHECKS_PER_RUN && !workflowInfo().continueAsNewSuggested; n++) {
    const s = await db.monitorRelaySettings({ url: input.url });
    if (!s.listed) {
      status.phase = 'ended';
      status.ended = 'the relay is no longer in the relay table';
      return status;
    }
    status.phase = 'checking';
    const at = Date.now();
    // One timestamp for the check's documents and outcomes: Date.now() is replay-safe here.
    const summary = await checkOnce({ url: input.url, network: input.network, generatedAt: Math.floor(at / 1000), checks: s.checks as MonitorCheck[], publish: s.publish });
    status.checks++;
    status.last = summary;
    status.lastCheckAt = new Date(at).toISOString();
    const before = { failures: status.failures, step: status.step };
    const verdict = judge(summary);
    if (verdict === 'up') {
      status.failures = 0;
      status.lastOkAt = status.lastCheckAt;
    } else if (verdict === 'down') {
      status.failures++;
      status.lastFailedAt = status.lastCheckAt;
      status.lastReason = downReason(summary);
    } // 'unserved': no worker serves the network, which says nothing of the relay
    status.step = ladderStep(status.failures, s.backoff);
    status.waitMs = ladderWaitMs(status.failures, s.intervalMs, s.backoff);
    if (status.failures !== before.failures || status.step !== before.step) {
      await db.recordBackoff({ url: input.url, failures: status.failures, step: status.step, waitMs: status.waitMs, changedAt: Math.floor(at / 1000) });
      if (status.step !== before.step) {
        log.info(status.step > before.step ? 'relay down: it moves down the ladder' : 'relay up: back to the interval', {
          relay: input.url, failures: status.failures, step: status.step, waitMs: status.waitMs,
        });
      }
    }
    status.phase = 'waiting';
    status.nextCheckAt = new Date(Date.now() + status.waitMs).toISOString();
    wake = false;
    await condition(() => wake, status.waitMs); // a durable timer; runNow cuts it short
  }
  await condition(allHandlersFinished);
  const { carry: _, ...rest } = input;
  const { url: __, phase: ___, nextCheckAt: ____, ended: _____, ...totals } = status;
  return continueAsNew<typeof monitorRelay>({ ...rest, carry: totals });
}

/** What a check says of the relay: up, down (its WebSocket did not open, or nothing passed), or nothing (unserved). */
function judge(s: MonitorSummary): 'up' | 'down' | 'unserved' {
  if (s.failed.network !== undefined) return 'unserved';
  if (s.failed.open !== undefined || s.ok.length === 0) return 'down';
  return 'up';
}

function downReason(s: MonitorSummary): string {
  const [check, reason] = Object.entries(s.failed).find(([c]) => c === 'open') ?? Object.entries(s.failed)[0] ?? ['?', 'no check passed'];
  return `${reason} (${check})`;
}

/** One check of the relay from its network's queue, then its 30166 event. */
async function checkOnce(q: { url: string; network: Network; generatedAt: number; checks: MonitorCheck[]; publish: boolean }): Promise<MonitorSummary> {
  const net = proxyActivities<NetworkActivities>({
    taskQueue: networkQueue(workflowInfo().taskQueue, q.network),
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '2 minutes',
    // A relay's failures are answers (returned); what throws is a fault of ours, above all the
    // storing of the results at the check's end while PostgreSQL is down. It is retried until it
    // succeeds, as the database activities are; the wait grows to 5 minutes, since each attempt
    // checks the relay again (connections to it) before it stores.
    // A check whose worker died (WORKER_DEATHS) is the relay's failed check, on its ladder, not a
    // retry for ever. (patched: histories from before this retried it in Temporal.)
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: patched('monitor-worker-death') ? WORKER_DEATHS : [] },
  });
  let summary: MonitorSummary;
  try {
    summary = await net.checkRelay({ url: q.url, network: q.network, generatedAt: q.generatedAt, checks: q.checks });
  } catch (err) {
    if (isWorkerDeath(err)) return { url: q.url, ok: [], failed: { worker: 'the worker died checking it (its activity\'s heartbeat was lost)' }, stored: 0 };
    if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START')) throw err;
    return { url: q.url, ok: [], failed: { network: `unserved: no worker serves the ${q.network} network (networks.${q.network}.proxy)` }, stored: 0 };
  }
  if (q.publish && summary.stored > 0) {
    const p = await db.publishDiscovery({ url: q.url, network: q.network, generatedAt: q.generatedAt });
    summary.published = p.accepted;
  }
  return summary;
}

/** The coordinator of earlier versions: one short monitorRelay child per relay and pass. */
async function monitorPasses(input: ReturnType<typeof coordinatorInput.parse>): Promise<void> {
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
        const generatedAt = Math.floor(Date.now() / 1000);
        let s: MonitorSummary;
        try {
          s = (await executeChild(monitorRelay, { workflowId: `monitor/${url}`, args: [{ url, network, generatedAt, checks, publish }] })) as MonitorSummary;
        } catch (err) {
          if (!isCancellation(err) && err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'skipped' };
          throw err;
        }
        const failed = Object.entries(s.failed);
        if (failed.length === 0) return { outcome: 'healthy' };
        const [check, reason] = failed.find(([c]) => c === 'open') ?? failed[0] ?? ['?', '?'];
        return { outcome: s.ok.length ? 'partial' : 'down', reason: `${reason} (${check})` };
      },
    },
    input,
    monitor,
  );
}
