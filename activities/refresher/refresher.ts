// The Refresher's effects (workflows/refresher.ts calls them): one analytics target refreshed in
// one REPEATABLE READ transaction (sql/0013_analytics.sql says why that makes it exact), and the
// queues pruned once all have run.
import { ApplicationFailure } from '@temporalio/activity';
import { ANALYTICS_TARGETS, BAD_INPUT, type AnalyticsTarget, type RefresherSettings } from '../../common/index.js';
import type { ActivityDeps } from '../shared/deps.js';
import type { Db } from '../db/db.js';
import { metrics } from '../shared/metrics.js';

/** The deployment's targets, in dependency order: lilbrotr keeps no tags, so no addressable events. */
export function deploymentTargets(deployment: string): AnalyticsTarget[] {
  return ANALYTICS_TARGETS.filter((t) => deployment === 'bigbrotr' || t !== 'addressable_current');
}

export interface RefreshResult {
  rows: number;
  ms: number;
  full: boolean;
}

/**
 * Refreshes one target: counts what its queue gained since its last refresh, or builds it from the
 * base tables (`full`, or never built). Two at once on one target: the second fails with a
 * serialization error (40001) and its caller retries it.
 */
export async function refreshTarget(db: Db, target: AnalyticsTarget, full = false): Promise<RefreshResult> {
  const client = await db.connect();
  const started = performance.now();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const { rows: w } = await client.query<{ built: boolean }>(
      'SELECT snapshot IS NOT NULL AS built FROM analytics_watermark WHERE target = $1::text',
      [target],
    );
    const { rows } = await client.query<{ n: string }>('SELECT analytics_refresh($1::text, $2::boolean) AS n', [target, full]);
    await client.query('COMMIT');
    return { rows: Number(rows[0]!.n), ms: Math.round(performance.now() - started), full: full || !w[0]?.built };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Every target of the deployment in order, as the Refresher runs them (benchmarks and tests); rows per target. */
export async function refreshAll(db: Db, deployment: string, full = false): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const target of deploymentTargets(deployment)) out[target] = (await refreshTarget(db, target, full)).rows;
  return out;
}

export async function pruneAnalyticsQueues(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT analytics_prune() AS n');
  return Number(rows[0]!.n);
}

export const createRefresherActivities = ({ db, config }: ActivityDeps) => {
  const targets = deploymentTargets(config.deployment);
  return {
    async refresherSettings(): Promise<RefresherSettings> {
      return { targets, timeoutMs: config.refresher.timeout, attempts: config.refresher.attempts };
    },

    async refreshAnalytics(q: { target: AnalyticsTarget; full?: boolean }): Promise<RefreshResult> {
      if (!targets.includes(q.target)) {
        throw ApplicationFailure.nonRetryable(`${q.target} is not an analytics target of ${config.deployment} (${targets.join(', ')})`, BAD_INPUT);
      }
      const started = performance.now();
      let ok = false;
      try {
        const r = await refreshTarget(db, q.target, q.full);
        ok = true;
        metrics.refreshLastSuccess.set({ target: q.target }, Date.now() / 1000);
        return r;
      } finally {
        metrics.refreshDuration.set({ target: q.target }, (performance.now() - started) / 1000);
        metrics.refreshRuns.inc({ target: q.target, ok: String(ok) });
      }
    },

    async pruneAnalytics(): Promise<{ pruned: number }> {
      return { pruned: await pruneAnalyticsQueues(db) };
    },
  };
};

export type RefresherActivities = ReturnType<typeof createRefresherActivities>;
