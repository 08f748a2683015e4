// The NIP-90 Data Vending Machine's effects (workflows/dvm.ts decides): its settings, its NIP-89
// announcement, one long-lived listener per configured relay that starts a job workflow per
// request (listener.ts), and a job: read the page through the read core shared with the HTTP API
// (read/), publish the result or the error feedback, signed with dvm.private_key. Pages and
// events stay here: the workflows get counts and ids.
import type { Agent } from 'node:http';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { finalizeEvent, getPublicKey } from 'nostr-tools/pure';
import { hexToBytes } from 'nostr-tools/utils';
import type { Event, EventTemplate } from 'nostr-tools';
import { BAD_INPUT, parseRelayUrl, type Network } from '../../common/index.js';
import type { DvmJobSummary, DvmListenRound, DvmPublishSummary, DvmSettings } from '../../common/dvm.js';
import type { Config } from '../../common/config.js';
import { connectReader, createReader, ReadInputError, RESOURCES, type Reader } from '../../read/index.js';
import { openRelay, RelayError, socksAgent, type RelayConnection } from '../relay/relay-socket.js';
import type { AddressGuard } from '../relay/address-guard.js';
import type { ActivityDeps } from '../shared/deps.js';
import { listen } from './listener.js';
import {
  errorFeedback, eventBytes, handlerAnnouncement, isEncrypted, itemsThatFit, MAX_EVENT_BYTES, MAX_REQUEST_RELAYS,
  parseRequest, resultEvent, safeVerify,
} from './request.js';

/** No relay took the answer: retried (the same event: its created_at comes from the workflow). */
export class DvmPublishError extends Error {
  override name = 'DvmPublishError';
}

export interface DvmDeps extends ActivityDeps {
  /** The read core; default: one over connectReader(config), made at the first job. */
  reader?: Reader;
}

/** A relay to talk to: its URL and how (the SOCKS5 proxy of an overlay network, the address guard for strangers' relays). */
export interface Target {
  url: string;
  agent?: Agent;
  guard?: AddressGuard;
}

