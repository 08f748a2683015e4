// The config's schema and its type: what workers load (workers/config.ts reads the YAML file and
// the environment) and what activities are built with. Pure (zod only), so both import it from
// here and no import runs from activities/ back up to workers/. Not exported from common/index.ts:
// workflows never see the config (their activities read it for them).
import { z } from 'zod';
import { duration } from './duration.js';
import { FINDER_SOURCES, MONITOR_CHECKS } from './inputs.js';

/** The two deployments: full events (bigbrotr) or ids, pubkeys, kinds, times and links (lilbrotr). */
export const DEPLOYMENTS = ['bigbrotr', 'lilbrotr'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

const SECOND = 1000;
const MINUTE = 60_000;

/**
 * A duration of at least `min` ms. 0 (or a few ms) is never what anyone meant: as an interval it
 * is a hot loop (the Monitor at 0 opened 80 connections a minute to every relay), as a timeout it
 * fails every request.
 */
const durationAtLeast = (min: number, why: string) => duration.refine((ms) => ms >= min, `must be >= ${showMs(min)}: ${why}`);
/** A sleep between passes or rounds: at least `min`. */
const interval = (min: number) => durationAtLeast(min, 'a shorter interval is a hot loop');
/** A deadline for one request or connection. */
const timeout = durationAtLeast(100, 'a shorter timeout fails every request');

function showMs(ms: number): string {
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`;
  if (ms % SECOND === 0) return `${ms / SECOND}s`;
  return `${ms}ms`;
}

const networkConfig = (timeoutMs: number, concurrency: number) =>
  z
    .strictObject({
      proxy: z.string().regex(/^(socks5h?:\/\/\S+)?$/, 'expected a SOCKS5 URL like socks5h://127.0.0.1:9050, or ""').default(''),
      timeout: timeout.default(timeoutMs),
      concurrency: z.number().int().min(1).max(1000).default(concurrency),
    })
    .prefault({});

/**
 * The ladder of a relay that keeps failing (common/backoff.ts): after `after` failures in a row,
 * each further failure waits the next of `ladder` (a step shorter than the interval waits the
 * interval); one success brings it back to the interval.
 */
const backoff = (after: number) =>
  z
    .strictObject({
      after: z.number().int().min(1).max(1000).default(after),
      ladder: z
        .array(interval(MINUTE))
        .min(1)
        .default([3 * 3_600_000, 24 * 3_600_000, 7 * 24 * 3_600_000])
        .refine((l) => l.every((ms, i) => i === 0 || ms >= l[i - 1]!), 'each step must wait at least as long as the one before'),
    })
    .prefault({});

export const configSchema = z.strictObject({
  deployment: z.enum(DEPLOYMENTS),
  database: z.strictObject({
    // Checked here, so a typo stops start-up with its field (its password shown as ***), not at the first query.
    url: z.string().regex(/^((postgres|postgresql):\/\/\S*|socket:\S+)?$/, 'expected a URL like postgres://user:password@host:5432/db, or ""').default(''),
    pool_max: z.number().int().min(1).max(100).default(10),
  }),
  temporal: z.strictObject({
    address: z.string().default(''),
    namespace: z.string().min(1).default('default'),
    task_queue: z.string().min(1).default('bigbrotr'),
  }),
  relay_url: z.strictObject({ allow_local: z.boolean().default(false) }).prefault({}),
  seeder: z.strictObject({
    file: z.string().min(1),
    /** The only folder seed files are read from (relative to the config folder; empty: the config folder). */
    dir: z.string().default(''),
    // A batch holds up to batch_size URLs (2,048 characters at most each): the cap bounds the worker's memory.
    batch_size: z.number().int().min(1).max(10_000).default(1000),
    /** Larger seed files are refused before any of them is read. */
    max_file_bytes: z.number().int().min(1).default(20_000_000),
    /** A longer line is counted invalid, and only its start is kept (a relay URL is at most 2,048 characters). */
    max_line_bytes: z.number().int().min(1).max(1_000_000).default(4096),
    /** URL lines one run loads; a file with more is refused before anything is written. */
    max_urls: z.number().int().min(1).default(200_000),
  }),
  networks: z
    .strictObject({
      clearnet: networkConfig(10_000, 100),
      tor: networkConfig(30_000, 10),
      i2p: networkConfig(30_000, 5),
      loki: networkConfig(30_000, 5),
    })
    .prefault({}),
  validator: z
    .strictObject({
      interval: interval(MINUTE).default(3_600_000),
      page_size: z.number().int().min(1).max(1000).default(500),
      max_in_flight: z.number().int().min(1).max(1000).default(100),
      max_failures: z.number().int().min(1).max(1000).default(5),
      /** A failing candidate's retries: 3 at the interval, then 3 h, 24 h (max_failures drops it). */
      backoff: backoff(3),
    })
    .prefault({}),
  monitor: z
    .strictObject({
      /** Each relay's check interval (its own workflow waits it on a durable timer). */
      interval: interval(MINUTE).default(3_600_000),
      /** A relay down this many checks in a row waits 3 h, then 24 h, then 7 days between checks; up once, back to the interval. */
      backoff: backoff(3),
      /** The coordinator: how often it looks for relays without a Monitor workflow, and rows per page. */
      pass_interval: interval(MINUTE).default(900_000),
      page_size: z.number().int().min(1).max(1000).default(1000),
      max_in_flight: z.number().int().min(1).max(1000).default(100),
      checks: z.array(z.enum(MONITOR_CHECKS)).default([...MONITOR_CHECKS]),
      nip11_max_bytes: z.number().int().min(1000).default(1_000_000),
      geoip_city: z.string().default(''),
      geoip_asn: z.string().default(''),
      private_key: z.string().regex(/^([0-9a-f]{64})?$/, 'expected 64 lower-case hex characters (a secret key), or ""').default(''),
      publish_relays: z.array(z.string()).default([]),
      profile: z.strictObject({ name: z.string(), about: z.string(), picture: z.string().optional(), website: z.string().optional() }).default({
        name: 'BigBrotr monitor',
        about: 'Relay discovery and liveness monitoring (NIP-66) by BigBrotr',
      }),
    })
    .prefault({}),
  synchronizer: z
    .strictObject({
      start: z.number().int().min(0).default(0),
      /** 0 is allowed: ask up to now (relays that have not converged leave gaps to fill later). */
      end_lag: duration.default(300_000),
      limit: z.number().int().min(1).max(10_000).default(500),
      /** A second that fills a whole answer is asked again at up to this many events, doubling: relays that say nothing of their cap often serve more. */
      dense_limit: z.number().int().min(1).max(100_000).default(8000),
      // Large: a window that comes back full costs one extra request, while a small cap costs a
      // request per window over the empty years before a relay's first event (2,900 at 7 days).
      max_window: durationAtLeast(SECOND, 'windows are whole seconds').default(365 * 86_400_000),
      /** A caught-up relay's sleep before it asks again. */
      interval: interval(10 * SECOND).default(900_000),
      /** Relays that sync more often (their URLs as the relay table has them), and how often. */
      priority_relays: z.array(z.string()).default([]),
      priority_interval: interval(10 * SECOND).default(60_000),
      /** Relays one worker syncs at once per network, one window at a time each (its memory: a window holds up to 1,000 events). */
      relays_in_flight: z.number().int().min(1).max(1000).default(20),
      /** One event's most bytes (its frame) and tags: a bigger one is counted too-large, never held (relay-socket.ts). */
      max_event_bytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(2 * 1024 * 1024),
      max_event_tags: z.number().int().min(100).max(1_000_000).default(20_000),
      /** A relay whose reads kill the worker `after` times in a row (the activity's heartbeat lost) waits each ladder step. */
      backoff: backoff(3),
      /** How long a sync activity may go without a heartbeat before its worker is taken for dead. */
      heartbeat_timeout: durationAtLeast(5 * SECOND, 'a relay read heartbeats about once a second').default(MINUTE),
      /** The coordinator: how often it looks for relays without a sync workflow, and rows per page. */
      pass_interval: interval(MINUTE).default(900_000),
      page_size: z.number().int().min(1).max(1000).default(1000),
      /** A relay's recorded gaps (dense seconds not proven complete) are looked at again this often. */
      gap_retry: interval(MINUTE).default(86_400_000),
      /** A relay that refuses to be read (NIP-42 without a key, `restricted:`) is tried again after this long. */
      refused_retry: interval(MINUTE).default(86_400_000),
      /** NIP-42 key (hex) for relays that ask for authentication; empty: the Monitor's key, if any. */
      private_key: z.string().regex(/^([0-9a-f]{64})?$/, 'expected 64 lower-case hex characters (a secret key), or ""').default(''),
    })
    .prefault({}),
  refresher: z
    .strictObject({
      /** How often the Temporal Schedule `refresher` starts the Refresher (pausable in the Web UI's Schedules page). */
      interval: interval(MINUTE).default(15 * MINUTE),
      /** One target's deadline per attempt (a full build of a large archive is the long case). */
      timeout: durationAtLeast(SECOND, 'a refresh takes at least that').default(60 * MINUTE),
      /** Attempts per target and refresh; a target that fails them all is reported and the rest go on. */
      attempts: z.number().int().min(1).max(100).default(3),
    })
    .prefault({}),
  api: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      /** 0: any free port (printed at start). */
      port: z.number().int().min(0).max(65535).default(8080),
      /** A role that can only read (README); empty: database.url, reading as role bigbrotr_reader. */
      database_url: z.string().regex(/^((postgres|postgresql):\/\/\S*|socket:\S+)?$/, 'expected a URL like postgres://reader:password@host:5432/db, or ""').default(''),
      pool_max: z.number().int().min(1).max(100).default(10),
      /** Requests per minute per client address. */
      rate_limit: z.number().int().min(1).max(1_000_000).default(600),
      /** Origins allowed to call it from a browser; empty: CORS off (no Access-Control-* headers). */
      cors_origins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin like https://example.org')).default([]),
      /** Each query's deadline in the database. */
      statement_timeout: timeout.default(10 * SECOND),
      /**
       * Behind a reverse proxy: true (trust every hop) or the proxies' addresses or CIDRs
       * (Fastify's trustProxy); false: the socket's address is the client's.
       */
      trust_proxy: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
    })
    .prefault({}),
  /** Every process's Prometheus endpoint, GET /metrics (workers/metrics-server.ts); port 0: none. */
  metrics: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(0),
    })
    .prefault({}),
  logging: z
    .strictObject({
      /** json: one JSON object a line; text: lines for a person; auto: text when stdout is a terminal, else json. */
      format: z.enum(['auto', 'json', 'text']).default('auto'),
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    })
    .prefault({}),
  dvm: z
    .strictObject({
      /** Answer NIP-90 job requests: needs relays and a private key. */
      enabled: z.boolean().default(false),
      relays: z.array(z.string()).default([]),
      /** The job request kind (5000-5999); results are kind + 1000. */
      kind: z.number().int().min(5000).max(5999).default(5050),
      private_key: z.string().regex(/^([0-9a-f]{64})?$/, 'expected 64 lower-case hex characters (a secret key), or ""').default(''),
      name: z.string().default('BigBrotr'),
      about: z.string().default('Relay lists, relay health and archived Nostr events from a BigBrotr archive'),
    })
    .prefault({}),
  finder: z.strictObject({
    interval: interval(MINUTE).default(3_600_000),
    page_size: z.number().int().min(1).max(100_000).default(5000),
    cycles_per_run: z.number().int().min(1).max(10_000).default(24),
    sources: z.array(z.enum(FINDER_SOURCES)).default([...FINDER_SOURCES]),
    api_timeout: timeout.default(30_000),
    api_max_bytes: z.number().int().min(1).default(10_000_000),
    api_max_redirects: z.number().int().min(0).max(20).default(3),
    apis: z
      .array(z.strictObject({ name: z.string().regex(/^[\w.-]+$/, 'letters, digits, ".", "-", "_"'), url: z.url({ protocol: /^https?$/ }) }))
      .default([])
      .refine((a) => new Set(a.map((x) => x.name)).size === a.length, 'API names must be distinct'),
  }),
});

export type Config = z.infer<typeof configSchema> & {
  /** The config file's folder: relative paths in it (the seed file) resolve from here. */
  dir: string;
  /** The file it came from, for messages. */
  path: string;
};

