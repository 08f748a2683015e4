// The NIP-90 Data Vending Machine's workflow inputs and what its workflows and activities hand each
// other (workflows/dvm.ts, activities/dvm/). Pure: zod only. Events and pages never pass through
// here: a job's input is the request's id and where it was seen; its answer is counts and ids.
import { z } from 'zod';
import { duration } from './duration.js';

/**
 * How far back a listener's subscription reaches before the moment it last knew itself caught up
 * (its first start, or the last EOSE): a request whose author's clock runs a few minutes behind
 * still matches `since`. What it brings again is a duplicate, refused by the job's workflow ID.
 */
export const DVM_SINCE_SLACK_SEC = 300;

/** The job workflow's ID: one per request, so a request is answered once however often it arrives. */
export const dvmJobWorkflowId = (requestId: string) => `dvm-job/${requestId}`;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters');

/** The counts of one relay's listener: summed over rounds (status) and carried by continue-as-new. */
export const dvmListenCounts = z.strictObject({
  /** Events of the job kind the relay sent. */
  received: z.number().int().min(0),
  /** Of those, requests for this DVM (valid signature, addressed to it or to anyone, naming a resource). */
  requests: z.number().int().min(0),
  /** Job workflows started. */
  started: z.number().int().min(0),
  /** Requests whose job had been started already (another relay, an earlier round, a restart). */
  duplicates: z.number().int().min(0),
  /** Requests for another DVM (a `p` tag naming someone else; no `p` tag and no resource of ours). */
  ignored: z.number().int().min(0),
  /** Events that are not requests at all (bad signature, wrong kind). */
  invalid: z.number().int().min(0),
});
export type DvmListenCounts = z.infer<typeof dvmListenCounts>;
export const ZERO_LISTEN_COUNTS: DvmListenCounts = { received: 0, requests: 0, started: 0, duplicates: 0, ignored: 0, invalid: 0 };

export const dvmInput = z
  .strictObject({
    /** One listening round per relay: the listener's activity returns its counts (the status) after it. Default 15m. */
    round: duration.refine((ms) => ms >= 1000, 'must be >= 1s').optional(),
    /** Carried by continue-as-new: each relay's `since` and counts, and that the NIP-89 announcement went out. */
    carry: z
      .strictObject({
        announced: z.boolean().optional(),
        relays: z.record(z.string(), z.strictObject({ since: z.number().int().min(0).optional(), rounds: z.number().int().min(0), counts: dvmListenCounts })).optional(),
      })
      .optional(),
  })
  .default({});
export type DvmInput = z.input<typeof dvmInput>;

export const dvmJobInput = z.strictObject({
  /** The request's event id. */
  id: hex64,
  /** Relays the request was seen on (the first is the result's relay hint); the job fetches it from them. */
  relays: z.array(z.string().max(2048)).min(1).max(20),
});
export type DvmJobInput = z.infer<typeof dvmJobInput>;

/** What the DVM's settings (the config's `dvm` section) come to; `off` says why it does not run. */
export interface DvmSettings {
  off?: string;
  kind: number;
  /** The DVM's identity (hex), from dvm.private_key. */
  pubkey: string;
  /** dvm.relays, normalised; those that are not relay URLs are in `problems`. */
  relays: string[];
  problems: string[];
}

/** One listening round on one relay. */
export interface DvmListenRound extends DvmListenCounts {
  url: string;
  /** Where the next round's subscription starts (unix seconds). */
  since: number;
  /** The relay could not be reached when the round was over: why (its `since` stays where it was). */
  down?: string;
}

export interface DvmRelayStatus {
  url: string;
  phase: 'listening' | 'stopped';
  rounds: number;
  since?: number;
  counts: DvmListenCounts;
  lastRoundAt?: string;
  /** The last round ended with the relay unreachable: why. */
  down?: string;
}

export interface DvmStatus {
  phase: 'starting' | 'listening' | 'off';
  /** Why the DVM does not run (dvm.enabled false, no key, no relay). */
  off?: string;
  kind?: number;
  pubkey?: string;
  announcement?: DvmPublishSummary;
  relays: Record<string, DvmRelayStatus>;
  problems: string[];
}

/** A publish: relays that took the event (OK true) of those tried. */
export interface DvmPublishSummary {
  eventId: string;
  accepted: number;
  targets: number;
  errors?: string[];
}

/** A job's answer: the result (a page), the error feedback, or nothing (the request is gone). */
export interface DvmJobSummary {
  id: string;
  outcome: 'result' | 'error' | 'gone';
  /** For 'error' and 'gone': what the requester is told (or why nothing was sent). */
  reason?: string;
  resource?: string;
  items?: number;
  /** The page has a next cursor. */
  more?: boolean;
  published?: DvmPublishSummary;
}
