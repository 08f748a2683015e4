// The Synchronizer's windows of one relay, on its network's sync queue (workflows/sync.ts,
// syncRelay): each archived and proven complete before the cursor moves (sync-span.ts).
import { ApplicationFailure, cancellationSignal, log } from '@temporalio/activity';
import { hexToBytes } from 'nostr-tools/utils';
import { addEventCounts, RELAY_GONE, UNKNOWN_RELAY, type RelayKnowledge, type SpanQuery, type SpanResult } from '../../common/index.js';
import { FOREIGN_KEY_VIOLATION } from '../db/db.js';
import { storeMetadata } from '../db/metadata.js';
import { NegentropyError } from '../relay/negentropy.js';
import { fetchNip11, type Nip11Document } from '../relay/nip11.js';
import { openRelay, RelayError, type RelayConnection } from '../relay/relay-socket.js';
import type { NetworkContext } from '../shared/network-context.js';
import { fillGaps, noteRefusal, openGaps, recordGaps, storedNip11 } from './sync-records.js';
import { syncSpan, type RelayIo } from './sync-span.js';
import { connectionReader, negentropyWindow } from './sync-window.js';

/**
 * A test hook: BIGBROTR_TEST_DIE_READING=<text> kills the worker (SIGKILL, as the kernel's OOM
 * killer would) when it starts reading a relay whose URL contains <text>. Unset in production.
 */
function dieForTest(url: string) {
  const marker = process.env.BIGBROTR_TEST_DIE_READING;
  if (marker && url.includes(marker)) process.kill(process.pid, 'SIGKILL');
}

/** A relay with no NIP-11 stored has it fetched by its sync at most this often. */
const NIP11_REFETCH_MS = 86_400_000;

export const createSyncWindowActivities = ({ config, db, timeout, agent, unreachable, guard }: NetworkContext) => {
  const m = config.monitor;
  /** NIP-42: the Synchronizer's own key, else the Monitor's. */
  const key = config.synchronizer.private_key || m.private_key;
  const syncKey = key ? hexToBytes(key) : undefined;

  return {
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
      dieForTest(q.url);
      const k: RelayKnowledge = { ...UNKNOWN_RELAY, ...q.relay };
      const signal = cancellationSignal();
      const cursor = await learnNip11(q.url, k, signal) ? Math.min(q.cursor, k.auditCursor) : q.cursor;
      const open = () => openRelay(q.url, {
        timeoutMs: timeout, agent, signal, perMessageDeflate: k.negentropy === 'yes', guard,
        maxEventBytes: config.synchronizer.max_event_bytes, maxEventTags: config.synchronizer.max_event_tags,
      });
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
      const r = await fetchNip11(url, { timeoutMs: timeout, maxBytes: m.nip11_max_bytes, maxRedirects: 3, agent, signal, guard });
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
    // NIP-45 COUNT is asked of a relay that lists it (and not of one caught counting short).
    if (Array.isArray(doc.supported_nips) && k.count !== 'untrusted') k.count = doc.supported_nips.includes(45) ? 'yes' : 'no';
    // NIP-77 is offered to a relay that lists it, or that has no say (asked once, and the answer remembered).
    if (Array.isArray(doc.supported_nips) && !doc.supported_nips.includes(77) && k.negentropy === 'unknown') {
      k.negentropy = 'no';
      k.negentropyCheckedAt = Date.now();
    }
    return lowered;
  }
};
