// Refresher: brings the analytics tables up to date, started by the Temporal Schedule `refresher`
// (workers/schedules.ts; its interval: config refresher.interval) or by hand from the Web UI with
// `{}` (or `{"full": true}` to rebuild). Each target is its own activity, in dependency order, with
// its own deadline and retries; one that fails every attempt is reported and the rest still run
// (a later target then reads the failed one's last good rows). Only counts and times enter the
// history: the rows stay in the database.
import { ActivityFailure, ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import { BAD_INPUT, parseOrFail, refresherInput, type RefreshReport, type TargetReport } from '../common/index.js';
import type { RefresherActivities } from '../activities/refresher/refresher.js';

const { refresherSettings, pruneAnalytics } = proxyActivities<RefresherActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function refresher(raw: unknown = {}): Promise<RefreshReport> {
  const input = parseOrFail(refresherInput, raw, 'refresher input');
  const settings = await refresherSettings();
  const { refreshAnalytics } = proxyActivities<RefresherActivities>({
    startToCloseTimeout: settings.timeoutMs,
    retry: { maximumInterval: '1 minute', maximumAttempts: settings.attempts, nonRetryableErrorTypes: [BAD_INPUT] },
  });
  const targets = settings.targets.filter((t) => !input.targets || input.targets.includes(t));
  const reports: TargetReport[] = [];
  for (const target of targets) {
    try {
      const r = await refreshAnalytics({ target, full: input.full });
      reports.push({ target, ok: true, rows: r.rows, ms: r.ms, full: r.full });
    } catch (err) {
      // Isolated: the next targets run on what this one last wrote.
      const error = failureMessage(err);
      log.warn('analytics target failed', { target, error });
      reports.push({ target, ok: false, rows: 0, ms: 0, full: input.full ?? false, error });
    }
  }
  const { pruned } = await pruneAnalytics();
  const failed = reports.filter((r) => !r.ok).length;
  log.info('analytics refreshed', { targets: reports.length, failed, pruned });
  return { targets: reports, pruned, failed };
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(err);
}