export const createDvmActivities = ({ config, reader }: DvmDeps) => {
  const d = config.dvm;
  const timeoutMs = config.networks.clearnet.timeout;
  const allowLocal = config.relay_url.allow_local;
  const secretKey = d.private_key ? hexToBytes(d.private_key) : undefined;
  const pubkey = secretKey ? getPublicKey(secretKey) : '';
  // The read-only pool, made when the first job needs it (a worker with the DVM off never connects).
  let read: Promise<Reader> | undefined = reader ? Promise.resolve(reader) : undefined;
  const getReader = () =>
    (read ??= connectReader(config).then(
      (db) => createReader(db, config.deployment),
      (err: unknown) => {
        read = undefined; // the job's retry connects again
        throw err;
      },
    ));

  /** A relay URL from the config or a request: normalised, with its network's proxy; undefined with a reason when unusable here. */
  function target(raw: string, trusted: boolean): Target | { problem: string } {
    const r = parseRelayUrl(raw, { allowLocal });
    if (!r.ok) return { problem: `${String(raw).slice(0, 200)}: ${r.reason}` };
    const agent = proxyFor(r.network);
    if (r.network !== 'clearnet' && !agent) return { problem: `${r.url}: no SOCKS5 proxy is configured for ${r.network} (networks.${r.network}.proxy)` };
    // The config's relays are the operator's word; a request's are a stranger's: guarded.
    return { url: r.url, agent, guard: trusted ? undefined : { allowLocal } };
  }
  const agents = new Map<Network, Agent | undefined>();
  function proxyFor(network: Network): Agent | undefined {
    if (!agents.has(network)) {
      const proxy = config.networks[network].proxy;
      agents.set(network, proxy ? socksAgent(proxy) : undefined);
    }
    return agents.get(network);
  }
  const configured = () => d.relays.map((r) => target(r, true));
  const configuredTargets = () => configured().filter((t): t is Target => 'url' in t);

  function settings(): DvmSettings {
    const parsed = configured();
    const relays = [...new Set(parsed.flatMap((t) => ('url' in t ? [t.url] : [])))];
    const problems = parsed.flatMap((t) => ('problem' in t ? [`dvm.relays: ${t.problem}`] : []));
    const off = !d.enabled ? 'dvm.enabled is false'
      : !secretKey ? 'dvm.private_key is empty: the DVM signs its answers with it'
      : relays.length === 0 ? 'no usable relay in dvm.relays' : undefined;
    return { off, kind: d.kind, pubkey, relays, problems };
  }

  /** Publishes a signed event to each target at once; counts the relays that answered OK true. */
  async function publish(event: Event, targets: Target[]): Promise<DvmPublishSummary> {
    const errors: string[] = [];
    let accepted = 0;
    await Promise.all(
      targets.map(async (t) => {
        let conn: RelayConnection | undefined;
        try {
          conn = await openRelay(t.url, { timeoutMs, agent: t.agent, guard: t.guard });
          conn.send(['EVENT', event]);
          const ok = await conn.next((m) => (m[0] === 'OK' && m[1] === event.id ? m : undefined), timeoutMs);
          if (ok[2] === true) accepted++;
          else errors.push(`${t.url}: ${String(ok[3] ?? '').slice(0, 200)}`);
        } catch (err) {
          errors.push(`${t.url}: ${err instanceof RelayError ? `${err.code}: ` : ''}${(err as Error).message}`);
        } finally {
          conn?.close();
        }
      }),
    );
    if (errors.length) log.warn('dvm: some relays did not take the event', { eventId: event.id, kind: event.kind, errors: errors.slice(0, 5) });
    return { eventId: event.id, accepted, targets: targets.length, ...(errors.length ? { errors: errors.slice(0, 5) } : {}) };
  }

  /** The request, from the relays it was seen on, then the configured ones; undefined when none has it. */
  async function fetchRequest(id: string, seenOn: string[]): Promise<Event | undefined> {
    const urls = [...new Set([...seenOn.map((u) => target(u, true)), ...configured()].flatMap((t) => ('url' in t ? [t] : [])))];
    for (const t of urls) {
      let conn: RelayConnection | undefined;
      try {
        conn = await openRelay(t.url, { timeoutMs, agent: t.agent });
        const sub = `dvm-get-${id.slice(0, 8)}`;
        conn.send(['REQ', sub, { ids: [id] }]);
        for (;;) {
          const m = await conn.next((msg) => ((msg[0] === 'EVENT' || msg[0] === 'EOSE' || msg[0] === 'CLOSED') && msg[1] === sub ? msg : undefined), timeoutMs);
          if (m[0] !== 'EVENT') break;
          const ev = m[2] as Event;
          if (ev.id === id && safeVerify(ev)) return ev;
        }
      } catch (err) {
        log.warn('dvm: fetching the request failed at a relay', { id, relay: t.url, error: (err as Error).message });
      } finally {
        conn?.close();
      }
    }
    return undefined;
  }

  /** Reads the request's page, cut to fit in one event; the result's content, or the problem to tell the requester. */
  async function answer(request: Event, hint: string, createdAt: number): Promise<{ template: EventTemplate; resource?: string; items?: number; more?: boolean; error?: string }> {
    const fail = (reason: string, resource?: string) => ({ template: errorFeedback(request, hint, reason, createdAt), error: reason, resource });
    if (isEncrypted(request)) return fail('encrypted requests are not supported by this DVM: send the resource and params as clear tags');
    const parsed = parseRequest(request);
    if (!parsed.ok) return fail(parsed.reason);
    const { resource, params } = parsed.request;
    const r = await getReader();
    let q: Record<string, unknown> = params;
    // At most three reads: the page, then the part of it that fits (twice, should rows grow meanwhile).
    for (let attempt = 0; attempt < 3; attempt++) {
      let data: unknown;
      try {
        data = await r.read(resource, q);
      } catch (err) {
        if (err instanceof ReadInputError) return fail(err.message, resource);
        throw err; // the database: a fault, retried
      }
      if (!isPage(data)) {
        const template = resultEvent(request, hint, JSON.stringify(data), createdAt);
        if (eventBytes(template) > MAX_EVENT_BYTES) return fail(`the ${resource} answer is larger than this DVM's event size limit (${MAX_EVENT_BYTES} bytes)`, resource);
        return { template, resource };
      }
      const template = resultEvent(request, hint, JSON.stringify({ items: data.items, next: data.next }), createdAt);
      if (eventBytes(template) <= MAX_EVENT_BYTES) return { template, resource, items: data.items.length, more: data.next !== null };
      const fit = itemsThatFit(request, hint, data.items, createdAt);
      if (fit === 0) {
        return fail(eventBytes(resultEvent(request, hint, '{"items":[],"next":null}', createdAt)) > MAX_EVENT_BYTES
          ? `the request is too large to be quoted in a result (its "request" tag) under ${MAX_EVENT_BYTES} bytes`
          : `one ${resource} item is larger than this DVM's event size limit (${MAX_EVENT_BYTES} bytes)`, resource);
      }
      q = { ...q, limit: String(fit) }; // the read core's cursor then points after the last item sent
    }
    return fail(`the ${resource} page did not fit in ${MAX_EVENT_BYTES} bytes: ask with a smaller limit`, resource);
  }

  return {
    /** The DVM's settings: `off` says why it does not run. */
    async dvmSettings(): Promise<DvmSettings> {
      return settings();
    },

    /** The NIP-89 handler announcement (kind 31990) on the configured relays, signed at `createdAt`. */
    async announceDvm(q: { createdAt: number }): Promise<DvmPublishSummary> {
      if (!secretKey) throw ApplicationFailure.nonRetryable('dvm.private_key is empty', BAD_INPUT);
      const event = finalizeEvent(handlerAnnouncement({ kind: d.kind, name: d.name, about: d.about, resources: RESOURCES }, q.createdAt), secretKey);
      return publish(event, configuredTargets());
    },

    /**
     * One relay's listener for a round (`roundMs`), then its counts; retried when the relay drops,
     * from where its heartbeats say it stood (listener.ts).
     */
    async listenDvm(q: { url: string; since?: number; roundMs: number }): Promise<DvmListenRound> {
      const t = target(q.url, true);
      if (!('url' in t)) throw ApplicationFailure.nonRetryable(`not a usable relay: ${t.problem}`, BAD_INPUT);
      return listen({ ...q, url: t.url, agent: t.agent, kind: d.kind, pubkey, secretKey, timeoutMs, resources: RESOURCES });
    },

    /**
     * Answers one request: its page (kind + 1000) or an error feedback (kind 7000), created at
     * `createdAt` (from the workflow: a retry signs the same event when the data did not change),
     * published to the configured relays and to those the request names.
     */
    async answerDvmJob(q: { id: string; relays: string[]; createdAt: number }): Promise<DvmJobSummary> {
      if (!secretKey) throw ApplicationFailure.nonRetryable('dvm.private_key is empty', BAD_INPUT);
      const request = await fetchRequest(q.id, q.relays);
      if (!request) {
        log.warn('dvm: the request is on none of its relays any more: not answered', { id: q.id, relays: q.relays });
        return { id: q.id, outcome: 'gone', reason: 'the request is on none of the relays it was seen on' };
      }
      const hint = q.relays[0]!;
      const a = await answer(request, hint, q.createdAt);
      const event = finalizeEvent(a.template, secretKey);
      const theirs = request.tags
        .filter((tag) => tag[0] === 'relays')
        .flatMap((tag) => tag.slice(1))
        .slice(0, MAX_REQUEST_RELAYS)
        .map((u) => target(u, false))
        .filter((t): t is Target => 'url' in t);
      const targets = [...new Map([...configuredTargets(), ...theirs].map((t) => [t.url, t])).values()];
      const published = await publish(event, targets);
      if (published.accepted === 0) throw new DvmPublishError(`no relay took the answer to ${q.id}: ${published.errors?.join('; ') ?? 'no relay to publish to'}`);
      log.info('dvm: request answered', { id: q.id, outcome: a.error ? 'error' : 'result', resource: a.resource, items: a.items, accepted: published.accepted, targets: published.targets });
      return a.error
        ? { id: q.id, outcome: 'error', reason: a.error, resource: a.resource, published }
        : { id: q.id, outcome: 'result', resource: a.resource, items: a.items, more: a.more, published };
    },
  };
};

export type DvmActivities = ReturnType<typeof createDvmActivities>;

function isPage(v: unknown): v is { items: unknown[]; next: string | null } {
  return typeof v === 'object' && v !== null && Array.isArray((v as { items?: unknown }).items) && 'next' in v;
}
