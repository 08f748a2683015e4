import type { Backoff } from './backoff.js';
import type { EventCounts } from './counts.js';
import type { Network } from './relay-url.js';

/** What the Seeder did: returned by its activity and its workflow, shown in the Web UI. */
export interface SeedReport {
  file: string;
  /** Lines that hold a URL (comments and blank lines are not counted). */
  read: number;
  valid: number;
  invalid: number;
  /** Reason → how many URLs were rejected for it. */
  invalidReasons: Record<string, number>;
  /** A few rejected lines with their reasons, for the operator to look at. */
  invalidSamples: Array<{ line: number; url: string; reason: string }>;
  inserted: number;
  /** Valid URLs already in the candidates or relays (or repeated within the file). */
  alreadyKnown: number;
}

export interface SchemaCheck {
  complete: boolean;
  missing: string[];
}

/** Settings a Finder run uses: its input, with the config's defaults for what the input left out. */
export interface FinderSettings {
  intervalMs: number;
  pageSize: number;
  sources: Array<'events' | 'apis'>;
  cyclesPerRun: number;
  /** The configured relay-list APIs, by name. */
  apis: string[];
}

/** One page of the archive scan: what it found, and where the next page starts. */
export interface ScanPage {
  events: number;
  /** Valid relay URLs found, repeats included. */
  urls: number;
  /** Distinct valid URLs in the page. */
  distinct: number;
  inserted: number;
  invalid: Record<string, number>;
  /** The last event read, or the cursor given when the page was empty. */
  cursor: { createdAt: number; id: string } | null;
  /** The scan reached the end of the archive. */
  done: boolean;
}

/** One relay-list API's answer in a cycle; a failure is an outcome with its reason, not an error. */
export interface ApiOutcome {
  name: string;
  ok: boolean;
  error?: string;
  urls: number;
  inserted: number;
  invalid: number;
  ms: number;
}

export interface FinderCycle {
  cycle: number;
  startedAt: string;
  finishedAt?: string;
  pages: number;
  eventsScanned: number;
  urlsFound: number;
  newCandidates: number;
  invalid: Record<string, number>;
  apis: ApiOutcome[];
}

export interface FinderStatus {
  phase: 'starting' | 'scanning events' | 'asking APIs' | 'sleeping';
  cycle: number;
  cursor: { createdAt: number; id: string } | null;
  current: FinderCycle | null;
  last: FinderCycle | null;
  nextCycleAt: string | null;
  settings: FinderSettings | null;
}

export interface CoordinatorSettings {
  intervalMs: number;
  pageSize: number;
  maxInFlight: number;
  /**
   * The networks this deployment reaches (clearnet, and each overlay network with a proxy in the
   * config): rows of the others are left alone rather than waited on.
   */
  networks: Network[];
}

/** How a probe went: `valid` relays become relays; `skipped` ones (network not served) are left as they are. */
export interface ProbeOutcome {
  url: string;
  verdict: 'valid' | 'invalid' | 'skipped';
  /** What the relay answered, or why it could not be asked. */
  reason: string;
  rttOpenMs?: number;
}

export interface ValidationRecord extends ProbeOutcome {
  /** After recording: promoted to relay, failure count raised, or dropped for too many failures. */
  result: 'promoted' | 'failed' | 'dropped' | 'skipped' | 'gone';
  failures?: number;
  /** A failed candidate's ladder step (0: the normal interval) and when it is probed next. */
  step?: number;
  nextProbeAt?: string;
}

/** A pass of a coordinator over its table. */
export interface CoordinatorPass {
  cycle: number;
  startedAt: string;
  finishedAt?: string;
  pages: number;
  /** Children finished. */
  done: number;
  /** Children by outcome (promoted, failed, dropped, monitored, ...). */
  outcomes: Record<string, number>;
  /** Failure reasons by their first word (refused, timeout, handshake, ...). */
  reasons: Record<string, number>;
}

export interface CoordinatorStatus {
  phase: 'starting' | 'working' | 'sleeping';
  cycle: number;
  cursor: string | null;
  inFlight: number;
  current: CoordinatorPass | null;
  last: CoordinatorPass | null;
  nextPassAt: string | null;
  settings: CoordinatorSettings | null;
}

/** What one relay's health check found: the checks that passed, and why the others did not. */
export interface MonitorSummary {
  url: string;
  ok: string[];
  failed: Record<string, string>;
  /** Rows added to the relay_metadata time series. */
  stored: number;
  rtt?: { open?: number; read?: number; write?: number };
  /** Target relays that accepted the relay's 30166 event. */
  published?: number;
}

