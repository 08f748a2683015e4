// The Monitor's effects on the base queue (workflows/monitor.ts calls them; a relay's check:
// check.ts): its settings, the relays whose workflows the coordinator starts, each relay's ladder
// position into SQL, and what the checks stored published as NIP-66 events signed with the
// monitor's key.
import { log } from '@temporalio/activity';
import { finalizeEvent } from 'nostr-tools/pure';
import { hexToBytes } from 'nostr-tools/utils';
import type { EventTemplate } from 'nostr-tools';
import type { Backoff, CoordinatorSettings, Network } from '../../common/index.js';
import { announcementEvent, discoveryEvent, profileEvent, relayListEvent, type RelayObservation } from './discovery-event.js';
import { openRelay, RelayError, type RelayConnection } from '../relay/relay-socket.js';
import { cancelRelayWorkflows, relayWorkflowPage, type RelayWorkflowRow } from '../shared/relay-workflows.js';
import type { ActivityDeps } from '../shared/deps.js';
import { monitorChecks, monitorWorkflowId } from '../shared/handoff.js';
import { pageByUrl, reachableNetworks, type PageQuery } from '../shared/pages.js';

export interface MonitorSettings extends CoordinatorSettings {
  checks: string[];
  /** A key and target relays are configured: the workflow publishes. */
  publish: boolean;
}

/** One relay's settings for its next check, and whether the relay is still in the relay table. */
export interface MonitorRelaySettings {
  listed: boolean;
  intervalMs: number;
  backoff: Backoff;
  checks: string[];
  publish: boolean;
}

/** A relay's position on the ladder, for SQL (relay_backoff). */
export interface BackoffRecord {
  url: string;
  failures: number;
  step: number;
  waitMs: number;
  /** Unix seconds. */
  changedAt: number;
}

export interface PublishResult {
  /** Target relays that answered OK true, per event. */
  accepted: number;
  targets: number;
  errors: string[];
}

