// WebSocket primitives for talking to a relay (NIP-01, NIP-42): open with a deadline and an error
// that says what failed (so the Validator and the Monitor can count failures by cause), then a
// queue of parsed relay messages that callers wait on with a matcher and a timeout, and the two
// probes every health check needs (read: REQ -> EVENT*/EOSE; write: EVENT -> OK -> read back).
// Relays are strangers on the open network: nothing they send may throw, crash or grow memory
// without bound; only the socket dying is an error.
import { randomBytes } from 'node:crypto';
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { finalizeEvent, verifyEvent } from 'nostr-tools/pure';
import type { Event } from 'nostr-tools';
import { BlockedAddressError, guardConnection, type AddressGuard } from './address-guard.js';

export type RelayErrorCode =
  | 'timeout' | 'refused' | 'dns' | 'tls' | 'handshake' | 'closed' | 'too-large' | 'protocol' | 'aborted' | 'no-proxy'
  | 'blocked-address';

/** Why talking to a relay failed; `code` is short and stable, for counting; the message names the relay. */
export class RelayError extends Error {
  override name = 'RelayError';
  /** For code 'handshake': the HTTP status the server answered instead of 101. */
  status?: number;
  constructor(
    readonly code: RelayErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenOptions {
  /** From starting the connection to the WebSocket being open (DNS, TCP, proxy, TLS, upgrade). */
  timeoutMs: number;
  /** SOCKS5 for overlay networks (see socksAgent). */
  agent?: Agent;
  /** Cancels the opening, and later closes the open connection (pending `next` calls reject with 'aborted'). */
  signal?: AbortSignal;
  /** Default 4 MiB; a bigger frame closes the socket with code too-large. */
  maxPayloadBytes?: number;
  /**
   * An EVENT whose frame is over this many bytes, or whose tags are more than `maxEventTags`, is
   * handed on as an OversizedEvent (its summary) instead of the event: read, counted, never held.
   * Defaults: DEFAULT_EVENT_LIMITS.
   */
  maxEventBytes?: number;
  maxEventTags?: number;
  /** Offer permessage-deflate (default false: zlib contexts cost memory per socket and probes gain nothing). */
  perMessageDeflate?: boolean;
  /**
   * Refuses local, private and metadata addresses ('blocked-address'), checked on the address
   * connected to (address-guard.ts); through `agent` only IP literals (the proxy resolves names).
   * Absent: no check.
   */
  guard?: AddressGuard;
}

export interface RelayConnection {
  url: string;
  /** From starting the connection to the WebSocket being open. */
  rttOpenMs: number;
  /** HTTP headers of the 101 upgrade response (for NIP-66 `Server`, `X-Powered-By`). */
  upgradeHeaders: Record<string, string | string[] | undefined>;
  /** Every parsed relay message arrives here in order; malformed frames (not JSON, not an array, unknown type) are counted in `malformed` and skipped, never thrown. */
  malformed: number;
  /** The latest AUTH challenge the relay sent on this connection (undefined: none yet); the AUTH message is still queued for `next` as any other. */
  readonly challenge?: string;
  send(message: unknown[]): void;
  /**
   * Resolves with the first message for which `match` returns something other than undefined
   * (messages that arrived earlier and no one has taken yet count, oldest first: nothing is lost
   * between two calls), rejects with RelayError on timeout/close/abort.
   */
  next<T>(match: (msg: unknown[]) => T | undefined, timeoutMs: number): Promise<T>;
  /**
   * What `next` would resolve with at once, taken now: the first queued message `match` accepts,
   * or undefined when none is queued yet (then `next` waits). A reader that the relay is ahead of
   * takes message after message without a promise each. A failed connection throws its RelayError
   * once nothing matching is queued.
   */
  take<T>(match: (msg: unknown[]) => T | undefined): T | undefined;
  /**
   * Drops the messages no `next` has taken: on a connection used for one exchange after another,
   * what the last one left (a NOTICE, a CLOSED answering our CLOSE) would otherwise be scanned by
   * every later `next` until the queue's cap.
   */
  discardQueued(): void;
  close(): void;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/**
 * What one event may weigh (the synchronizer's max_event_bytes and max_event_tags): well above
 * what common relays accept (strfry: 64 KiB and 2,000 tags by default; nostr-rs-relay: 128 KiB),
 * so that the big events real relays do serve (images in content, contact lists of thousands)
 * are archived.
 */
export const DEFAULT_EVENT_LIMITS = { maxEventBytes: 2 * 1024 * 1024, maxEventTags: 20_000 };

/**
 * What a relay sent in place of an event too big to keep (over maxEventBytes or maxEventTags):
 * the fields the completeness proof needs, when they have the right types. A class, so that no
 * JSON a relay sends can pass for one.
 */
export class OversizedEvent {
  constructor(
    readonly id: unknown,
    readonly pubkey: unknown,
    readonly created_at: unknown,
    readonly kind: unknown,
    /** The frame's size in bytes, and the event's number of tags. */
    readonly bytes: number,
    readonly tags: number,
  ) {}
}
const USER_AGENT = 'bigbrotr';
// After our close frame, how long a relay gets to answer it before the socket is destroyed (ws's
// default is 30 s, which would keep a dead relay's socket, and a test process, alive).
const CLOSE_TIMEOUT_MS = 1000;
// Messages waiting for a `next` call. Over either cap, with no one waiting, the socket is paused
// (TCP back-pressure to the relay); with someone waiting for something else, the oldest are dropped.
const MAX_QUEUED = 1000;
const MAX_QUEUED_BYTES = 2 * 1024 * 1024; // bytes of the frames
/**
 * The queues of all connections of the process together: past this, a connection that has
 * messages waiting pauses its socket until they are taken, so that many relays sending at once
 * cannot add up to more than the worker's heap. A connection with an empty queue always reads.
 */
const MAX_QUEUED_BYTES_ALL = 24 * 1024 * 1024;
let queuedBytesAll = 0;
/** Bytes queued by all connections now (for tests and metrics). */
export const queuedBytesOfProcess = () => queuedBytesAll;

/** The size in bytes of the frame a message came in (0 for a message not from a relay). */
const frameBytes = new WeakMap<unknown[], number>();
export const messageBytes = (msg: unknown[]): number => frameBytes.get(msg) ?? 0;

// Known relay-to-client messages and the shape each must have to be worth handing on.
const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
const SHAPES: Record<string, (m: unknown[]) => boolean> = {
  EVENT: (m) => typeof m[1] === 'string' && isObject(m[2]),
  OK: (m) => typeof m[1] === 'string' && typeof m[2] === 'boolean',
  EOSE: (m) => typeof m[1] === 'string',
  CLOSED: (m) => typeof m[1] === 'string',
  NOTICE: () => true,
  AUTH: (m) => typeof m[1] === 'string',
  COUNT: (m) => typeof m[1] === 'string' && isObject(m[2]), // NIP-45
  'NEG-MSG': (m) => typeof m[1] === 'string', // NIP-77
  'NEG-ERR': (m) => typeof m[1] === 'string',
};

export function openRelay(url: string, options: OpenOptions): Promise<RelayConnection> {
  return new Promise((resolve, reject) => {
    const { timeoutMs, agent, signal } = options;
    const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (signal?.aborted) return reject(new RelayError('aborted', `opening ${url} was cancelled`));
    const started = performance.now();
    // Whether TCP (or the proxy's tunnel) is up: a timeout then means the server, not the path, is mute.
    let connected = false;
    let ws: WebSocket;
    try {
      const guarded = guardConnection(new URL(url), options.guard, agent !== undefined);
      if (guarded.error) return reject(new RelayError('blocked-address', `${url}: ${guarded.error.message}`));
      const wsOptions: WebSocket.ClientOptions & { closeTimeout: number; lookup?: LookupFunction } = {
        agent,
        lookup: guarded.lookup, // net.connect's: the guard sees the very address connected to
        handshakeTimeout: timeoutMs,
        maxPayload,
        perMessageDeflate: options.perMessageDeflate ?? false,
        followRedirects: false, // a relay that redirects is answered 'handshake' with its 3xx
        headers: { 'user-agent': USER_AGENT },
        closeTimeout: CLOSE_TIMEOUT_MS, // in ws 8.18+, not yet in @types/ws
        finishRequest: (req: ClientRequest) => {
          req.once('socket', (socket: Socket) => {
            if (socket.connecting) socket.once('connect', () => (connected = true));
            else connected = true;
          });
          req.end();
        },
      };
      ws = new WebSocket(url, wsOptions);
    } catch (err) {
      return reject(new RelayError('protocol', `cannot open ${url}: ${(err as Error).message}`));
    }

    let upgradeHeaders: Record<string, string | string[] | undefined> = {};
    let settled = false;
    const onUpgrade = (res: IncomingMessage) => (upgradeHeaders = { ...res.headers });
    const onOpen = () => {
      if (settled) return;
      settled = true;
      cleanup();
      const limits = { maxEventBytes: options.maxEventBytes ?? DEFAULT_EVENT_LIMITS.maxEventBytes, maxEventTags: options.maxEventTags ?? DEFAULT_EVENT_LIMITS.maxEventTags };
      resolve(new Connection(ws, url, performance.now() - started, upgradeHeaders, signal, limits));
    };
    const onUnexpectedResponse = (_req: ClientRequest, res: IncomingMessage) => {
      res.on('error', () => {}); // the socket is destroyed under it below
      const err = new RelayError('handshake', `${url} answered HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd() + ' instead of upgrading to a WebSocket');
      err.status = res.statusCode;
      fail(err);
    };
    const onError = (err: Error) => fail(classify(err, url, 'open', agent));
    const onClose = () => fail(new RelayError('closed', `${url} closed the connection before the WebSocket upgrade`));
    const onAbort = () => fail(new RelayError('aborted', `opening ${url} was cancelled`));
    const timer = setTimeout(
      () => fail(new RelayError('timeout', connected
        ? `${url} accepted the connection but did not upgrade to a WebSocket within ${timeoutMs} ms`
        : `no connection to ${url}${agent ? ' through the proxy' : ''} within ${timeoutMs} ms`)),
      timeoutMs,
    );

    function cleanup() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ws.off('upgrade', onUpgrade);
      ws.off('open', onOpen);
      ws.off('unexpected-response', onUnexpectedResponse);
      ws.off('error', onError);
      ws.off('close', onClose);
    }
    function fail(err: RelayError) {
      if (settled) return;
      settled = true;
      cleanup();
      // terminate() of a connecting socket emits 'error' ("closed before the connection was
      // established") on the next tick: someone must listen, or the process dies.
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    }

    ws.on('upgrade', onUpgrade);
    ws.on('open', onOpen);
    ws.on('unexpected-response', onUnexpectedResponse);
    ws.on('error', onError);
    ws.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Waiter {
  match: (msg: unknown[]) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

class Connection implements RelayConnection {
  malformed = 0;
  challenge: string | undefined;
  private readonly queue: Array<{ msg: unknown[]; bytes: number }> = [];
  private queuedBytes = 0;
  /** Whether this queue is in the process's total (until close). */
  private counted = true;
  private readonly waiters = new Set<Waiter>(); // in the order they asked
  /** Set once the connection is unusable; every later `next` (after the queue) rejects with it. */
  private failure: RelayError | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly url: string,
    readonly rttOpenMs: number,
    readonly upgradeHeaders: Record<string, string | string[] | undefined>,
    private readonly signal: AbortSignal | undefined,
    private readonly limits: { maxEventBytes: number; maxEventTags: number },
  ) {
    ws.on('message', this.onMessage);
    ws.on('error', this.onError);
    ws.on('close', this.onClose);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  send(message: unknown[]): void {
    if (this.failure) throw this.failure;
    if (this.ws.readyState !== WebSocket.OPEN) throw new RelayError('closed', `${this.url} closed the connection`);
    this.ws.send(JSON.stringify(message));
  }

  take<T>(match: (msg: unknown[]) => T | undefined): T | undefined {
    for (let i = 0; i < this.queue.length; i++) {
      const value = match(this.queue[i]!.msg);
      if (value !== undefined) {
        this.count(-this.queue.splice(i, 1)[0]!.bytes);
        if (this.ws.isPaused && !this.overfull()) this.ws.resume();
        return value;
      }
    }
    if (this.failure) throw this.failure;
    return undefined;
  }

  next<T>(match: (msg: unknown[]) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let value: T | undefined;
      try {
        value = this.take(match);
      } catch (err) {
        return reject(err);
      }
      if (value !== undefined) return resolve(value);
      const waiter: Waiter = {
        match,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new RelayError('timeout', `no expected answer from ${this.url} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      if (this.ws.isPaused) this.ws.resume(); // what it waits for is behind what fills the queue
    });
  }

  discardQueued(): void {
    this.queue.length = 0;
    this.count(-this.queuedBytes);
    if (this.ws.isPaused) this.ws.resume();
  }

  close(): void {
    this.fail(new RelayError('closed', `connection to ${this.url} closed by us`));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    // What is queued can still be taken, but reads no more: it leaves the process's total.
    if (this.counted) queuedBytesAll -= this.queuedBytes;
    this.counted = false;
  }

  /** Keeps this queue's bytes and, until close, the process's total in step. */
  private count(delta: number) {
    this.queuedBytes += delta;
    if (this.counted) queuedBytesAll += delta;
  }

  private overfull(): boolean {
    if (this.queue.length === 0) return false;
    return this.queue.length > MAX_QUEUED || this.queuedBytes > MAX_QUEUED_BYTES || queuedBytesAll > MAX_QUEUED_BYTES_ALL;
  }

  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
    const bytes = rawBytes(data);
    const msg = isBinary ? undefined : parse(rawText(data));
    if (!msg) {
      this.malformed++;
      return;
    }
    // An event too big to keep is summarised at once: what stays of it is a few fields.
    if (msg[0] === 'EVENT') {
      const e = msg[2] as { id?: unknown; pubkey?: unknown; created_at?: unknown; kind?: unknown; tags?: unknown };
      const tags = Array.isArray(e.tags) ? e.tags.length : 0;
      if (bytes > this.limits.maxEventBytes || tags > this.limits.maxEventTags) {
        msg[2] = new OversizedEvent(e.id, e.pubkey, e.created_at, e.kind, bytes, tags);
      }
    }
    const kept = msg[2] instanceof OversizedEvent ? 200 : bytes;
    frameBytes.set(msg, kept);
    if (msg[0] === 'AUTH') this.challenge = msg[1] as string; // NIP-42: the latest one is the one to answer
    for (const waiter of this.waiters) {
      let value: unknown;
      try {
        value = waiter.match(msg);
      } catch (err) {
        this.settle(waiter);
        waiter.reject(err);
        continue;
      }
      if (value !== undefined) {
        this.settle(waiter);
        waiter.resolve(value);
        return;
      }
    }
    this.queue.push({ msg, bytes: kept });
    this.count(kept);
    if (this.waiters.size === 0) {
      if (this.overfull() && !this.ws.isPaused) this.ws.pause();
    } else {
      // Nobody asked for these, and someone is waiting for something else: let the oldest go
      // (down to the connection's own caps: the process's total is not this relay's doing).
      while (this.queue.length > MAX_QUEUED || this.queuedBytes > MAX_QUEUED_BYTES) this.count(-this.queue.shift()!.bytes);
    }
  };

  private readonly onError = (err: Error) => this.fail(classify(err, this.url, 'open-connection'));

  private readonly onClose = (code: number, reason: Buffer) => {
    const why = reason.length > 0 ? `: ${reason.toString('utf8').slice(0, 200)}` : '';
    this.fail(new RelayError('closed', `${this.url} closed the connection (code ${code}${why})`));
    this.signal?.removeEventListener('abort', this.onAbort);
  };

  private readonly onAbort = () => {
    this.fail(new RelayError('aborted', `connection to ${this.url} cancelled`));
    this.ws.terminate();
  };

  /** The first failure wins (an 'error' is followed by a 'close' that must not hide its cause). */
  private fail(err: RelayError) {
    this.failure ??= err;
    for (const waiter of this.waiters) {
      this.settle(waiter);
      waiter.reject(this.failure);
    }
  }

  private settle(waiter: Waiter) {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }
}

function rawBytes(data: WebSocket.RawData): number {
  return Buffer.isBuffer(data) ? data.length : Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
}

function rawText(data: WebSocket.RawData): string {
  return Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
}

/** A relay message, or undefined when the frame is not one (not JSON, not an array, unknown type, wrong shape). */
function parse(text: string): unknown[] | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(msg) || typeof msg[0] !== 'string') return undefined;
  const shape = SHAPES[msg[0]];
  return shape && shape(msg) ? msg : undefined;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|EPROTO$)/;
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
// ws's own messages for an upgrade that came but was wrong.
const BAD_UPGRADE = /^(Invalid Upgrade header|Invalid Sec-WebSocket-|Server sent|Server indicated)/;

/**
 * A socket error as a RelayError. While opening, every cause has its code; once open, the socket
 * dying is 'closed' (never 'timeout', which `next` keeps for "no answer in time"), except an
 * oversized frame and a broken WebSocket protocol.
 */
function classify(err: Error, url: string, phase: 'open' | 'open-connection', agent?: Agent): RelayError {
  if (err instanceof BlockedAddressError) return new RelayError('blocked-address', `${url}: ${err.message}`);
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
    return new RelayError('too-large', `${url} sent a frame over the size cap (${err.message})`);
  }
  if (code.startsWith('WS_ERR_')) return new RelayError('protocol', `${url} broke the WebSocket protocol: ${err.message} (${code})`);
  if (phase === 'open-connection') {
    return new RelayError('closed', `${url}: connection lost (${[code, err.message].filter(Boolean).join(' ')})`);
  }
  const socks = agent instanceof SocksProxyAgent ? socksFailure(err, url, agent) : undefined;
  if (socks) return socks;
  if (code === 'ECONNREFUSED') return new RelayError('refused', `${url} refused the connection (ECONNREFUSED)`);
  if (DNS_CODES.has(code)) return new RelayError('dns', `${url}: cannot resolve ${new URL(url).hostname} (${code})`);
  if (UNREACHABLE_CODES.has(code)) return new RelayError('refused', `${url} is unreachable (${code})`);
  if (code === 'ETIMEDOUT') return new RelayError('timeout', `${url}: connection timed out (ETIMEDOUT)`);
  if (TLS_CODES.test(code) || /\bTLS\b|\bSSL\b/.test(err.message)) return new RelayError('tls', `${url}: TLS failed: ${err.message}${code ? ` (${code})` : ''}`);
  if (err.message === 'Opening handshake has timed out') return new RelayError('timeout', `${url} did not upgrade to a WebSocket in time`);
  if (BAD_UPGRADE.test(err.message)) return new RelayError('handshake', `${url} answered the upgrade wrongly: ${err.message}`);
  if (RESET_CODES.has(code)) return new RelayError('closed', `${url} closed the connection before the WebSocket upgrade (${code})`);
  return new RelayError('closed', `${url}: connection failed (${[code, err.message].filter(Boolean).join(' ')})`);
}

