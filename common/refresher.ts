// The Refresher's targets and its input and report: pure, shared by its workflow and activity.
import { z } from 'zod';

/**
 * Every analytics target (sql/0013_analytics.sql), in dependency order: relay_summary reads what
 * relay_stats and relay_check_hour wrote. addressable_current needs tags: bigbrotr only.
 */
export const ANALYTICS_TARGETS = [
  'event_stats',
  'replaceable_current',
  'addressable_current',
  'relay_stats',
  'relay_check_hour',
  'relay_summary',
] as const;
export type AnalyticsTarget = (typeof ANALYTICS_TARGETS)[number];

export const refresherInput = z
  .strictObject({
    /** Rebuild from the base tables instead of counting what is new (a repair; the first run does it anyway). */
    full: z.boolean().optional(),
    /** Only these targets (in dependency order whatever the order given); default: all of the deployment's. */
    targets: z.array(z.enum(ANALYTICS_TARGETS)).min(1).optional(),
  })
  .default({});
export type RefresherInput = z.infer<typeof refresherInput>;

export interface RefresherSettings {
  /** The deployment's targets, in dependency order. */
  targets: AnalyticsTarget[];
  timeoutMs: number;
  attempts: number;
}

export interface TargetReport {
  target: AnalyticsTarget;
  ok: boolean;
  /** Rows written (inserted or updated). */
  rows: number;
  /** Time in the database, or up to the failure. */
  ms: number;
  /** Built from the base tables (first run, or asked). */
  full: boolean;
  error?: string;
}

export interface RefreshReport {
  targets: TargetReport[];
  /** Queued changes every target has counted, deleted at the end. */
  pruned: number;
  failed: number;
}
