// What the coordinators of long-lived relay workflows share (the Monitor's `monitor/<url>`, the
// Synchronizer's `sync/<url>`): a look at a page of relays' workflows through the worker's Temporal
// client, and stopping them all when the coordinator is cancelled.
import { getClient, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { inPool, type Network, type RelayWorkflowAction } from '../../common/index.js';
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes.js';
import { temporalClient } from './handoff.js';
import type { Db } from '../db/db.js';
import { pageByUrl, reachableNetworks, type PageQuery } from './pages.js';
import type { Config } from '../../common/config.js';

/** Temporal calls at once when a coordinator looks at a page of relays' workflows. */
const LOOKUPS_IN_FLIGHT = 20;

export interface RelayWorkflowRow {
  url: string;
  network: Network;
  action: RelayWorkflowAction;
  /** The namespace has the relay search attributes: the relay's workflow starts with them. */
  searchAttributes?: true;
}

/** How long a look at the namespace's search attributes is trusted (one per worker, not per page). */
const SEARCH_ATTRIBUTES_TTL_MS = 60_000;
const searchAttributesSeen = new WeakMap<object, Map<string, { ready: boolean; at: number }>>();

/**
 * Whether the client's namespace has every relay search attribute (common/search-attributes.ts):
 * a start naming one it lacks would be refused. Looked at once a minute per worker; a server that
 * cannot say (the time-skipping test server) has none.
 */
export async function searchAttributesReady(client: Client): Promise<boolean> {
  const namespace = client.options.namespace;
  let seenHere = searchAttributesSeen.get(client.connection);
  if (!seenHere) searchAttributesSeen.set(client.connection, (seenHere = new Map()));
  const seen = seenHere.get(namespace);
  if (seen && Date.now() - seen.at < SEARCH_ATTRIBUTES_TTL_MS) return seen.ready;
  let ready = false;
  try {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    ready = SEARCH_ATTRIBUTES.every((k) => customAttributes?.[k.name] !== undefined);
  } catch (err) {
    log.debug('could not list the namespace search attributes: relay workflows start without them', { error: (err as Error).message });
  }
  if (!ready && seen?.ready !== false) log.info('the namespace lacks the relay search attributes: relay workflows start without them (README, "Operating it from the Web UI")', { namespace });
  seenHere.set(namespace, { ready, at: Date.now() });
  return ready;
}

/**
 * The rows of a coordinator's page, each marked when the namespace has the relay search
 * attributes (the coordinator starts the relay's workflow with them). The mark rides in the
 * activity's result, so a replay decides as the run did. Outside a worker: unmarked.
 */
export async function withSearchAttributes<R extends object>(rows: R[], client: Client | undefined = temporalClient()): Promise<(R & { searchAttributes?: true })[]> {
  if (rows.length === 0 || !client || !(await searchAttributesReady(client))) return rows;
  return rows.map((r) => ({ ...r, searchAttributes: true as const }));
}

/**
 * A page of relays, each with what the coordinator should do: start its workflow (none runs),
 * leave it (one runs), or leave it stopped (a person cancelled it since `runningSince`, when this
 * coordinator started: it stays stopped until the coordinator is started again).
 */
export async function relayWorkflowPage(db: Db, workflowId: (url: string) => string, q: PageQuery & { runningSince: number }): Promise<RelayWorkflowRow[]> {
  const rows = await pageByUrl(db, 'relay', q);
  const client = getClient();
  const out: RelayWorkflowRow[] = [];
  await inPool(rows, LOOKUPS_IN_FLIGHT, async (row) => {
    let action: RelayWorkflowAction = 'start';
    try {
      const d = await client.workflow.getHandle(workflowId(row.url)).describe();
      if (d.status.name === 'RUNNING') action = 'running';
      else if (d.status.name === 'CANCELLED' && (d.closeTime?.getTime() ?? 0) >= q.runningSince) action = 'stopped';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    out.push({ ...row, action });
  });
  // the page's order: its last URL is the cursor
  return withSearchAttributes(out.sort((a, b) => (a.url < b.url ? -1 : 1)), client);
}

/**
 * The coordinator was cancelled: cancel every relay's workflow, on every network the config
 * reaches. The networks come from the config here, not from the workflow: a cancel that reaches
 * the coordinator before its settings (right after it continued as new) must stop them all the same.
 */
export async function cancelRelayWorkflows(db: Db, config: Config, workflowId: (url: string) => string, service: string): Promise<{ cancelled: number }> {
  const networks = reachableNetworks(config);
  const client = getClient();
  let after: string | null = null;
  let cancelled = 0;
  for (;;) {
    const rows = await pageByUrl(db, 'relay', { after, limit: 1000, networks });
    await inPool(rows, LOOKUPS_IN_FLIGHT, async ({ url }) => {
      try {
        await client.workflow.getHandle(workflowId(url)).cancel();
        cancelled++;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // never started, or already ended
      }
    });
    heartbeat(cancelled);
    if (rows.length < 1000) break;
    after = rows.at(-1)!.url;
  }
  log.info(`${service} stopped the relays' workflows`, { cancelled });
  return { cancelled };
}