/**
 * Errors of the SOCKS client lose their `code` (it keeps only the message) but carry the proxy in
 * `options`: tell the proxy's own failures ('no-proxy') from its reports on the relay.
 */
function socksFailure(err: Error, url: string, agent: SocksProxyAgent): RelayError | undefined {
  if (!('options' in err) || !isObject(err.options)) return undefined;
  const proxy = `${agent.proxy.host}:${agent.proxy.port}`;
  const rejected = /^Socks5 proxy rejected connection - (\w+)/.exec(err.message)?.[1];
  if (rejected === 'TTLExpired') return new RelayError('timeout', `${url}: the SOCKS5 proxy ${proxy} gave up reaching it (TTL expired)`);
  if (rejected) {
    // Tor answers HostUnreachable both for a name that does not resolve and for an onion service
    // that is not online: the relay cannot be reached, for a reason only the proxy knows.
    return new RelayError('refused', `${url}: the SOCKS5 proxy ${proxy} could not connect to it (${rejected})`);
  }
  if (err.message === 'Proxy connection timed out') return new RelayError('timeout', `${url}: no answer from the SOCKS5 proxy ${proxy} in time`);
  return new RelayError('no-proxy', `${url}: the SOCKS5 proxy ${proxy} is not usable (${err.message})`);
}

