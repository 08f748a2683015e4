// Synchronizer: every relay's events into the archive. A coordinator (ID `synchronizer`, see
// coordinator.ts) pages through the relays and starts one long-lived sync workflow per relay
// (ID `sync/<url>`) where none runs; the children outlive the coordinator's runs (abandoned on
// continue-as-new) and end themselves when their relay leaves the relay table. Cancel on the
// coordinator cancels them all; cancel on one relay's workflow stops only that relay, which the
// coordinator then leaves stopped until it is itself started again.
//
// A relay's workflow archives up to now - end_lag, its cursor in its own state (continue-as-new
// carries it) with what it has learned of the relay (status.relay: its cap, NIP-77, how it reads
// `until`). Each syncWindows activity reads windows from the cursor on for up to 30 s, each shown
// complete before the cursor moves (activities/synchronizer/sync-span.ts, sync-proof.ts), and returns the
// cursor it reached, the next window's size and what it learned, which the workflow passes to the
// next one. Once caught up it sleeps `interval` (shorter for priority relays; the `runNow` signal
// cuts it short). A relay that fails is retried by Temporal's retry policy, with backoff, on
// durable timers; a relay that refuses to be read (NIP-42) is an answer: the workflow says so in
// its status and looks again after `refused_retry`.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  allHandlersFinished,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { NetworkActivities } from '../activities/network.js';
import type { SyncActivities, SyncRow } from '../activities/synchronizer/sync.js';
import {
  addReasons, coordinatorInput, isWorkerDeath, ladderStep, ladderWaitMs, parseOrFail, RELAY_GONE, spanProgress, syncQueue, syncRelayInput, UNKNOWN_RELAY, type SpanResult, type SyncSettings, type SyncStatus, WORKER_DEATHS,
} from '../common/index.js';
import { coordinate, runNow, startRelayWorkflow } from './coordinator.js';

export const syncStatus = defineQuery<SyncStatus>('status');

const db = proxyActivities<SyncActivities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '1 minute' } });
const stopper = proxyActivities<SyncActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 5 } });

export async function synchronizer(raw: unknown = {}): Promise<void> {
  const input = parseOrFail(coordinatorInput, raw, 'synchronizer input');
  const runningSince = input.carry?.runningSince ?? Date.now();
  try {
    return await coordinate<SyncRow>(
      {
        name: 'synchronizer',
        settings: () => db.synchronizerSettings(),
        page: (q) => db.syncPage({ ...q, runningSince }),
        async child(row) {
          if (row.action !== 'start') return { outcome: row.action };
          return startRelayWorkflow(syncRelay, `sync/${row.url}`, row, 'synchronizer');
        },
      },
      { ...input, carry: { ...input.carry, runningSince } },
      synchronizer,
    );
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => stopper.stopSyncs());
    throw err;
  }
}

/** syncWindows activities a run makes before it continues as new (its history stays small). */
const SPANS_PER_RUN = 200;
/** Rounds (a catch-up and a sleep) a run handles before it continues as new. */
const ROUNDS_PER_RUN = 100;

/** The first wait after a death (doubling), as Temporal's retry waits after a failure. */
const DEATH_RETRY_MS = 10_000;

