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
}

/** What the Synchronizer's coordinator does with a relay of a page. */
export type SyncAction = 'start' | 'running' | 'stopped';

/** What one window of one relay gave: counts, never the events. */
export interface WindowResult extends EventCounts {
  /** The relay returned `limit` events (or hit its own cap): the window may be incomplete. */
  full: boolean;
  /**
   * How the window was read: `negentropy` (NIP-77) reconciles ids and fetches what the archive
   * lacks, complete however many events the window holds; `req` (NIP-01) gets the newest `limit`.
   */
  method?: 'negentropy' | 'req';
  /** Negentropy: ids the relay listed for the window but did not serve when asked for them. */
  unserved?: number;
}

/**
 * One syncWindows activity: windows of one relay from `cursor + 1` up to `target`, each at most
 * `maxWindowSec`, starting at `windowSec` (see activities/sync-span.ts).
 */
export interface SpanQuery {
  url: string;
  network: Network;
  cursor: number;
  windowSec: number;
  target: number;
  limit: number;
  maxWindowSec: number;
}

/** What a syncWindows activity did: where the cursor got to, the next window's size, and the counts. */
export interface SpanResult extends EventCounts {
  cursor: number;
  windowSec: number;
  /** Windows asked (a split window counts each time it is asked). */
  windows: number;
  /** Windows that came back full and were asked again in half. */
  splits: number;
  /** Windows reconciled over NIP-77 (negentropy); the others were read with REQ. */
  negentropyWindows: number;
  /** One-second windows still full: events beyond `limit` in that second could not be paged. */
  fullSeconds: number;
  /** Negentropy: ids the relay listed but did not serve when asked for them. */
  unserved: number;
}

export interface SyncStatus {
  url: string;
  /** Every event with created_at <= cursor that the relay serves is archived. */
  cursor: number;
  windowSec: number;
  windows: number;
  splits: number;
  /** Windows reconciled over NIP-77 (negentropy); the others were read with REQ. */
  negentropyWindows: number;
  received: number;
  inserted: number;
  invalid: Record<string, number>;
  /** A one-second window still full: events beyond `limit` in that second could not be paged. */
  fullSeconds: number;
  phase: 'syncing' | 'caught up' | 'ended';
  /** Why the workflow ended (the relay left the relay table). */
  ended?: string;
}
