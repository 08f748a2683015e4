// Activities that talk to relays, one set per network: each runs on its network's task queue
// (common/networks.ts), built with that network's timeout and SOCKS5 proxy.
import { isIP } from 'node:net';
import { ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { hexToBytes } from 'nostr-tools/utils';
import { finalizeEvent, getPublicKey } from 'nostr-tools/pure';
import { minePow } from 'nostr-tools/nip13';
import {
  addEventCounts, RELAY_GONE, UNKNOWN_RELAY, type MonitorCheck, type MonitorSummary, type Network, type ProbeOutcome, type RelayKnowledge, type SpanQuery,
  type SpanResult,
} from '../common/index.js';
import type { Config } from '../workers/config.js';
import type { Db } from './db.js';
import { stableReason, storeChecks, storeMetadata, type CheckName, type CheckOutcome, type MetadataRow } from './metadata.js';
import { fetchNip11, type Nip11Document } from './nip11.js';
import { NegentropyError } from './negentropy.js';
import { checkDns, checkTls, GeoIp } from './nip66-checks.js';
import { openRelay, probeRead, probeWrite, RelayError, socksAgent, type ReadProbe, type RelayConnection } from './relay-socket.js';
import { fillGaps, noteRefusal, openGaps, recordGaps, storedNip11 } from './sync-records.js';
import { syncSpan, type RelayIo } from './sync-span.js';
import { connectionReader, negentropyWindow } from './sync-window.js';

export interface NetworkDeps {
  config: Config;
  network: Network;
  db: Db;
}

/** The write probe's event: replaceable (NIP-78 app data), so probing does not pile events up on relays. */
const WRITE_PROBE_KIND = 30078;
/** Proof of work above this many bits costs more than a probe is worth: the write probe is skipped. */
const MAX_PROBE_POW = 24;
/** A relay with no NIP-11 stored has it fetched by its sync at most this often. */
const NIP11_REFETCH_MS = 86_400_000;

/** The checks that ride on the Monitor's WebSocket connection. */
const SOCKET_CHECKS = ['open', 'read', 'write', 'http'] as const satisfies readonly MonitorCheck[];
/** Failure codes that are ours, not the relay's (cancelled; a check switched off; no proxy): not recorded as outcomes. */
const NOT_THE_RELAY = new Set(['aborted', 'off', 'no-proxy']);

/** PostgreSQL's SQLSTATE for a foreign key violation. */
const FOREIGN_KEY_VIOLATION = '23503';

export const createNetworkActivities = ({ config, network, db }: NetworkDeps) => {
  const { timeout, proxy } = config.networks[network];
  const agent = proxy ? socksAgent(proxy) : undefined;
  const unreachable = network !== 'clearnet' && !agent ? `no SOCKS5 proxy is configured for ${network} (networks.${network}.proxy)` : undefined;
  const m = config.monitor;
  const secretKey = m.private_key ? hexToBytes(m.private_key) : undefined;
  let geoip: Promise<GeoIp> | undefined;
  /** NIP-42: the Synchronizer's own key, else the Monitor's. */
  const syncKey = config.synchronizer.private_key ? hexToBytes(config.synchronizer.private_key) : secretKey;
  const geo = () =>
    (geoip ??= GeoIp.open({ city: m.geoip_city || undefined, asn: m.geoip_asn || undefined }));

  return {
    /**
     * The Validator's probe: open the WebSocket and send a REQ with `limit: 1`. A relay that
     * answers as NIP-01 says (EOSE after zero or more EVENTs) or asks for NIP-42 authentication
     * (AUTH, or CLOSED "auth-required:") is valid; a NOTICE alone, another CLOSED, silence or a
     * failed connection is not. A dead relay is an answer, not an error: it is returned.
     */
    async probeRelay(q: { url: string; network: Network }): Promise<ProbeOutcome> {
      const { url } = q;
      if (q.network !== network) throw new Error(`a ${q.network} relay was sent to the ${network} queue: ${url}`);
      if (unreachable) return { url, verdict: 'skipped', reason: unreachable };
      let conn;
      try {
        conn = await openRelay(url, { timeoutMs: timeout, agent, signal: cancellationSignal(), guard: { allowLocal: config.relay_url.allow_local } });
      } catch (err) {
        if (err instanceof RelayError) return { url, verdict: 'invalid', reason: `${err.code}: ${err.message}` };
        throw err;
      }
      try {
        const read = await probeRead(conn, { timeoutMs: timeout });
        const valid = read.answer === 'eose' || read.answer === 'auth' || read.answer === 'auth-required';
        return { url, verdict: valid ? 'valid' : 'invalid', reason: describeRead(read), rttOpenMs: conn.rttOpenMs };
      } catch (err) {
        if (err instanceof RelayError) return { url, verdict: 'invalid', reason: `${err.code}: ${err.message}`, rttOpenMs: conn.rttOpenMs };
        throw err;
      } finally {
        conn.close();
      }
    },

    /**
     * The Monitor's health check of one relay (NIP-11 and NIP-66): NIP-11 first, since its
     * `min_pow_difficulty` sets the write probe's proof of work; the rest at once. Every result
     * is stored, content-addressed, in one call, and so is each check's outcome (relay_check:
     * ok, failed with a code and a reason, or absent); the workflow gets only a summary.
     */
    async checkRelay(q: { url: string; network: Network; generatedAt: number; checks: MonitorCheck[] }): Promise<MonitorSummary> {
      const { url, generatedAt } = q;
      const checks = new Set(q.checks);
      const summary: MonitorSummary = { url, ok: [], failed: {}, stored: 0 };
      if (unreachable) {
        summary.failed.network = unreachable;
        return summary;
      }
      const signal = cancellationSignal();
      const rows: MetadataRow[] = [];
      const outcomes: CheckOutcome[] = [];
      const keep = (type: MetadataRow['type'], payload: unknown) => rows.push({ relayUrl: url, type, generatedAt, payload });
      const ok = (c: CheckName) => {
        summary.ok.push(c);
        outcomes.push({ relayUrl: url, check: c, generatedAt, outcome: 'ok' });
      };
      const failed = (c: CheckName, code: string, reason: string) => {
        summary.failed[c] = `${code}: ${reason}`;
        // Our own cancellation, or a setting of ours, says nothing of the relay: not recorded.
        if (!NOT_THE_RELAY.has(code)) outcomes.push({ relayUrl: url, check: c, generatedAt, outcome: 'failed', code, reason: stableReason(reason, url) });
      };
      // Nothing to check, and not a failure of the relay: recorded, but neither ok nor failed.
      const absent = (c: CheckName, code: string, reason: string) =>
        outcomes.push({ relayUrl: url, check: c, generatedAt, outcome: 'absent', code, reason: stableReason(reason, url) });

      let powBits = 0;
      if (checks.has('nip11')) {
        const r = await fetchNip11(url, { timeoutMs: timeout, maxBytes: m.nip11_max_bytes, maxRedirects: 3, agent, signal, guard: { allowLocal: config.relay_url.allow_local } });
        if (r.ok) {
          keep('nip11', r.document);
          ok('nip11');
          powBits = r.document.limitation?.min_pow_difficulty ?? 0;
        } else if (noNip11(r.code, r.reason)) absent('nip11', r.code, r.reason);
        else failed('nip11', r.code, r.reason);
      }
      heartbeat();

      const { hostname, port, protocol } = new URL(url);
      const host = hostname.replace(/^\[|\]$/g, '');
      const wantsSocket = SOCKET_CHECKS.some((c) => checks.has(c));
      await Promise.all([
        wantsSocket ? socketChecks() : undefined,
        network === 'clearnet' && protocol === 'wss:' && checks.has('ssl') ? sslCheck() : undefined,
        network === 'clearnet' && (checks.has('dns') || checks.has('geo') || checks.has('net')) ? addressChecks() : undefined,
      ]);

      async function socketChecks() {
        let conn;
        try {
          conn = await openRelay(url, { timeoutMs: timeout, agent, signal, guard: { allowLocal: config.relay_url.allow_local } });
        } catch (err) {
          if (!(err instanceof RelayError)) throw err;
          // Nothing rides on a connection that did not open: each socket check failed, as it did.
          for (const c of SOCKET_CHECKS) if (checks.has(c)) failed(c, err.code, err.message);
          return;
        }
        // The open succeeded: its RTT is kept whatever the read or the write does next.
        const rtt: Record<string, unknown> = { rtt_open: conn.rttOpenMs };
        ok('open');
        // The checks not yet done when the socket fails fail with its reason (the one it broke in first).
        const pending = new Set(['read', 'write'].filter((c) => checks.has(c as MonitorCheck)) as CheckName[]);
        try {
          if (checks.has('http')) {
            const header = (name: string) => [conn.upgradeHeaders[name]].flat()[0];
            const http = { server: header('server'), powered_by: header('x-powered-by') };
            if (http.server || http.powered_by) keep('nip66_http', http);
            ok('http');
          }
          if (checks.has('read')) {
            const read = await probeRead(conn, { timeoutMs: timeout });
            pending.delete('read');
            rtt.read_answer = read.answer;
            if (read.rttReadMs !== undefined && (read.answer === 'eose')) {
              rtt.rtt_read = read.rttReadMs;
              ok('read');
            } else failed('read', readCode(read), read.message ?? 'no EVENT or EOSE');
          }
          if (checks.has('write')) {
            if (!secretKey) {
              pending.delete('write');
              failed('write', 'off', 'no monitor key is configured (monitor.private_key)');
            } else if (powBits > MAX_PROBE_POW) {
              pending.delete('write');
              failed('write', 'pow', `the relay asks for ${powBits} bits of proof of work (at most ${MAX_PROBE_POW} are spent on a probe)`);
            } else {
              const template = { kind: WRITE_PROBE_KIND, created_at: Math.floor(Date.now() / 1000), tags: [['d', 'bigbrotr-rtt-probe']], content: `rtt probe ${generatedAt}` };
              const mined = powBits > 0 ? minePow({ ...template, pubkey: getPublicKey(secretKey) }, powBits) : template;
              const event = finalizeEvent(mined, secretKey);
              const w = await probeWrite(conn, event, { timeoutMs: timeout });
              pending.delete('write');
              rtt.write_accepted = w.accepted;
              rtt.write_message = w.message;
              rtt.write_read_back = w.readBack;
              // Written means accepted and served back by id: a relay that says OK and drops the event did not store it.
              if (w.accepted && w.readBack && w.rttWriteMs !== undefined) {
                rtt.rtt_write = w.rttWriteMs;
                ok('write');
              } else if (w.accepted) failed('write', 'lost', 'accepted the event but did not serve it back by id');
              else failed('write', refusalCode(w.message), w.message ?? 'refused the event');
            }
          }
        } catch (err) {
          if (!(err instanceof RelayError)) throw err;
          for (const c of pending) failed(c, err.code, err.message);
          if (pending.size === 0) summary.failed.socket = `${err.code}: ${err.message}`;
        } finally {
          keep('nip66_rtt', rtt);
          conn.close();
        }
      }

      async function sslCheck() {
        const r = await checkTls(host, Number(port || 443), { timeoutMs: timeout, servername: isIP(host) ? undefined : host, signal, guard: { allowLocal: config.relay_url.allow_local } });
        if (!r.ok) return failed('ssl', r.code, r.reason);
        const { ms: _, ok: __, ...cert } = r;
        keep('nip66_ssl', cert);
        ok('ssl');
      }

      async function addressChecks() {
        let ip: string | undefined = isIP(host) ? host : undefined;
        if (!ip) {
          const r = await checkDns(host, { timeoutMs: timeout });
          if (!r.ok) {
            // No address, so no geo or net either: each asked for (and with its database) fails with the lookup's reason.
            const runs = { dns: true, geo: !!m.geoip_city, net: !!m.geoip_asn };
            const asked = (['dns', 'geo', 'net'] as const).filter((c) => checks.has(c) && runs[c]);
            for (const c of asked.length ? asked : (['dns'] as const)) failed(c, r.code, r.reason);
            return;
          }
          const { ms: _, ok: __, ...dns } = r;
          if (checks.has('dns')) {
            keep('nip66_dns', dns);
            ok('dns');
          }
          ip = r.a[0] ?? r.aaaa[0];
        }
        if (!ip || !(m.geoip_city || m.geoip_asn)) return;
        const g = await geo();
        if (checks.has('geo') && m.geoip_city) {
          const where = g.geo(ip);
          if (where) {
            keep('nip66_geo', where);
            ok('geo');
          } else failed('geo', 'unknown', `${ip} is in no network of the city database`);
        }
        if (checks.has('net') && m.geoip_asn) {
          keep('nip66_net', g.net(ip));
          ok('net');
        }
      }

      try {
        summary.stored = (await storeChecks(db, rows, outcomes)).snapshots;
      } catch (err) {
        // The relay left the relay table while it was checked: nothing to store it under, and no
        // retry could (the workflow retries other faults, a database outage above all, until they pass).
        if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw err;
        summary.failed.store = 'gone: the relay is no longer in the relay table';
      }
      const rttRow = rows.find((r) => r.type === 'nip66_rtt')?.payload as Record<string, number> | undefined;
      if (rttRow) summary.rtt = { open: rttRow.rtt_open, read: rttRow.rtt_read, write: rttRow.rtt_write };
      return summary;
    },

    /**
     * The Synchronizer's windows of one relay from the cursor towards `q.target` (see
     * sync-span.ts), over one connection, each archived (verified, with this relay as a source)
     * and proven complete before the next is asked; returns the cursor reached, the counts and
     * what it learned of the relay. The relay's NIP-11 comes first (the Monitor's stored document,
     * or fetched and stored here when there is none): its max_limit bounds the REQs and its
     * supported_nips say whether to offer NIP-77. A relay that does not finish a window (no EOSE,
     * closes, garbage) throws: Temporal retries the activity with backoff, from the last complete
     * window. A relay that refuses to be read (NIP-42) is an answer: `refused`, recorded in
     * sync_refusal. Re-running a window rewrites the same rows.
     */
    async syncWindows(q: SpanQuery): Promise<SpanResult> {
      if (unreachable) throw new Error(unreachable);
      const k: RelayKnowledge = { ...UNKNOWN_RELAY, ...q.relay };
      const signal = cancellationSignal();
      const cursor = await learnNip11(q.url, k, signal) ? Math.min(q.cursor, k.auditCursor) : q.cursor;
      const open = () => openRelay(q.url, { timeoutMs: timeout, agent, signal, perMessageDeflate: k.negentropy === 'yes', guard: { allowLocal: config.relay_url.allow_local } });
      let conn: RelayConnection | undefined;
      const connection = async () => {
        conn ??= await open();
        return conn;
      };
      const reopen = async () => {
        conn?.close();
        conn = await open();
      };
      const io: RelayIo = {
        async reader(counts, knowledge, beat) {
          const c = await connection();
          c.discardQueued(); // what the last window left (a NOTICE, a CLOSED for our CLOSE)
          return connectionReader(c, {
            db, url: q.url, timeoutMs: timeout, beat, counts, authKey: syncKey,
            onAuthenticated: () => void (knowledge.authenticated = true),
            async negentropySecond(second) {
              let r;
              try {
                r = await negentropyWindow(c, db, { url: q.url, since: second, until: second, limit: q.limit }, timeout, beat);
              } catch (err) {
                if (!(err instanceof NegentropyError)) throw err;
                r = { supported: false as const, reason: err.message, lasting: true, connectionLost: true };
              }
              if ('supported' in r) {
                if (r.lasting) knowledge.negentropy = 'no';
                knowledge.negentropyCheckedAt = Date.now();
                if (r.connectionLost) {
                  // This reader's connection is gone: the attempt ends, and its retry (which the
                  // heartbeat tells the relay has no NIP-77) reads with REQ alone.
                  beat();
                  throw new RelayError('closed', `${q.url} broke the connection on NEG-OPEN: ${r.reason}`);
                }
                return false;
              }
              knowledge.negentropy = 'yes';
              knowledge.negentropyCheckedAt = Date.now();
              addEventCounts(counts, r);
              counts.unserved = (counts.unserved ?? 0) + (r.unserved ?? 0);
              return r.complete;
            },
          });
        },
        async negentropy(w, beat) {
          const c = await connection();
          c.discardQueued();
          let r;
          try {
            r = await negentropyWindow(c, db, w, timeout, beat);
          } catch (err) {
            // Garbage in its NIP-77 answers says nothing of its REQs: read with REQ on a new connection.
            if (!(err instanceof NegentropyError)) throw err;
            await reopen();
            return { unsupported: err.message, lasting: true };
          }
          if (!('supported' in r)) return r;
          if (r.connectionLost) await reopen();
          return { unsupported: r.reason, lasting: r.lasting };
        },
        recordGaps: (gaps) => recordGaps(db, q.url, gaps),
        openGaps: (limit) => openGaps(db, q.url, limit),
        fillGaps: (seconds) => fillGaps(db, q.url, seconds),
      };
      try {
        const r = await syncSpan({ ...q, cursor, relay: k }, io);
        await noteRefusal(db, q.url, r.refused);
        if (r.refused) log.info('relay refuses to be read', { relay: q.url, reason: r.refused });
        return r;
      } catch (err) {
        // The relay row went while a window was read (its links would point at nothing): no
        // retry can succeed, and the workflow ends as for a relay gone.
        if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
          throw ApplicationFailure.create({ type: RELAY_GONE, message: `${q.url} is no longer in the relay table`, nonRetryable: true });
        }
        throw err;
      } finally {
        conn?.close();
      }
    },
  };

  /**
   * The relay's NIP-11 into what the sync knows of it: the Monitor's latest stored document, else
   * one fetched here (and stored, as the Monitor would) at most once a day. True when a max_limit
   * appeared or changed below the most the relay has sent: the windows since the last audit were
   * taken on a cap it no longer has.
   */
  async function learnNip11(url: string, k: RelayKnowledge, signal: AbortSignal): Promise<boolean> {
    let doc: Nip11Document | null | undefined = await storedNip11(db, url);
    if (doc === undefined && Date.now() - (k.nip11FetchedAt ?? 0) > NIP11_REFETCH_MS) {
      k.nip11FetchedAt = Date.now();
      const r = await fetchNip11(url, { timeoutMs: timeout, maxBytes: m.nip11_max_bytes, maxRedirects: 3, agent, signal, guard: { allowLocal: config.relay_url.allow_local } });
      if (r.ok) {
        doc = r.document;
        await storeMetadata(db, [{ relayUrl: url, type: 'nip11', generatedAt: Math.floor(Date.now() / 1000), payload: r.document }]);
      } else doc = null;
    }
    if (!doc) return false;
    const maxLimit = doc.limitation?.max_limit;
    const cap = Number.isSafeInteger(maxLimit) && maxLimit! > 0 ? maxLimit : undefined;
    const lowered = cap !== undefined && cap !== k.maxLimit && cap < k.largestAnswer;
    k.maxLimit = cap;
    if (lowered) k.largestAnswer = cap;
    // NIP-77 is offered to a relay that lists it, or that has no say (asked once, and the answer remembered).
    if (Array.isArray(doc.supported_nips) && !doc.supported_nips.includes(77) && k.negentropy === 'unknown') {
      k.negentropy = 'no';
      k.negentropyCheckedAt = Date.now();
    }
    return lowered;
  }
};