export async function syncRelay(raw: unknown): Promise<SyncStatus> {
  const input = parseOrFail(syncRelayInput, raw, 'syncRelay input');
  // A read whose worker died comes back here (WORKER_DEATHS): read again, then set the relay
  // aside on its ladder. (patched: histories from before this retried every timeout in Temporal.)
  const countsDeaths = patched('sync-set-aside');
  const network = (settings: SyncSettings) => proxyActivities<NetworkActivities>({
    taskQueue: syncQueue(workflowInfo().taskQueue, input.network),
    startToCloseTimeout: '10 minutes',
    // The activity heartbeats as relay messages come (once a second at most) and after each
    // window, and waits at most the network's timeout (30 s for overlay networks) for a message: a
    // worker that dies gives its activity to another within the heartbeat timeout, which resumes
    // after the last complete window its heartbeats recorded.
    heartbeatTimeout: settings.heartbeatTimeoutMs ?? '1 minute',
    // A failing relay backs off: 10 s, 20 s, ... up to an hour between attempts, for ever.
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', nonRetryableErrorTypes: countsDeaths ? WORKER_DEATHS : [] },
  });
  const carried = (input.carry ?? {}) as Partial<SyncStatus>;
  // The status answers from the first moment (a query before the settings arrive gets the cursor
  // carried in, or -1 until the configured start is known).
  const status: SyncStatus = {
    url: input.url,
    cursor: input.cursor ?? -1,
    windowSec: input.windowSec ?? 1,
    windows: carried.windows ?? 0,
    splits: carried.splits ?? 0,
    negentropyWindows: carried.negentropyWindows ?? 0,
    received: carried.received ?? 0,
    inserted: carried.inserted ?? 0,
    invalid: carried.invalid ?? {},
    reqs: carried.reqs ?? 0,
    pages: carried.pages ?? 0,
    denseSeconds: carried.denseSeconds ?? 0,
    gaps: carried.gaps ?? 0,
    gapsFilled: carried.gapsFilled ?? 0,
    // The first look at recorded gaps comes one gap_retry after the workflow's start.
    gapsRetriedAt: carried.gapsRetriedAt ?? Date.now(),
    overlapFound: carried.overlapFound ?? 0,
    capLowered: carried.capLowered ?? 0,
    relay: carried.relay ?? UNKNOWN_RELAY,
    ahead: carried.ahead,
    deaths: carried.deaths ?? 0,
    phase: 'syncing',
  };
  let wake = false;
  setHandler(syncStatus, () => status);
  setHandler(runNow, () => void (wake = true));
  let settings = await db.syncSettings({ url: input.url });
  let net = network(settings);
  if (input.cursor === undefined) status.cursor = settings.start - 1;
  if (input.windowSec === undefined) status.windowSec = settings.maxWindowSec;

  let spans = 0;
  for (let round = 0; round < ROUNDS_PER_RUN && spans < SPANS_PER_RUN && !workflowInfo().continueAsNewSuggested; round++) {
    if (round > 0) {
      settings = await db.syncSettings({ url: input.url });
      net = network(settings);
    }
    if (!settings.listed) return ended(status);
    status.phase = 'syncing';
    const target = Math.floor(Date.now() / 1000) - settings.endLagSec;
    // A round's first activity audits its first window (the relay may have changed since the
    // last round) and, once every gap_retry, looks at the relay's recorded gaps again.
    let fresh = true;
    let refused: string | undefined;
    let setAside: { reason: string; waitMs: number } | undefined;
    while (status.cursor < target && spans < SPANS_PER_RUN && !workflowInfo().continueAsNewSuggested) {
      const retryGaps = fresh && status.gaps > status.gapsFilled && Date.now() - (status.gapsRetriedAt ?? 0) >= settings.gapRetryMs;
      let r;
      try {
        r = await net.syncWindows({
          url: input.url, network: input.network, cursor: status.cursor, windowSec: status.windowSec,
          target, limit: settings.limit, denseLimit: settings.denseLimit, maxWindowSec: settings.maxWindowSec, relay: status.relay, fresh, retryGaps, ahead: status.ahead,
        });
      } catch (err) {
        if (countsDeaths && isWorkerDeath(err) && settings.backoff) {
          spans++;
          // What the dead attempt's heartbeats recorded is kept, as a retry of it would resume there.
          const progress = spanProgress(((err as ActivityFailure).cause as TimeoutFailure).lastHeartbeatDetails);
          if (progress) add(status, progress);
          const deaths = (status.deaths ?? 0) + 1;
          status.deaths = deaths;
          if (ladderStep(deaths, settings.backoff) === 0) {
            log.warn('the worker died reading this relay: read again', { relay: input.url, deaths });
            await sleep(DEATH_RETRY_MS * 2 ** (deaths - 1));
            continue;
          }
          const waitMs = ladderWaitMs(deaths, settings.intervalMs, settings.backoff);
          setAside = { reason: `set aside: the worker died ${deaths} times in a row reading it (its activity's heartbeat was lost); next read in ${Math.round(waitMs / 60_000)} min`, waitMs };
          break;
        }
        if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === RELAY_GONE)) throw err;
        return ended(status);
      }
      status.deaths = 0;
      spans++;
      fresh = false;
      add(status, r);
      if (r.gapsRetried !== undefined) status.gapsRetriedAt = Date.now();
      refused = r.refused;
      if (refused) break;
    }
    if (setAside) {
      // The durable ladder: the relay waits each step in turn; one clean read brings it back.
      log.warn('relay set aside: reading it kills the worker', { relay: input.url, deaths: status.deaths, waitMs: setAside.waitMs });
      await db.setAsideRelay({ url: input.url, reason: setAside.reason });
      status.phase = 'set aside'; // once recorded: who sees the phase finds the row
      status.notArchivable = setAside.reason;
      wake = false;
      await condition(() => wake, setAside.waitMs);
      continue;
    }
    if (refused) {
      // An expected answer, not a failure: the relay is looked at again after refused_retry.
      status.phase = 'not archivable';
      status.notArchivable = refused;
      log.info('relay refuses to be read: looked at again later', { relay: input.url, reason: refused, retryMs: settings.refusedRetryMs });
      wake = false;
      await condition(() => wake, settings.refusedRetryMs);
      continue;
    }
    status.notArchivable = undefined;
    if (status.cursor < target) break; // the run's share of activities is done: continue as new
    status.phase = 'caught up';
    wake = false;
    await condition(() => wake, settings.intervalMs); // a durable timer; runNow cuts it short
  }
  await condition(allHandlersFinished);
  const { carry: _, ...rest } = input;
  const { url: __, cursor, windowSec, phase: ___, ended: ____, notArchivable: _____, ...totals } = status; // (ahead rides in totals)
  return continueAsNew<typeof syncRelay>({ ...rest, cursor, windowSec, carry: totals });
}

/** A syncWindows activity's result into the relay's status. */
function add(status: SyncStatus, r: SpanResult) {
  status.cursor = r.cursor;
  status.windowSec = r.windowSec;
  status.relay = r.relay;
  status.ahead = r.ahead;
  status.windows += r.windows;
  status.splits += r.splits;
  status.negentropyWindows += r.negentropyWindows;
  status.received += r.received;
  status.inserted += r.inserted;
  addReasons(status.invalid, r.invalid);
  status.reqs += r.reqs;
  status.pages += r.pages;
  status.denseSeconds += r.denseSeconds;
  status.gaps += r.gaps;
  status.gapsFilled += r.gapsFilled;
  status.overlapFound += r.overlapFound;
  status.capLowered += r.capLowered;
}

/** The relay left the relay table: its workflow ends (the coordinator starts a new one should it return). */
function ended(status: SyncStatus): SyncStatus {
  status.phase = 'ended';
  status.ended = 'the relay is no longer in the relay table';
  return status;
}
