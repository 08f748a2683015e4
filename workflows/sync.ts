// A relay's sync workflow (ID `sync/<url>`): archives the relay's events window by window, its
// cursor in its own state (continue-as-new carries it). A window [cursor+1, cursor+size] up to
// now - end_lag is asked with `limit`; if it comes back full it may be incomplete, so it is
// split in two, down to one second; a complete window advances the cursor and the next one
// doubles (up to max_window). Once caught up it sleeps `interval`. A relay that fails is retried
// by Temporal's retry policy, with backoff, on durable timers.
import { allHandlersFinished, condition, continueAsNew, defineQuery, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { NetworkActivities } from '../activities/network.js';
import type { SyncActivities } from '../activities/sync.js';
import { networkQueue, parseOrFail, syncRelayInput, type SyncStatus } from '../common/index.js';

export const syncStatus = defineQuery<SyncStatus>('status');

const db = proxyActivities<SyncActivities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '1 minute' } });

/** Windows a run handles before it continues as new (its history stays small). */
const WINDOWS_PER_RUN = 500;

export async function syncRelay(raw: unknown): Promise<void> {
  const input = parseOrFail(syncRelayInput, raw, 'syncRelay input');
  const settings = await db.syncSettings();
  const net = proxyActivities<NetworkActivities>({
    taskQueue: networkQueue(workflowInfo().taskQueue, input.network),
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '2 minutes',
    // A failing relay backs off: 10 s, 20 s, ... up to an hour between attempts, for ever.
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
  });
  const carried = (input.carry ?? {}) as Partial<SyncStatus>;
  const status: SyncStatus = {
    url: input.url,
    cursor: input.cursor ?? settings.start - 1,
    windowSec: input.windowSec ?? settings.maxWindowSec,
    windows: carried.windows ?? 0,
    splits: carried.splits ?? 0,
    received: carried.received ?? 0,
    inserted: carried.inserted ?? 0,
    invalid: carried.invalid ?? {},
    fullSeconds: carried.fullSeconds ?? 0,
    phase: 'syncing',
  };
  setHandler(syncStatus, () => status);

  for (let i = 0; i < WINDOWS_PER_RUN && !workflowInfo().continueAsNewSuggested; i++) {
    const target = Math.floor(Date.now() / 1000) - settings.endLagSec;
    if (status.cursor >= target) {
      status.phase = 'caught up';
      await sleep(settings.intervalMs);
      status.phase = 'syncing';
      continue;
    }
    const since = status.cursor + 1;
    const until = Math.min(status.cursor + status.windowSec, target);
    const r = await net.syncWindow({ url: input.url, network: input.network, since, until, limit: settings.limit });
    status.windows++;
    status.received += r.received;
    status.inserted += r.inserted;
    for (const [k, v] of Object.entries(r.invalid)) status.invalid[k] = (status.invalid[k] ?? 0) + v;
    if (r.full && until > since) {
      // Possibly incomplete: ask again for the first half (its events are archived already, so
      // the repeat costs links only).
      status.windowSec = Math.max(1, Math.floor((until - since + 1) / 2));
      status.splits++;
      continue;
    }
    if (r.full) status.fullSeconds++; // one second holding more than `limit` events: see README
    status.cursor = until;
    status.windowSec = Math.min(settings.maxWindowSec, status.windowSec * 2);
  }
  await condition(allHandlersFinished);
  const { carry: _, ...rest } = input;
  const { url: __, cursor, windowSec, phase: ___, ...totals } = status;
  return continueAsNew<typeof syncRelay>({ ...rest, cursor, windowSec, carry: totals });
}