function safeVerify(event: unknown): event is Event {
  try {
    return verifyEvent(event as Event); // throws on an object that is not an event at all
  } catch {
    return false;
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof RelayError && err.code === 'timeout';
}

export type ReadAnswer = 'eose' | 'closed' | 'auth-required' | 'auth' | 'notice-only' | 'timeout';
export interface ReadProbe {
  answer: ReadAnswer;
  /** Events of the subscription that pass verifyEvent. */
  events: number;
  /** Events of the subscription that fail verifyEvent (not counted in `events`). */
  invalid?: number;
  /** To the first EVENT, or to EOSE when there is none. */
  rttReadMs?: number;
  /** CLOSED or NOTICE text, AUTH challenge. */
  message?: string;
  /** An AUTH challenge seen during the probe, whatever the answer (a relay may challenge and still serve). */
  challenge?: string;
}

/**
 * Sends ["REQ", <random sub id>, filter] (default {limit: 1}) and waits for the answer: EVENTs then
 * EOSE -> 'eose'; CLOSED whose message starts with "auth-required:" -> 'auth-required'; other
 * CLOSED -> 'closed'; an AUTH challenge and no answer to the REQ within the timeout -> 'auth' (a
 * relay's answer to the REQ itself wins over a challenge: many relays challenge on connect and
 * serve public reads anyway); only NOTICEs until the timeout -> 'notice-only'; nothing ->
 * 'timeout'. Sends CLOSE afterwards when the subscription is still open. Events that fail
 * verifyEvent are not counted. Never throws for a relay's answer; throws RelayError only if the
 * socket dies.
 */
export async function probeRead(conn: RelayConnection, options: { timeoutMs: number; filter?: Record<string, unknown> }): Promise<ReadProbe> {
  return subscribe(conn, options.filter ?? { limit: 1 }, options.timeoutMs, () => {});
}

async function subscribe(conn: RelayConnection, filter: Record<string, unknown>, timeoutMs: number, onEvent: (event: Event) => void): Promise<ReadProbe> {
  const subId = `bb-${randomBytes(8).toString('hex')}`;
  const started = performance.now();
  const deadline = started + timeoutMs;
  const ours = (m: unknown[]) =>
    ((m[0] === 'EVENT' || m[0] === 'EOSE' || m[0] === 'CLOSED') && m[1] === subId) || m[0] === 'AUTH' || m[0] === 'NOTICE' ? m : undefined;
  const probe: ReadProbe = { answer: 'timeout', events: 0, invalid: 0 };
  let notice: string | undefined;
  conn.send(['REQ', subId, filter]);
  for (;;) {
    const remaining = deadline - performance.now();
    let msg: unknown[] | undefined;
    try {
      if (remaining > 0) msg = await conn.next(ours, remaining);
    } catch (err) {
      if (!isTimeout(err)) throw err;
    }
    if (!msg) {
      if (probe.challenge !== undefined) Object.assign(probe, { answer: 'auth', message: probe.challenge });
      else if (notice !== undefined) Object.assign(probe, { answer: 'notice-only', message: notice });
      break;
    }
    const [type] = msg;
    if (type === 'EVENT') {
      if (safeVerify(msg[2])) {
        probe.events++;
        probe.rttReadMs ??= performance.now() - started;
        onEvent(msg[2]);
      } else {
        probe.invalid = (probe.invalid ?? 0) + 1;
      }
    } else if (type === 'EOSE') {
      probe.answer = 'eose';
      probe.rttReadMs ??= performance.now() - started;
      break;
    } else if (type === 'CLOSED') {
      const text = typeof msg[2] === 'string' ? msg[2] : '';
      probe.answer = text.startsWith('auth-required:') ? 'auth-required' : 'closed';
      probe.message = text;
      return probe; // the relay ended the subscription itself: no CLOSE
    } else if (type === 'AUTH') {
      probe.challenge = String(msg[1]);
    } else {
      notice ??= typeof msg[1] === 'string' ? msg[1] : JSON.stringify(msg[1] ?? '');
    }
  }
  try {
    conn.send(['CLOSE', subId]);
  } catch {
    // the socket is going away: the subscription goes with it
  }
  return probe;
}

export interface WriteProbe {
  accepted: boolean;
  message: string;
  /** From sending EVENT to receiving its OK. */
  rttWriteMs?: number;
  /** The event came back from a REQ {ids:[id]}. */
  readBack: boolean;
}

/**
 * Publishes a signed event (["EVENT", ev]) and waits for ["OK", id, accepted, message]; if
 * accepted, asks for it back by id (a second wait of up to timeoutMs). Never throws for a relay's
 * answer (no OK in time -> accepted false, message 'no OK within N ms'); throws RelayError only if
 * the socket dies.
 */
export async function probeWrite(conn: RelayConnection, event: Event, options: { timeoutMs: number }): Promise<WriteProbe> {
  const started = performance.now();
  conn.send(['EVENT', event]);
  let ok: unknown[];
  try {
    ok = await conn.next((m) => (m[0] === 'OK' && m[1] === event.id ? m : undefined), options.timeoutMs);
  } catch (err) {
    if (isTimeout(err)) return { accepted: false, message: `no OK within ${options.timeoutMs} ms`, readBack: false };
    throw err;
  }
  const result: WriteProbe = {
    accepted: ok[2] === true,
    message: typeof ok[3] === 'string' ? ok[3] : '',
    rttWriteMs: performance.now() - started,
    readBack: false,
  };
  if (result.accepted) {
    await subscribe(conn, { ids: [event.id] }, options.timeoutMs, (got) => {
      if (got.id === event.id) result.readBack = true;
    });
  }
  return result;
}

export type AuthResult = { ok: true } | { ok: false; reason: string };

/**
 * NIP-42: answers the relay's AUTH challenge with a kind-22242 event signed by `secretKey`
 * (tags ["relay", conn.url] and ["challenge", challenge]), sent as ["AUTH", event], and waits for
 * ["OK", id, accepted, message]. Uses the latest challenge the connection has seen, or waits up to
 * timeoutMs for one; then waits up to timeoutMs for the OK (two waits at most, as probeWrite).
 * The AUTH messages still queued are taken (they are answered). Never throws for a relay's answer:
 * { ok: false, reason } with 'no challenge within N ms', 'refused: <message>' or 'no OK within N ms';
 * throws RelayError only if the socket dies.
 */
export async function authenticate(conn: RelayConnection, secretKey: Uint8Array, options: { timeoutMs: number }): Promise<AuthResult> {
  const { timeoutMs } = options;
  const isAuth = (m: unknown[]) => (m[0] === 'AUTH' ? (m[1] as string) : undefined);
  let challenge: string | undefined;
  while ((challenge = conn.take(isAuth)) !== undefined); // queued challenges: the last is conn.challenge
  challenge = conn.challenge;
  if (challenge === undefined) {
    try {
      challenge = await conn.next(isAuth, timeoutMs);
    } catch (err) {
      if (isTimeout(err)) return { ok: false, reason: `no challenge within ${timeoutMs} ms` };
      throw err;
    }
  }
  const event = finalizeEvent(
    { kind: 22242, created_at: Math.floor(Date.now() / 1000), tags: [['relay', conn.url], ['challenge', challenge]], content: '' },
    secretKey,
  );
  conn.send(['AUTH', event]);
  let ok: unknown[];
  try {
    ok = await conn.next((m) => (m[0] === 'OK' && m[1] === event.id ? m : undefined), timeoutMs);
  } catch (err) {
    if (isTimeout(err)) return { ok: false, reason: `no OK within ${timeoutMs} ms` };
    throw err;
  }
  if (ok[2] === true) return { ok: true };
  return { ok: false, reason: `refused: ${typeof ok[3] === 'string' ? ok[3].slice(0, 500) : ''}` };
}

/** A SOCKS5 agent for ws and http(s), from a proxy URL like socks5h://127.0.0.1:9050 (socks5h: the proxy resolves names, as .onion needs). */
export function socksAgent(proxyUrl: string): Agent {
  let parsed: URL;
  try {
    parsed = new URL(proxyUrl);
  } catch {
    throw new RelayError('no-proxy', `not a proxy URL: ${proxyUrl.slice(0, 200)}`);
  }
  if (!['socks5h:', 'socks5:', 'socks:'].includes(parsed.protocol)) {
    throw new RelayError('no-proxy', `not a SOCKS5 proxy URL (want socks5h://host:port): ${proxyUrl.slice(0, 200)}`);
  }
  // No `timeout` option: socks-proxy-agent would also apply it as an idle timeout to the open
  // tunnel, killing quiet but healthy relay connections. openRelay's deadline bounds the connect;
  // a proxy that accepts TCP and then says nothing keeps its half-made tunnel until the SOCKS
  // client's own 30 s limit (it cannot be cancelled from outside).
  return new SocksProxyAgent(parsed);
}