/** A relay's sync settings (seconds), the config's unless the input says otherwise. */
export interface SyncSettings {
  start: number;
  endLagSec: number;
  limit: number;
  maxWindowSec: number;
  /** The sleep once caught up (shorter for a priority relay). */
  intervalMs: number;
  /** The relay is still in the relay table: a sync of a relay that is gone ends. */
  listed: boolean;
  priority: boolean;
  /** How often a relay's recorded gaps are looked at again. */
  gapRetryMs: number;
  /** How long a relay that refuses to be read (NIP-42) waits before it is tried again. */
  refusedRetryMs: number;
  /** A relay whose reads keep killing the worker: `after` deaths in a row, then the ladder. Absent in histories from before it. */
  backoff?: Backoff;
  /** How long a syncWindows activity may go without a heartbeat (absent in histories from before it: a minute). */
  heartbeatTimeoutMs?: number;
  /** synchronizer.dense_limit (absent in histories from before it). */
  denseLimit?: number;
}

/**
 * What a coordinator of long-lived relay workflows (the Monitor's, the Synchronizer's) does with a
 * relay of a page: start its workflow (none runs), leave it (one runs), or leave it stopped (a
 * person cancelled it since the coordinator started).
 */
export type RelayWorkflowAction = 'start' | 'running' | 'stopped';
export type SyncAction = RelayWorkflowAction;

/**
 * What a relay's sync has learned about the relay, carried in its workflow state (and so through
 * continue-as-new): what a window's answer proves depends on it (see activities/synchronizer/sync-proof.ts).
 */
export interface RelayKnowledge {
  /**
   * The most events the relay has sent in answer to one REQ. An answer smaller than this was not
   * cut by the relay's cap, so it is complete; 0 until the relay has answered anything.
   */
  largestAnswer: number;
  /** NIP-11 `limitation.max_limit`, as last read (the Monitor's stored document, or the sync's own fetch). */
  maxLimit?: number;
  /** When the sync last fetched the relay's NIP-11 itself (none was stored), ms. */
  nip11FetchedAt?: number;
  /** NIP-77: reconciled before ('yes'), refused or not listed in its NIP-11 ('no'), or not known yet. */
  negentropy: 'unknown' | 'yes' | 'no';
  /** When `negentropy` was last learned from an answer, ms (a 'no' is asked again after a week). */
  negentropyCheckedAt?: number;
  /** The relay treats `until` as exclusive (created_at < until, against NIP-01): its windows are asked with until + 1. */
  untilExclusive: boolean;
  /** Windows taken on `largestAnswer` alone since the last audit (a window whose completeness was shown by paging). */
  sinceAudit: number;
  /**
   * The cursor before the last passed audit: a relay caught capping below `largestAnswer` has the
   * windows since read again from here.
   */
  auditCursor: number;
  /** The size of the last answer taken on trust: the same size twice in a row is what a cap looks like, so it is audited. */
  lastAnswer: number;
  /** The cursor's second was read as a dense second: the next window starts after it instead of overlapping it. */
  denseEdge?: number;
  /** NIP-42: the relay asked for authentication, and the sync authenticated. */
  authenticated?: boolean;
  /**
   * NIP-45 COUNT: listed in its NIP-11 ('yes'), not listed or not answered ('no'), or caught
   * counting fewer than it served ('untrusted': never asked again). Absent: not known yet.
   */
  count?: 'yes' | 'no' | 'untrusted';
}

export const UNKNOWN_RELAY: RelayKnowledge = {
  largestAnswer: 0, negentropy: 'unknown', untilExclusive: false, sinceAudit: 0, auditCursor: -1, lastAnswer: 0,
};

/** What one window of one relay gave: counts, never the events. */
export interface WindowResult extends EventCounts {
  /**
   * The window is complete on evidence (an answer smaller than the relay's learned cap, a page
   * that brought nothing older, a NIP-77 reconciliation), its dense seconds read or recorded as
   * gaps. False: the page budget ran out first; the window is asked again smaller.
   */
  complete: boolean;
  /** How the window was read: `negentropy` (NIP-77) reconciles ids; `req` (NIP-01) pages with `until`. */
  method?: 'negentropy' | 'req';
  /** Negentropy: ids the relay listed for the window but did not serve when asked for them. */
  unserved?: number;
  /** Negentropy: ids the relay listed for the window (for the next window's size). */
  listed?: number;
  /** REQs sent for a window read with REQ (pages, audits, dense seconds). */
  reqs: number;
}

/**
 * One syncWindows activity: windows of one relay from the cursor up to `target`, each at most
 * `maxWindowSec`, starting at `windowSec` (see activities/synchronizer/sync-span.ts).
 */
