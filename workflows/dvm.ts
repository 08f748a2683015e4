// The NIP-90 Data Vending Machine (config `dvm`; workers/pipeline.ts starts it, ID `dvm`, when
// dvm.enabled). It announces itself (NIP-89, kind 31990) once, then keeps one listener per
// configured relay: an activity that holds a subscription to the job kind for a round, starts one
// `dvmJob` workflow per request (ID dvm-job/<request id>: a request seen on two relays, or again
// after a restart, is answered once), and returns its counts (the `status` query). A relay that
// drops fails the attempt; Temporal retries it with backoff, from where its heartbeats said it
// stood (a relay still down when its round is over ends the round, so that the others can continue
// as new). Cancel stops the listeners.
//
// A job reads the request's page through the read core (the HTTP API's) and publishes the result
// or an error feedback: pages and events stay in the activity, the history holds ids and counts.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { DvmActivities } from '../activities/dvm/dvm.js';
import { BAD_INPUT, parseOrFail } from '../common/index.js';
import { dvmInput, dvmJobInput, ZERO_LISTEN_COUNTS, type DvmJobSummary, type DvmRelayStatus, type DvmStatus } from '../common/dvm.js';

export const dvmStatus = defineQuery<DvmStatus>('status');

/** A round's length when the input gives none: the status's counts are at most this old. */
const ROUND_MS = 15 * 60_000;
/** Rounds each relay's listener runs before the workflow continues as new (a day at 15 minutes: under 300 history events a relay). */
const ROUNDS_PER_RUN = 96;

const settings = proxyActivities<DvmActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [BAD_INPUT] },
});
// One try per start: an announcement no relay took now is made again at the next start.
const announcer = proxyActivities<DvmActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 3 } });
// A job's read and publish: retried a few times (the database, every relay down), then given up:
// the request stays unanswered rather than the workflow waiting on it for days.
const job = proxyActivities<DvmActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: [BAD_INPUT] },
});

export async function dvm(raw: unknown = {}): Promise<DvmStatus> {
  const input = parseOrFail(dvmInput, raw, 'dvm input');
  const roundMs = input.round ?? ROUND_MS;
  const status: DvmStatus = { phase: 'starting', relays: {}, problems: [] };
  setHandler(dvmStatus, () => status);

  const s = await settings.dvmSettings();
  Object.assign(status, { kind: s.kind, pubkey: s.pubkey || undefined, problems: s.problems });
  if (s.off) {
    status.phase = 'off';
    status.off = s.off;
    log.info('dvm off', { reason: s.off });
    return status;
  }
  if (!input.carry?.announced) {
    try {
      status.announcement = await announcer.announceDvm({ createdAt: Math.floor(Date.now() / 1000) });
      log.info('dvm announced (NIP-89)', { ...status.announcement });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Being found matters less than answering: the DVM listens all the same.
      log.warn('dvm: the NIP-89 announcement failed', { error: (err as Error).message });
    }
  }
  status.phase = 'listening';

  // Each relay's round: the listener holds its subscription for roundMs, so an attempt's deadline
  // is that and a margin (a retry after its round ended still catches up to the relay's EOSE).
  const listener = proxyActivities<DvmActivities>({
    startToCloseTimeout: roundMs + 5 * 60_000,
    heartbeatTimeout: '30 seconds',
    // The reconnect: a dropped relay, a crashed worker; no attempt limit (a relay can be down for days).
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', nonRetryableErrorTypes: [BAD_INPUT] },
  });
  const carried = input.carry?.relays ?? {};
  // All relays continue as new together: once one has run its rounds, the others end their current one.
  let done = false;
  await Promise.all(
    s.relays.map(async (url) => {
      const c = carried[url];
      const r: DvmRelayStatus = { url, phase: 'listening', rounds: c?.rounds ?? 0, since: c?.since, counts: { ...ZERO_LISTEN_COUNTS, ...c?.counts } };
      status.relays[url] = r;
      for (let n = 1; !done; n++) {
        const round = await listener.listenDvm({ url, since: r.since, roundMs });
        r.rounds++;
        r.since = round.since;
        r.lastRoundAt = new Date().toISOString();
        r.down = round.down;
        for (const k of Object.keys(r.counts) as Array<keyof typeof r.counts>) r.counts[k] += round[k];
        if (n >= ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) done = true;
      }
      r.phase = 'stopped';
    }),
  );
  await condition(allHandlersFinished);
  const relays = Object.fromEntries(Object.values(status.relays).map((r) => [r.url, { since: r.since, rounds: r.rounds, counts: r.counts }]));
  return continueAsNew<typeof dvm>({ ...input, carry: { announced: true, relays } });
}

/** One request's answer: `createdAt` fixed here, so a retried publish signs the very same event where the data did not change. */
export async function dvmJob(raw: unknown): Promise<DvmJobSummary> {
  const input = parseOrFail(dvmJobInput, raw, 'dvmJob input');
  return job.answerDvmJob({ ...input, createdAt: Math.floor(Date.now() / 1000) });
}
