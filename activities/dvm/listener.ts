// One relay's DVM listener: a subscription to the job kind, held for a round, that starts one job
// workflow per request for this DVM (ID dvm-job/<request id>, never reused: a request that arrives
// again, from another relay or after a restart, is a duplicate and starts nothing).
//
// It heartbeats where it stands (`since`: the last moment it knew itself caught up, and its
// counts), so an attempt that follows a dropped relay, a crashed worker or a restart subscribes
// again from there: Temporal's retry policy is the reconnect with backoff (workflows/dvm.ts).
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:http';
import { activityInfo, cancellationSignal, CancelledFailure, heartbeat, log } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Event } from 'nostr-tools';
import { DVM_SINCE_SLACK_SEC, dvmJobWorkflowId, ZERO_LISTEN_COUNTS, type DvmJobInput, type DvmListenCounts, type DvmListenRound } from '../../common/dvm.js';
import { authenticate, openRelay, RelayError, type RelayConnection } from '../relay/relay-socket.js';
import { temporalClient } from '../shared/handoff.js';
import { judge, safeVerify } from './request.js';

/** Longest wait for a message between two heartbeats. */
const BEAT_MS = 5000;
/** After its round, how long a listener still waits for the relay's EOSE (a catch-up after downtime) before it gives up on it. */
const EOSE_GRACE_MS = 60_000;

/** What a listener's heartbeats carry: where a retry resumes. */
interface Progress {
  since: number;
  /** When the round ends (ms), fixed at its first attempt. */
  until: number;
  counts: DvmListenCounts;
}

/** A relay that ended our subscription (CLOSED): retried, as a drop is. */
export class DvmSubscriptionClosed extends Error {
  override name = 'DvmSubscriptionClosed';
}

export interface ListenOptions {
  url: string;
  agent?: Agent;
  kind: number;
  pubkey: string;
  secretKey?: Uint8Array;
  timeoutMs: number;
  resources: readonly string[];
  since?: number;
  roundMs: number;
}

export async function listen(o: ListenOptions): Promise<DvmListenRound> {
  const info = activityInfo();
  const resumed = info.heartbeatDetails as Progress | undefined;
  const nowSec = () => Math.floor(Date.now() / 1000);
  const p: Progress = {
    since: resumed?.since ?? o.since ?? nowSec() - DVM_SINCE_SLACK_SEC,
    until: resumed?.until ?? Date.now() + o.roundMs,
    counts: { ...ZERO_LISTEN_COUNTS, ...resumed?.counts },
  };
  const client = temporalClient();
  if (!client) throw new Error('the DVM listener needs the worker\'s Temporal client (it runs in a worker only)');
  const signal = cancellationSignal();
  const seen = new Set<string>(); // within this attempt: a relay sending one event twice costs no second start
  heartbeat(p);

  let conn: RelayConnection | undefined;
  try {
    conn = await openRelay(o.url, { timeoutMs: o.timeoutMs, agent: o.agent, signal });
    const sub = `dvm-${randomBytes(6).toString('hex')}`;
    const subscribe = () => conn!.send(['REQ', sub, { kinds: [o.kind], since: p.since }]);
    subscribe();
    let caughtUpAt: number | undefined; // EOSE: everything stored until then has been sent
    let authed = false;
    const ours = (m: unknown[]) => ((m[0] === 'EVENT' || m[0] === 'EOSE' || m[0] === 'CLOSED') && m[1] === sub) || m[0] === 'NOTICE' ? m : undefined;
    for (;;) {
      const now = Date.now();
      if (caughtUpAt !== undefined) p.since = Math.max(p.since, nowSec() - DVM_SINCE_SLACK_SEC);
      heartbeat(p);
      if (now >= p.until && (caughtUpAt !== undefined || now >= p.until + EOSE_GRACE_MS)) break;
      let m: unknown[];
      try {
        m = await conn.next(ours, now < p.until ? Math.min(BEAT_MS, p.until - now) : BEAT_MS);
      } catch (err) {
        if (err instanceof RelayError && err.code === 'timeout') continue;
        throw err;
      }
      if (m[0] === 'EOSE') caughtUpAt ??= nowSec();
      else if (m[0] === 'NOTICE') log.info('dvm: relay notice', { relay: o.url, notice: String(m[1]).slice(0, 200) });
      else if (m[0] === 'CLOSED') {
        const why = typeof m[2] === 'string' ? m[2] : '';
        // NIP-42: a relay that serves authenticated readers only; the DVM's key answers its challenge once.
        if (why.startsWith('auth-required:') && o.secretKey && !authed) {
          authed = true;
          const a = await authenticate(conn, o.secretKey, { timeoutMs: o.timeoutMs });
          if (a.ok) {
            subscribe();
            continue;
          }
          throw new DvmSubscriptionClosed(`${o.url} asks for authentication and refused ours: ${a.reason}`);
        }
        throw new DvmSubscriptionClosed(`${o.url} closed the DVM's subscription: ${why.slice(0, 200)}`);
      } else await onEvent(m[2] as Event);
    }
    try {
      conn.send(['CLOSE', sub]);
    } catch {
      // going away anyway
    }
    return { url: o.url, since: p.since, ...p.counts };
  } catch (err) {
    if (signal.aborted) throw new CancelledFailure(`the DVM listener of ${o.url} was cancelled`);
    // Its round is over: the workflow gets the round (and its other relays their next), and the next round tries again.
    if (Date.now() >= p.until && (err instanceof RelayError || err instanceof DvmSubscriptionClosed)) {
      log.warn('dvm: relay unreachable at the end of a round', { relay: o.url, since: p.since, error: err.message });
      return { url: o.url, since: p.since, ...p.counts, down: err.message.slice(0, 300) };
    }
    log.warn('dvm: listener lost its relay; retried from its last heartbeat', { relay: o.url, since: p.since, error: (err as Error).message });
    throw err;
  } finally {
    conn?.close();
  }

  async function onEvent(ev: Event) {
    p.counts.received++;
    if (typeof ev?.id === 'string' && seen.has(ev.id)) return;
    const v = judge(ev, { kind: o.kind, pubkey: o.pubkey, resources: o.resources, verify: safeVerify });
    if (!v.answer) {
      p.counts[v.why]++;
      return;
    }
    seen.add(ev.id);
    p.counts.requests++;
    const input: DvmJobInput = { id: ev.id, relays: [o.url] };
    try {
      await client!.workflow.start('dvmJob', {
        workflowId: dvmJobWorkflowId(ev.id),
        taskQueue: info.taskQueue,
        args: [input],
        // Never a second job for a request answered (for as long as the namespace keeps closed
        // workflows: longer than any listener reaches back); a job that failed every attempt (the
        // database or every relay down for minutes) runs again when a relay delivers the request again.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      });
      p.counts.started++;
      log.info('dvm: job started', { id: ev.id, relay: o.url, requester: ev.pubkey });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      p.counts.duplicates++;
    }
  }
}