export interface SpanQuery {
  url: string;
  network: Network;
  cursor: number;
  windowSec: number;
  target: number;
  /** Events per REQ (the config's; the relay's NIP-11 max_limit lowers it). */
  limit: number;
  /** A dense second is asked again at up to this many events, doubling (synchronizer.dense_limit; absent: not above the relay's cap). */
  denseLimit?: number;
  maxWindowSec: number;
  /** What the relay's workflow knows of it; absent: nothing yet. */
  relay?: RelayKnowledge;
  /** The first activity of a round (after a sleep): its first window is audited, since a relay may have changed since. */
  fresh?: boolean;
  /** Retry the relay's recorded gaps first. */
  retryGaps?: boolean;
  /** Seconds above the cursor already read whole (see SpanResult.ahead). */
  ahead?: Stretch;
}

/**
 * A syncWindows activity's progress as its heartbeats carry it (a SpanResult so far), when `d`
 * has that shape: what a retried attempt resumes from, and what the workflow keeps of an attempt
 * lost with its worker.
 */
export function spanProgress(d: unknown): SpanResult | undefined {
  const p = d as Partial<SpanResult> | undefined;
  if (typeof p?.cursor !== 'number' || typeof p.windowSec !== 'number' || p.windowSec < 1 || typeof p.windows !== 'number') return undefined;
  if (typeof p.invalid !== 'object' || p.invalid === null || typeof p.relay !== 'object' || p.relay === null) return undefined;
  return p as SpanResult;
}

/** Seconds [from, to]. */
export interface Stretch {
  from: number;
  to: number;
}

/** What a syncWindows activity did: where the cursor got to, the next window's size, and the counts. */
export interface SpanResult extends EventCounts {
  cursor: number;
  windowSec: number;
  /** Windows asked (a split window counts each time it is asked). */
  windows: number;
  /** Windows the page budget could not finish, asked again smaller. */
  splits: number;
  /** Windows reconciled over NIP-77 (negentropy); the others were read with REQ. */
  negentropyWindows: number;
  /** Negentropy: ids the relay listed but did not serve when asked for them. */
  unserved: number;
  reqs: number;
  pages: number;
  denseSeconds: number;
  /** Gaps recorded (dense seconds not proven complete), and recorded gaps filled since. */
  gaps: number;
  gapsFilled: number;
  /** Open gaps of this relay looked at again in this activity (undefined: none was). */
  gapsRetried?: number;
  overlapFound: number;
  /** Times the relay was caught capping lower than it had, and the cursor was moved back to its last audit. */
  capLowered: number;
  relay: RelayKnowledge;
  /**
   * Seconds above the cursor that an unfinished window read whole (its pages went down from its
   * top): the windows below them come first, then the cursor jumps past them.
   */
  ahead?: Stretch;
  /** The relay refuses to be read (NIP-42 without a key, `restricted:` after AUTH): why. Nothing more was read. */
  refused?: string;
}

/** A relay's Monitor workflow, as its `status` query answers. */
export interface MonitorRelayStatus {
  url: string;
  phase: 'checking' | 'waiting' | 'ended';
  /** Checks this workflow has run (all its runs). */
  checks: number;
  /** Checks in a row the relay failed (down: its WebSocket did not open, or no check passed). */
  failures: number;
  /** Its ladder step: 0 is the normal interval (common/backoff.ts). */
  step: number;
  /** The wait after the last check: the interval, or the step's. */
  waitMs: number;
  nextCheckAt: string | null;
  lastCheckAt: string | null;
  lastOkAt: string | null;
  lastFailedAt: string | null;
  /** Why the last failed check failed. */
  lastReason?: string;
  /** The last check's summary. */
  last?: MonitorSummary;
  ended?: string;
}

export interface SyncStatus {
  url: string;
  /** Every event with created_at <= cursor that the relay serves is archived, or its second is a recorded gap. */
  cursor: number;
  windowSec: number;
  windows: number;
  splits: number;
  /** Windows reconciled over NIP-77 (negentropy); the others were read with REQ. */
  negentropyWindows: number;
  received: number;
  inserted: number;
  invalid: Record<string, number>;
  /** REQs sent, and those beyond each window's first (proof and paging). */
  reqs: number;
  pages: number;
  denseSeconds: number;
  /** Seconds recorded as gaps (sync_gap), and gaps filled later. */
  gaps: number;
  gapsFilled: number;
  /** When the relay's gaps were last looked at again (ms). */
  gapsRetriedAt?: number;
  overlapFound: number;
  capLowered: number;
  /** What the sync has learned about the relay: its cap, NIP-77, `until`, NIP-42. */
  relay: RelayKnowledge;
  /** Seconds above the cursor already read whole (an unfinished window's top). */
  ahead?: Stretch;
  phase: 'syncing' | 'caught up' | 'not archivable' | 'set aside' | 'ended';
  /** Why the relay cannot be archived now (it is looked at again after `refused_retry`, or its ladder step when set aside). */
  notArchivable?: string;
  /** Reads of this relay in a row whose worker died (the activity's heartbeat lost); one clean read: 0. */
  deaths?: number;
  /** Why the workflow ended (the relay left the relay table). */
  ended?: string;
}
