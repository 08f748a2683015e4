// Finder: the endless discovery loop, and the pattern every long-running service here follows.
//   - state (the archive cursor, the cycle number) lives in workflow variables and rides
//     continue-as-new: no state table;
//   - a `status` query shows where it is; a `runNow` signal cuts a sleep short;
//   - Cancel from the Web UI ends it between two pages: a page in flight finishes (its candidates
//     are committed), then the workflow ends as cancelled.
import {
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FinderActivities } from '../activities/finder/finder.js';
import { addReasons, finderInput, parseOrFail, type FinderCycle, type FinderSettings, type FinderStatus } from '../common/index.js';

export const finderStatus = defineQuery<FinderStatus>('status');
export const runNow = defineSignal('runNow');

const db = proxyActivities<FinderActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const apis = proxyActivities<FinderActivities>({
  // The activity returns a failing source as an outcome; a retry is only for a fault of ours.
  startToCloseTimeout: '3 minutes',
  retry: { maximumAttempts: 3, maximumInterval: '30 seconds' },
});

export async function finder(raw: unknown = {}): Promise<void> {
  const input = parseOrFail(finderInput, raw, 'finder input');
  const status: FinderStatus = {
    phase: 'starting',
    cycle: input.cycle ?? 0,
    cursor: input.cursor ?? null,
    current: (input.carry?.current as FinderCycle | null | undefined) ?? null,
    last: (input.carry?.last as FinderCycle | null | undefined) ?? null,
    nextCycleAt: null,
    settings: null,
  };
  let wake = false;
  setHandler(finderStatus, () => status);
  setHandler(runNow, () => void (wake = true));

  // Read once per run, so a config change reaches the loop at its next continue-as-new.
  const defaults = await db.finderSettings();
  const settings: FinderSettings = {
    intervalMs: input.interval ?? defaults.intervalMs,
    pageSize: input.pageSize ?? defaults.pageSize,
    sources: input.sources ?? defaults.sources,
    cyclesPerRun: input.cyclesPerRun ?? defaults.cyclesPerRun,
    apis: defaults.apis,
  };
  status.settings = settings;

  const carryOn = async () => {
    await condition(allHandlersFinished);
    const { carry: _, ...rest } = input;
    return continueAsNew<typeof finder>({ ...rest, cursor: status.cursor, cycle: status.cycle, carry: { last: status.last, current: status.current } });
  };

  for (let i = 0; i < settings.cyclesPerRun; i++) {
    const cycle = status.current ?? newCycle(++status.cycle);
    status.current = cycle;
    if (settings.sources.includes('events')) {
      status.phase = 'scanning events';
      for (;;) {
        // A page in flight finishes even when a cancel arrives: its candidates are committed.
        const page = await CancellationScope.nonCancellable(() => db.scanEventsPage({ after: status.cursor, pageSize: settings.pageSize }));
        cycle.pages++;
        cycle.eventsScanned += page.events;
        cycle.urlsFound += page.urls;
        cycle.newCandidates += page.inserted;
        addReasons(cycle.invalid, page.invalid);
        status.cursor = page.cursor;
        throwIfCancelled();
        if (page.done) break;
        // A first scan of a large archive: continue as new mid-cycle, and resume this cycle there.
        if (workflowInfo().continueAsNewSuggested) return carryOn();
      }
    }
    if (settings.sources.includes('apis') && settings.apis.length > 0) {
      status.phase = 'asking APIs';
      cycle.apis = await CancellationScope.nonCancellable(() => Promise.all(settings.apis.map((name) => apis.fetchRelayList(name))));
      cycle.newCandidates += cycle.apis.reduce((n, a) => n + a.inserted, 0);
      throwIfCancelled();
    }
    cycle.finishedAt = new Date().toISOString();
    status.last = cycle;
    status.current = null;
    log.info('finder cycle done', { cycle: cycle.cycle, events: cycle.eventsScanned, urls: cycle.urlsFound, new: cycle.newCandidates });

    status.phase = 'sleeping';
    status.nextCycleAt = new Date(Date.now() + settings.intervalMs).toISOString();
    wake = false;
    await condition(() => wake, settings.intervalMs); // a durable timer; a runNow signal cuts it short
    status.nextCycleAt = null;
    if (workflowInfo().continueAsNewSuggested) break;
  }
  return carryOn();
}

function newCycle(cycle: number): FinderCycle {
  return { cycle, startedAt: new Date().toISOString(), pages: 0, eventsScanned: 0, urlsFound: 0, newCandidates: 0, invalid: {}, apis: [] };
}

function throwIfCancelled(): void {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('finder cancelled between pages');
}