export type NetworkActivities = ReturnType<typeof createNetworkActivities>;

/**
 * A relay that serves no NIP-11 document (404 or 410, or a 200 that is not JSON: a landing page)
 * has nothing to check: absent, not a failure of the relay.
 */
export function noNip11(code: string, reason: string): boolean {
  if (code === 'content-type' || code === 'not-json') return true;
  return code === 'http-status' && /^HTTP (404|410)\b/.test(reason);
}

/** A failed read probe's code: 'auth-required' for both ways of asking for NIP-42. */
function readCode(r: ReadProbe): string {
  return r.answer === 'auth' ? 'auth-required' : r.answer;
}

/** A refused write's code: the OK message's NIP-01 prefix (auth-required, restricted, blocked, pow, ...), else 'refused'. */
export function refusalCode(message: string | undefined): string {
  return /^([a-z][a-z-]{1,30}):/.exec(message ?? '')?.[1] ?? 'refused';
}

function describeRead(r: ReadProbe): string {
  const text = r.message ? ` "${r.message.slice(0, 200)}"` : '';
  switch (r.answer) {
    case 'eose':
      return `eose: answered a REQ with ${r.events} event(s) and EOSE`;
    case 'auth':
      return `auth: asks for NIP-42 authentication${text}`;
    case 'auth-required':
      return `auth-required: closed the REQ${text}`;
    case 'closed':
      return `closed: closed the REQ${text}`;
    case 'notice-only':
      return `notice-only: answered the REQ with a NOTICE only${text}`;
    case 'timeout':
      return 'timeout: no answer to the REQ';
  }
}
