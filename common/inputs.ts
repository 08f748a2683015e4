// Workflow inputs: plain JSON whose fields are all optional, so an operator can start any workflow
// from the Web UI's "Start Workflow" form with `{}`. Workflows cannot read the config file, so an
// absent field is passed on as absent and the activity applies the deployment's default.
import { z } from 'zod';
import { duration } from './duration.js';
import { NETWORKS } from './relay-url.js';

export const seederInput = z
  .strictObject({
    /**
     * Seed file path, relative to the seed folder (config `seeder.dir`); default: config `seeder.file`.
     * Refused here when it plainly points elsewhere; the activity checks the real path too (symlinks).
     */
    file: z
      .string()
      .min(1)
      .max(1000)
      .refine((f) => !/^([/\\]|[A-Za-z]:)/.test(f), 'must be a path relative to the seed folder (config seeder.dir)')
      .refine((f) => !f.split(/[/\\]/).includes('..'), 'must not contain ".." (seed files stay in the seed folder)')
      .refine((f) => !f.includes('\0'), 'must not contain a NUL character')
      .optional(),
    /** Rows per INSERT; default: config `seeder.batch_size` (the same maximum, which bounds the activity's memory). */
    batchSize: z.number().int().min(1).max(10_000).optional(),
  })
  .default({});
export type SeederInput = z.infer<typeof seederInput>;

export const FINDER_SOURCES = ['events', 'apis'] as const;
export type FinderSource = (typeof FINDER_SOURCES)[number];

/** The Finder's place in the archive: the last event scanned, in (created_at, id) order. */
export const eventCursor = z.strictObject({
  createdAt: z.number().int().min(0),
  id: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters'),
});
export type EventCursor = z.infer<typeof eventCursor>;

export const finderInput = z
  .strictObject({
    /** Sleep between cycles; default: config `finder.interval`. */
    interval: duration.optional(),
    /** Events per page of the archive scan; default: config `finder.page_size`. */
    pageSize: z.number().int().min(1).max(100_000).optional(),
    /** Which sources to use; default: config `finder.sources`. */
    sources: z.array(z.enum(FINDER_SOURCES)).optional(),
    /** Cycles before the workflow continues as new (its history stays short); default: config. */
    cyclesPerRun: z.number().int().min(1).max(10_000).optional(),
    /** Where the archive scan starts (null: from the beginning). Carried across continue-as-new. */
    cursor: eventCursor.nullable().optional(),
    /** How many cycles ran before this run (continue-as-new carries it; the status shows it). */
    cycle: z.number().int().min(0).optional(),
    /** Carried by continue-as-new, not for operators: the last cycle's figures, and a cycle cut in two. */
    carry: z
      .strictObject({
        last: z.looseObject({}).nullable().optional(),
        current: z.looseObject({}).nullable().optional(),
      })
      .optional(),
  })
  .default({});
export type FinderInput = z.input<typeof finderInput>;

/** The Validator's and the Monitor's input: both page through a table and fan out to children. */
export const coordinatorInput = z
  .strictObject({
    /** Sleep after a full pass; default: the service's `interval` in the config. */
    interval: duration.optional(),
    /** Rows per page (one continue-as-new per page); default: the service's `page_size`. */
    pageSize: z.number().int().min(1).max(1000).optional(),
    /** Child workflows at once; default: the service's `max_in_flight`. */
    maxInFlight: z.number().int().min(1).max(1000).optional(),
    /** Where the pass stands: the last URL of the previous page (continue-as-new carries it). */
    cursor: z.string().nullable().optional(),
    /** Passes started before this run. */
    cycle: z.number().int().min(0).optional(),
    /** Carried by continue-as-new: the running pass's and the last pass's figures. */
    carry: z
      .strictObject({
        current: z.looseObject({}).nullable().optional(),
        last: z.looseObject({}).nullable().optional(),
        /** The Synchronizer: when this coordinator started (ms); relays cancelled since stay stopped. */
        runningSince: z.number().optional(),
      })
      .optional(),
  })
  .default({});
export type CoordinatorInput = z.output<typeof coordinatorInput>;

/** A child's input: one relay. */
export const relayInput = z.strictObject({ url: z.string(), network: z.enum(NETWORKS) });

/** The checks the Monitor runs (NIP-66), in the names its 10166 announcement uses. */
export const MONITOR_CHECKS = ['nip11', 'open', 'read', 'write', 'ssl', 'dns', 'geo', 'net', 'http'] as const;
export type MonitorCheck = (typeof MONITOR_CHECKS)[number];

/**
 * A relay's Monitor workflow (long-lived: checks, waits its interval or its ladder step, checks
 * again). `generatedAt`, `checks` and `publish` are only in the input of the one-check workflows of
 * earlier versions (their recorded histories still replay).
 */
export const monitorRelayInput = z.strictObject({
  url: z.string(),
  network: z.enum(NETWORKS),
  generatedAt: z.number().int().optional(),
  checks: z.array(z.enum(MONITOR_CHECKS)).optional(),
  publish: z.boolean().optional(),
  /** Carried by continue-as-new: the ladder position and the running totals. */
  carry: z.looseObject({}).optional(),
});

/** A relay's sync workflow: its relay, and its cursor (continue-as-new carries it). */
export const syncRelayInput = z.strictObject({
  url: z.string(),
  network: z.enum(NETWORKS),
  /** The last second fully archived; default: config `synchronizer.start` - 1. */
  cursor: z.number().int().min(-1).optional(),
  windowSec: z.number().int().min(1).optional(),
  /** Carried by continue-as-new: the running totals. */
  carry: z.looseObject({}).optional(),
});
