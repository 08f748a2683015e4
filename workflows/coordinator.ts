// The shape the Validator and the Monitor share: a coordinator that pages through a table (by
// URL) and runs one child workflow per row, a bounded number at once. It continues as new after
// every page with its cursor, so its history stays bounded however long the table is; after the
// last page it sleeps, then starts the next pass from the first row.
import {
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  startChild,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  setHandler,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import { relaySearchAttributes } from '../common/search-attributes.js';
import { countReason, inPool, type CoordinatorInput, type CoordinatorPass, type CoordinatorSettings, type CoordinatorStatus, type Network } from '../common/index.js';

export const coordinatorStatus = defineQuery<CoordinatorStatus>('status');
export const runNow = defineSignal('runNow');

/** A pass during which a runNow came (the status query shows it too). */
type AgainPass = CoordinatorPass & { again?: boolean };

export interface Row {
  url: string;
  network: Network;
  /** The namespace has the relay search attributes (the page's activity looked): the child starts with them. */
  searchAttributes?: true;
}

/**
 * The search attributes a relay's workflow of `service` starts with (RelayUrl, RelayNetwork,
 * BigBrotrService: the Web UI finds it by URL), or none where the namespace lacks them. Set in the
 * start command itself: no command is added, and a replay does not compare them.
 */
export function childSearchAttributes(service: string, row: Row): SearchAttributePair[] | undefined {
  return row.searchAttributes ? relaySearchAttributes(service, row.url, row.network) : undefined;
}

export interface Coordinator<R extends Row = Row> {
  name: string;
  settings: () => Promise<CoordinatorSettings>;
  page: (q: { after: string | null; limit: number; networks: Network[] }) => Promise<R[]>;
  /** Runs one row's child workflow; returns its outcome and, for a failure, a reason. */
  child: (row: R, pass: CoordinatorPass) => Promise<{ outcome: string; reason?: string }>;
  /** Once at the start of each pass (the Monitor's announcement). */
  onPassStart?: (settings: CoordinatorSettings) => Promise<void>;
}

/** One page of a pass, then continue-as-new (`self` is the workflow function). */
export async function coordinate<R extends Row>(c: Coordinator<R>, input: CoordinatorInput, self: (raw?: unknown) => Promise<void>): Promise<void> {
  const status: CoordinatorStatus = {
    phase: 'starting',
    cycle: input.cycle ?? 0,
    cursor: input.cursor ?? null,
    inFlight: 0,
    current: (input.carry?.current as CoordinatorPass | null | undefined) ?? null,
    last: (input.carry?.last as CoordinatorPass | null | undefined) ?? null,
    nextPassAt: null,
    settings: null,
  };
  let wake = false;
  // A runNow during a pass (in this run, or an earlier one of the pass: the pass's `again`, which
  // continue-as-new carries) asks for the next pass right after this one: what it announces (a new
  // candidate, a promoted relay) may sort before the cursor, where this pass no longer looks.
  let again = (status.current as AgainPass | null)?.again === true;
  setHandler(coordinatorStatus, () => status);
  setHandler(runNow, () => {
    wake = true;
    if (status.phase !== 'sleeping') again = true;
  });

  const defaults = await c.settings();
  const settings: CoordinatorSettings = {
    intervalMs: input.interval ?? defaults.intervalMs,
    pageSize: input.pageSize ?? defaults.pageSize,
    maxInFlight: input.maxInFlight ?? defaults.maxInFlight,
    networks: defaults.networks,
  };
  status.settings = settings;

  let pass = status.current;
  if (!pass) {
    pass = { cycle: ++status.cycle, startedAt: new Date().toISOString(), pages: 0, done: 0, outcomes: {}, reasons: {} };
    await c.onPassStart?.(settings);
  }
  status.current = pass;
  status.phase = 'working';
  const rows = await c.page({ after: status.cursor, limit: settings.pageSize, networks: settings.networks });
  pass.pages++;
  // Children are awaited before continuing as new, which would end the running ones.
  await inPool(rows, settings.maxInFlight, async (row) => {
    status.inFlight++;
    try {
      const { outcome, reason } = await c.child(row, pass);
      pass.done++;
      countReason(pass.outcomes, outcome);
      if (reason) {
        const key = reason.split(/[:\s]/, 1)[0] || 'unknown';
        countReason(pass.reasons, key);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      countReason(pass.outcomes, 'error');
      log.warn(`${c.name}: child failed`, { url: row.url, error: (err as Error).message });
    } finally {
      status.inFlight--;
    }
  });

  if (rows.length === settings.pageSize) {
    status.cursor = rows.at(-1)?.url ?? status.cursor;
  } else {
    pass.finishedAt = new Date().toISOString();
    status.last = pass;
    delete (pass as AgainPass).again;
    status.current = null;
    status.cursor = null;
    log.info(`${c.name} pass done`, { cycle: pass.cycle, done: pass.done, outcomes: pass.outcomes });
    // (patched: histories recorded before this, with a runNow during a pass, slept there.)
    if (again && patched('run-now-during-pass')) {
      log.info(`${c.name}: runNow during the pass, the next pass starts now`, { cycle: pass.cycle });
    } else {
      status.phase = 'sleeping';
      status.nextPassAt = new Date(Date.now() + settings.intervalMs).toISOString();
      wake = false;
      await condition(() => wake, settings.intervalMs); // a durable timer; runNow cuts it short
    }
    again = false;
  }
  if (status.current && again) (status.current as AgainPass).again = true;
  await condition(allHandlersFinished);
  const { carry: _, ...rest } = input;
  return continueAsNew<typeof self>({ ...rest, cursor: status.cursor, cycle: status.cycle, carry: { ...input.carry, current: status.current, last: status.last } });
}

/**
 * Starts one relay's long-lived workflow (the Monitor's, the Synchronizer's) for a coordinator: it
 * goes on when the coordinator's run continues as new (abandoned), and a cancel of the coordinator
 * reaches it through the coordinator's stop activity. Started meanwhile (another coordinator run,
 * the Validator's hand-off, a person): it runs.
 */
export async function startRelayWorkflow(workflow: (input: { url: string; network: Network }) => Promise<unknown>, workflowId: string, row: Row, service: string): Promise<{ outcome: string }> {
  try {
    await startChild(workflow, {
      workflowId,
      args: [{ url: row.url, network: row.network }],
      typedSearchAttributes: childSearchAttributes(service, row),
      parentClosePolicy: ParentClosePolicy.ABANDON,
      cancellationType: ChildWorkflowCancellationType.ABANDON,
    });
    return { outcome: 'started' };
  } catch (err) {
    if (!isCancellation(err) && err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'running' };
    throw err;
  }
}
