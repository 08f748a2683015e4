// The Monitor's check of one relay, on its network's task queue (workflows/monitor.ts,
// monitorRelay): NIP-11 and the NIP-66 checks, every result and every outcome stored.
import { isIP } from 'node:net';
import { cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { hexToBytes } from 'nostr-tools/utils';
import { finalizeEvent, getPublicKey } from 'nostr-tools/pure';
import { minePow } from 'nostr-tools/nip13';
import type { MonitorCheck, MonitorSummary, Network } from '../../common/index.js';
import { FOREIGN_KEY_VIOLATION, isDataError, type Db } from '../db/db.js';
import { fetchNip11 } from '../relay/nip11.js';
import { openRelay, probeRead, probeWrite, RelayError, type ReadProbe } from '../relay/relay-socket.js';
import type { NetworkContext } from '../shared/network-context.js';
import { boundedLabel, metrics } from '../shared/metrics.js';
import { stableReason, storeChecks, type CheckName, type CheckOutcome, type MetadataRow } from '../db/metadata.js';
import { checkDns, checkTls, GeoIp } from './nip66-checks.js';

/** The write probe's event: replaceable (NIP-78 app data), so probing does not pile events up on relays. */
const WRITE_PROBE_KIND = 30078;
/** Proof of work above this many bits costs more than a probe is worth: the write probe is skipped. */
const MAX_PROBE_POW = 24;
/** The checks that ride on the Monitor's WebSocket connection. */
const SOCKET_CHECKS = ['open', 'read', 'write', 'http'] as const satisfies readonly MonitorCheck[];
/** Failure codes that are ours, not the relay's (cancelled; a check switched off; no proxy): not recorded as outcomes. */
const NOT_THE_RELAY = new Set(['aborted', 'off', 'no-proxy']);

export const createCheckActivities = ({ config, network, db, timeout, agent, unreachable, guard }: NetworkContext) => {
  const m = config.monitor;
  const secretKey = m.private_key ? hexToBytes(m.private_key) : undefined;
  let geoip: Promise<GeoIp> | undefined;
  const geo = () =>
    (geoip ??= GeoIp.open({ city: m.geoip_city || undefined, asn: m.geoip_asn || undefined }));

  const activities = {
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
        const r = await fetchNip11(url, { timeoutMs: timeout, maxBytes: m.nip11_max_bytes, maxRedirects: 3, agent, signal, guard });
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
          conn = await openRelay(url, { timeoutMs: timeout, agent, signal, guard });
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
        const r = await checkTls(host, Number(port || 443), { timeoutMs: timeout, servername: isIP(host) ? undefined : host, signal, guard });
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
        summary.stored = await storeOrRecordRefusal(db, rows, outcomes, (check, reason) => {
          summary.ok = summary.ok.filter((c) => c !== check);
          summary.failed[check] = `${UNSTORABLE}: ${reason}`;
        });
      } catch (err) {
        // The relay left the relay table while it was checked: nothing to store it under, and no
        // retry could (the workflow retries other faults, a database outage above all, until they pass).
        if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw err;
        summary.failed.store = 'gone: the relay is no longer in the relay table';
      }
      // Counted as stored (an unstorable check as failed), once whatever the attempts before.
      for (const o of outcomes) {
        metrics.monitorChecks.inc({ check: o.check, outcome: o.outcome, code: o.outcome === 'ok' ? '' : boundedLabel('bigbrotr_monitor_checks_total', o.code ?? '') });
      }
      const rttRow = rows.find((r) => r.type === 'nip66_rtt')?.payload as Record<string, number> | undefined;
      if (rttRow) summary.rtt = { open: rttRow.rtt_open, read: rttRow.rtt_read, write: rttRow.rtt_write };
      return summary;
    },
  };
  return {
    /** checkRelay, timed and counted by its verdict (as workflows/monitor.ts judges it; error: it threw). */
    async checkRelay(q: Parameters<typeof activities.checkRelay>[0]): Promise<MonitorSummary> {
      const end = metrics.monitorCheckDuration.startTimer({ network });
      let verdict = 'error';
      try {
        const s = await activities.checkRelay(q);
        verdict = s.failed.network !== undefined ? 'unserved' : s.failed.open !== undefined || s.ok.length === 0 ? 'down' : 'up';
        return s;
      } finally {
        if (verdict !== 'unserved') end();
        metrics.monitorRelaysChecked.inc({ network, verdict });
      }
    },
  };
};


/** The failure code of a check whose result or outcome PostgreSQL refused (a data error). */
const UNSTORABLE = 'unstorable';

/** The checks whose result each document type holds. */
const DOCUMENT_CHECKS: Record<MetadataRow['type'], CheckName[]> = {
  nip11: ['nip11'], nip66_rtt: ['open', 'read', 'write'], nip66_ssl: ['ssl'], nip66_dns: ['dns'],
  nip66_geo: ['geo'], nip66_net: ['net'], nip66_http: ['http'],
};

/**
 * storeChecks; if PostgreSQL refuses the data (isDataError), each document with its checks'
 * outcomes is stored alone, and a part refused again becomes a failed check 'unstorable' with
 * PostgreSQL's message (`outcomes` changed in place, `refused` told). A retry would meet the same
 * refusal for ever; outages and 23503 (relay gone) still throw. Returns the snapshots stored.
 */
async function storeOrRecordRefusal(
  db: Db, rows: MetadataRow[], outcomes: CheckOutcome[], refused: (check: CheckName, reason: string) => void,
): Promise<number> {
  try {
    return (await storeChecks(db, rows, outcomes)).snapshots;
  } catch (err) {
    if (!isDataError(err)) throw err;
    log.warn('PostgreSQL refused a check\'s data: its parts are stored one by one', { relay: rows[0]?.relayUrl ?? outcomes[0]?.relayUrl, error: (err as Error).message });
  }
  // Parts: each document with the outcomes of its checks, then each outcome left on its own.
  const parts: Array<{ rows: MetadataRow[]; outcomes: CheckOutcome[] }> = [];
  const taken = new Set<CheckOutcome>();
  for (const row of rows) {
    const mine = outcomes.filter((o) => !taken.has(o) && DOCUMENT_CHECKS[row.type].includes(o.check));
    mine.forEach((o) => taken.add(o));
    parts.push({ rows: [row], outcomes: mine });
  }
  for (const o of outcomes) if (!taken.has(o)) parts.push({ rows: [], outcomes: [o] });
  let stored = 0;
  for (const part of parts) {
    try {
      stored += (await storeChecks(db, part.rows, part.outcomes)).snapshots;
    } catch (err) {
      if (!isDataError(err)) throw err;
      const reason = `PostgreSQL refused it: ${(err as Error).message}`;
      const failed = part.outcomes.map((o): CheckOutcome => ({ relayUrl: o.relayUrl, check: o.check, generatedAt: o.generatedAt, outcome: 'failed', code: UNSTORABLE, reason: stableReason(reason, o.relayUrl) }));
      for (const f of failed) {
        outcomes[outcomes.findIndex((o) => o.check === f.check)] = f;
        refused(f.check, reason);
      }
      // Stored without its document; refused again (not expected: our own texts), it is left out.
      await storeChecks(db, [], failed).catch((again: unknown) => {
        if (!isDataError(again)) throw again;
        log.warn('PostgreSQL refused an unstorable check\'s outcome: not stored', { relay: failed[0]?.relayUrl, error: (again as Error).message });
      });
    }
  }
  return stored;
}

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