export const createMonitorActivities = ({ db, config }: ActivityDeps) => {
  const m = config.monitor;
  const secretKey = m.private_key ? hexToBytes(m.private_key) : undefined;
  const timeoutMs = config.networks.clearnet.timeout;
  // One connection per target relay for the worker's life: publishing 2,000 events a cycle must
  // not open 2,000 sockets per target.
  const connections = new Map<string, Promise<RelayConnection>>();

  async function publish(templates: EventTemplate[]): Promise<PublishResult> {
    if (!secretKey || m.publish_relays.length === 0) return { accepted: 0, targets: 0, errors: ['publishing is off (monitor.private_key, monitor.publish_relays)'] };
    const events = templates.map((t) => finalizeEvent(t, secretKey));
    const result: PublishResult = { accepted: 0, targets: m.publish_relays.length, errors: [] };
    await Promise.all(
      m.publish_relays.map(async (target) => {
        for (const event of events) {
          try {
            const ok = await sendEvent(target, event);
            if (ok.accepted) result.accepted++;
            else result.errors.push(`${target}: ${ok.message}`);
          } catch (err) {
            connections.delete(target); // a broken connection is opened again next time
            result.errors.push(`${target}: ${err instanceof RelayError ? `${err.code}: ${err.message}` : (err as Error).message}`);
            return;
          }
        }
      }),
    );
    if (result.errors.length) log.warn('publishing failed at some relays', { errors: result.errors.slice(0, 5) });
    return result;
  }

  async function sendEvent(target: string, event: ReturnType<typeof finalizeEvent>): Promise<{ accepted: boolean; message: string }> {
    let conn = connections.get(target);
    if (!conn) {
      conn = openRelay(target, { timeoutMs });
      connections.set(target, conn);
    }
    const c = await conn;
    c.send(['EVENT', event]);
    return c.next((msg) => (msg[0] === 'OK' && msg[1] === event.id ? { accepted: msg[2] === true, message: String(msg[3] ?? '') } : undefined), timeoutMs);
  }

  return {
    async monitorSettings(): Promise<MonitorSettings> {
      return {
        // The coordinator's pass (each relay's workflow waits m.interval itself); the one-check
        // passes of earlier versions read it as their interval, which their histories replay.
        intervalMs: m.pass_interval,
        pageSize: m.page_size,
        maxInFlight: m.max_in_flight,
        networks: reachableNetworks(config),
        ...monitorChecks(config),
      };
    },

    /** The next relays after `after`, in URL order (the one-check passes of earlier versions). */
    async relayPage(q: PageQuery) {
      return pageByUrl(db, 'relay', q);
    },

    /** A page of relays, each with what the coordinator does with its Monitor workflow (relay-workflows.ts). */
    async monitorPage(q: PageQuery & { runningSince: number }): Promise<RelayWorkflowRow[]> {
      return relayWorkflowPage(db, monitorWorkflowId, q);
    },

    /** The coordinator was cancelled: cancel every relay's Monitor workflow. */
    async stopMonitors(): Promise<{ cancelled: number }> {
      return cancelRelayWorkflows(db, config, monitorWorkflowId, 'monitor');
    },

    async monitorRelaySettings(q: { url: string }): Promise<MonitorRelaySettings> {
      const { rows } = await db.query(`SELECT 1 FROM relay WHERE url = $1::text`, [q.url]);
      return { listed: rows.length > 0, intervalMs: m.interval, backoff: { after: m.backoff.after, ladderMs: m.backoff.ladder }, ...monitorChecks(config) };
    },

    /** The relay's ladder position into SQL; a relay gone from the relay table meanwhile is left out. */
    async recordBackoff(b: BackoffRecord): Promise<void> {
      await db.query(
        `INSERT INTO relay_backoff (relay_url, failures, step, wait_ms, changed_at)
         SELECT url, $2::int, $3::int, $4::bigint, $5::bigint FROM relay WHERE url = $1::text
         ON CONFLICT (relay_url) DO UPDATE SET failures = excluded.failures, step = excluded.step, wait_ms = excluded.wait_ms,
           changed_at = CASE WHEN relay_backoff.step = excluded.step THEN relay_backoff.changed_at ELSE excluded.changed_at END`,
        [b.url, b.failures, b.step, b.waitMs, b.changedAt],
      );
    },

    /** The monitor's kind 10166 announcement, kind 0 profile and kind 10002 relay list. */
    async publishAnnouncement(): Promise<PublishResult> {
      const now = Math.floor(Date.now() / 1000);
      const timeouts = Object.fromEntries(m.checks.map((c) => [c, timeoutMs]));
      return publish([
        announcementEvent({ frequencySec: Math.round(m.interval / 1000), checks: m.checks, timeouts }, now),
        profileEvent(m.profile, now),
        relayListEvent(m.publish_relays, now),
      ]);
    },

    /** The relay's kind 30166 event, from the documents the check stored at `generatedAt`. */
    async publishDiscovery(q: { url: string; network: Network; generatedAt: number }): Promise<PublishResult> {
      const { rows } = await db.query<{ metadata_type: string; payload: Record<string, unknown> }>(
        `SELECT rm.metadata_type, m.payload FROM relay_metadata rm JOIN metadata m ON m.id = rm.metadata_id
         WHERE rm.relay_url = $1::text AND rm.generated_at = $2::bigint`,
        [q.url, q.generatedAt],
      );
      const doc = (type: string) => rows.find((r) => r.metadata_type === type)?.payload as never;
      const observation: RelayObservation = {
        url: q.url,
        network: q.network,
        nip11: doc('nip11'),
        rtt: doc('nip66_rtt'),
        ssl: doc('nip66_ssl'),
        dns: doc('nip66_dns'),
        geo: doc('nip66_geo'),
        net: doc('nip66_net'),
        http: doc('nip66_http'),
      };
      return publish([discoveryEvent(observation, Math.floor(Date.now() / 1000))]);
    },
  };
};

export type MonitorActivities = ReturnType<typeof createMonitorActivities>;
