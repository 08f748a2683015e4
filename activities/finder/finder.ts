// The Finder's effects (workflows/finder.ts calls them): scan a page of the archive for relay URLs, ask one relay-list API, and
// store what they find as candidates. Each call returns counts and a cursor, never the data.
import { log } from '@temporalio/activity';
import type { ApiOutcome, EventCursor, FinderSettings, ScanPage } from '../../common/index.js';
import { isLocalHost } from '../relay/address-guard.js';
import { httpGet } from '../relay/http-get.js';
import { harvestEvent, harvestJson, Harvest } from './relay-hints.js';
import type { ActivityDeps } from '../shared/deps.js';
import { insertCandidates } from '../db/store.js';
import { COORDINATOR, temporalClient, wakeCoordinator } from '../shared/handoff.js';

const CHUNK_ROWS = 1000;
const CHUNK_BYTES = 8 * 1024 * 1024;
const JSON_TYPES = /^(application\/([\w.+-]*\+)?json|text\/json|text\/plain)\b/i;

export const createFinderActivities = ({ db, config }: ActivityDeps) => {
  const options = { allowLocal: config.relay_url.allow_local };
  // lilbrotr keeps no tags or content: its scan reads nothing to find (and never fails on it).
  const bigbrotr = config.deployment === 'bigbrotr';
  const tagsColumn = bigbrotr ? 'tags' : `'[]'::jsonb`;
  // Content is read only where relay URLs live in it (kinds 2 and 3).
  const contentColumn = bigbrotr ? 'CASE WHEN kind IN (2, 3) THEN content END' : 'NULL::text';
  const columns = `${tagsColumn} AS tags, ${contentColumn} AS content`;
  const now = () => Math.floor(Date.now() / 1000);

  /**
   * New candidates wake the Validator, so they do not wait for its interval. Best effort: the
   * candidates are stored, and the Validator's next pass takes them up in any case.
   */
  async function wakeValidator(inserted: number): Promise<void> {
    const client = temporalClient();
    if (inserted === 0 || !client) return;
    await wakeCoordinator(client, COORDINATOR.validator).catch((err: Error) => log.warn('could not wake the validator', { error: err.message }));
  }

  return {
    /** The Finder's settings: the config's, for what the workflow input leaves out. */
    async finderSettings(): Promise<FinderSettings> {
      const f = config.finder;
      return { intervalMs: f.interval, pageSize: f.page_size, sources: f.sources, cyclesPerRun: f.cycles_per_run, apis: f.apis.map((a) => a.name) };
    },

    /**
     * One page of archived events after `after`, in (created_at, id) order: relay URLs found in
     * it become candidates, in one call. Re-running a page (a retry after a database error) inserts
     * nothing twice, and the workflow counts a page only once it returns.
     *
     * The page is read in chunks of at most CHUNK_ROWS rows and CHUNK_BYTES of tags and content (as
     * stored, which pg_column_size gives without decompressing),
     * each dropped once harvested: a page of large contact lists costs no more memory than one of
     * short notes, while the workflow still makes one round trip per page.
     */
    async scanEventsPage(q: { after: EventCursor | null; pageSize: number }): Promise<ScanPage> {
      const harvest = new Harvest(options);
      let cursor = q.after;
      let events = 0;
      let done = false;
      while (events < q.pageSize) {
        const limit = Math.min(CHUNK_ROWS, q.pageSize - events);
        const { rows } = await db.query<{ id: Buffer; created_at: string; kind: number; tags: unknown; content: string | null; fetched: string }>(
          `SELECT id, created_at, kind, tags, content, fetched FROM (
             SELECT p.*, count(*) OVER () AS fetched,
                    sum(size) OVER (ORDER BY created_at, id ROWS UNBOUNDED PRECEDING) - size AS before
             FROM (SELECT id, created_at, kind, ${columns},
                          pg_column_size(${tagsColumn}) + coalesce(octet_length(${contentColumn}), 0) AS size
                   FROM event WHERE ($1::bigint IS NULL OR (created_at, id) > ($1::bigint, $2::bytea))
                   ORDER BY created_at, id LIMIT $3::int) AS p
           ) AS chunk
           WHERE before < $4::bigint ORDER BY created_at, id`,
          [cursor?.createdAt ?? null, cursor ? Buffer.from(cursor.id, 'hex') : null, limit, CHUNK_BYTES],
        );
        for (const row of rows) harvestEvent(row, harvest);
        events += rows.length;
        const last = rows.at(-1);
        if (last) cursor = { createdAt: Number(last.created_at), id: last.id.toString('hex') };
        // The end of the archive: fewer rows than asked for were there, and the chunk kept them all.
        const fetched = Number(rows[0]?.fetched ?? 0);
        if (fetched < limit && rows.length === fetched) {
          done = true;
          break;
        }
      }
      const written = await insertCandidates(db, harvest.urls, now(), options);
      await wakeValidator(written.inserted);
      return { events, urls: harvest.seen, distinct: harvest.found.size, inserted: written.inserted, invalid: harvest.invalid, cursor, done };
    },

    /**
     * Asks one configured relay-list API. A source that fails (unreachable, slow, huge, garbage,
     * wrong content type, redirect loop) is an outcome with its reason, not an error: retrying
     * would only hammer it, and the next cycle asks again.
     */
    async fetchRelayList(name: string): Promise<ApiOutcome> {
      const started = Date.now();
      const source = config.finder.apis.find((a) => a.name === name);
      const outcome = (o: Partial<ApiOutcome>): ApiOutcome => ({ name, ok: false, urls: 0, inserted: 0, invalid: 0, ...o, ms: Date.now() - started });
      if (!source) return outcome({ error: `no API named "${name}" in the config` });
      let doc: unknown;
      try {
        const res = await httpGet(source.url, {
          timeoutMs: config.finder.api_timeout,
          maxBytes: config.finder.api_max_bytes,
          maxRedirects: config.finder.api_max_redirects,
          headers: { accept: 'application/json', 'user-agent': 'bigbrotr' },
          // An API the operator configured on a local address is meant; where any API redirects is checked.
          guard: { allowLocal: config.relay_url.allow_local, trustedOrigin: localOrigin(source.url) },
        });
        if (res.status !== 200) return outcome({ error: `HTTP ${res.status}` });
        if (!JSON_TYPES.test(res.contentType)) return outcome({ error: `wrong content type "${res.contentType.slice(0, 100)}" (expected JSON)` });
        doc = JSON.parse(res.body.toString('utf8'));
      } catch (err) {
        const error = err instanceof SyntaxError ? `not JSON: ${err.message}` : (err as Error).message;
        log.warn('relay-list API failed', { name, error });
        return outcome({ error });
      }
      const harvest = new Harvest(options);
      harvestJson(doc, `api:${name}`, harvest);
      const written = await insertCandidates(db, harvest.urls, now(), options);
      await wakeValidator(written.inserted);
      const invalid = Object.values(harvest.invalid).reduce((a, b) => a + b, 0);
      if (harvest.found.size === 0) return outcome({ error: 'no relay URL in the answer', invalid });
      return outcome({ ok: true, urls: harvest.found.size, inserted: written.inserted, invalid });
    },
  };
};

/** The origin of `url` when its host is local by itself (a local IP, `localhost`). */
function localOrigin(url: string): string | undefined {
  const u = new URL(url);
  return isLocalHost(u.hostname) ? u.origin : undefined;
}

export type FinderActivities = ReturnType<typeof createFinderActivities>;
