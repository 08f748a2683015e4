// Every service as an operator drives it from the Web UI (the Finder: web-ui.test.ts): each
// coordinator started from the *Start Workflow* form with JSON input, its `status` query run from
// the Queries tab, `runNow` sent from *Send a Signal*, one relay's workflows found with the search
// bar by RelayUrl and opened from the list, the coordinator cancelled from the UI (its children
// stopped, checked through the client); the Refresher's Schedule on the Schedules page. Headless
// Chromium (playwright-core) drives the dev server's own UI, with the relay search attributes
// registered as `npm start` registers them; real workers with real activities on a fresh database
// serve it, against relays on 127.0.0.1, so nothing leaves the machine.
import { chromiumMissing, openPage } from '../helpers/browser.js';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type WorkflowExecutionStatusName } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Browser, Locator, Page } from 'playwright-core';
import type { CoordinatorStatus, MonitorRelayStatus, SyncStatus } from '../../common/index.js';
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes.js';
import { freePort } from '../../workers/embedded-postgres.js';
import { ensureRefresherSchedule, REFRESHER_SCHEDULE } from '../../workers/schedules.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { createWorkers } from '../../workers/worker.js';
import type { Config } from '../../workers/config.js';
import { localRelayConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/eventually.js';
import { startLocalRelay, type LocalRelay } from '../helpers/local-relay.js';
import { signed } from '../helpers/nostr.js';
import { workflowBundle } from '../helpers/temporal.js';

// As web-ui.test.ts: the README's screenshots are rewritten only on request (UPDATE_SCREENSHOTS=1).
const DOCS = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/', import.meta.url).pathname : `${mkdtempSync(join(tmpdir(), 'bigbrotr-ui-'))}/`;
/** A busy 2-core machine renders a view slowly: every UI wait is a condition with this much time. */
const UI_TIMEOUT = 60_000;
/** A pass, a sync, a cancel through the workers: what the client waits for. */
const WORK_TIMEOUT = 90_000;
const STEP = { timeout: 300_000 };

// Without Chromium: skipped here, a failure in CI.
const noBrowser = chromiumMissing();

describe('Web UI: every service', { skip: noBrowser ?? false }, () => {
  let db: TestDatabase;
  let env: TestWorkflowEnvironment;
  let config: Config;
  let workers: Worker[] = [];
  let running: Promise<unknown> = Promise.resolve();
  let browser: Browser | undefined;
  let page: Page;
  let ui: string;
  /** Two relays in the relay table (A holds events to archive) and a candidate the Validator promotes. */
  let relayA: LocalRelay;
  let relayB: LocalRelay;
  let candidate: LocalRelay;
  const relays = () => [relayA.url, relayB.url, candidate.url];

  before(async () => {
    const events = [1, 2, 3].map((i) => signed({ kind: 1, content: `note ${i}`, created_at: 1_700_000_000 + i }));
    [db, relayA, relayB, candidate] = await Promise.all([freshDatabase(), startLocalRelay({ events }), startLocalRelay(), startLocalRelay()]);
    await db.db.query(`INSERT INTO relay (url, network, discovered_at) SELECT unnest($1::text[]), 'clearnet', 1`, [[relayA.url, relayB.url]]);
    await db.db.query(`INSERT INTO candidate (url, network, source, discovered_at) VALUES ($1::text, 'clearnet', 'seed', 1)`, [candidate.url]);
    config = localRelayConfig(db.url);
    const uiPort = await freePort();
    // The relay search attributes registered as workers/stack-temporal.ts registers them for `npm start`.
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: temporalExecutable('cli'), ui: true, uiPort, ip: '127.0.0.1', searchAttributes: SEARCH_ATTRIBUTES },
    });
    // The production workers: the base queue and each network's check and sync queues.
    workers = await createWorkers({ connection: env.nativeConnection, config, db: db.db, bundle: await workflowBundle() });
    running = Promise.all(workers.map((w) => w.run()));
    ({ browser, page } = await openPage({ timeoutMs: UI_TIMEOUT }));
    ui = `http://127.0.0.1:${uiPort}/namespaces/${config.temporal.namespace}`;
    mkdirSync(DOCS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    for (const w of workers) w.shutdown();
    await running;
    await env?.teardown();
    await Promise.all([relayA, relayB, candidate].map((r) => r?.stop()));
    await db?.drop();
  });

  // ---- what an operator does in the UI ----

  /** *Start Workflow*: ID, task queue, type and JSON input, as the README says. */
  async function startFromUi(workflowId: string, input: string): Promise<void> {
    await page.goto(`${ui}/workflows`);
    await page.getByRole('link', { name: 'Start Workflow' }).click();
    await page.getByRole('textbox', { name: 'Workflow ID' }).fill(workflowId);
    await page.getByRole('textbox', { name: 'Task Queue' }).fill(config.temporal.task_queue);
    await page.getByRole('textbox', { name: 'Workflow Type' }).fill(workflowId);
    const data = page.getByRole('textbox', { name: 'Data' }); // a CodeMirror editor
    await data.fill(input);
    await data.blur(); // leaving it reformats the JSON and moves the button (web-ui.test.ts)
    await page.getByRole('button', { name: 'Start Workflow' }).click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).waitFor();
  }

  /** A workflow's page (its latest run), at its status line. */
  async function openWorkflow(workflowId: string): Promise<void> {
    await page.goto(`${ui}/workflows/${encodeURIComponent(workflowId)}`);
    await page.getByRole('heading', { name: workflowId, level: 1 }).waitFor();
  }

  /** The Queries tab of the open workflow: *Run Query* on `status`; resolves with the result once it holds every text. */
  async function queryStatusInUi(...texts: string[]): Promise<string> {
    await page.getByRole('tab', { name: 'Queries' }).click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    return textHolding(page.getByRole('textbox', { name: 'Query Result' }), texts);
  }

  /** *More Actions → Send a Signal*, the signal picked from those the workflow defines. */
  async function signalInUi(signal: string): Promise<void> {
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByRole('button', { name: 'Select a signal' }).click();
    await dialog.getByRole('option', { name: signal, exact: true }).click();
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await dialog.waitFor({ state: 'hidden' });
  }

  /** *Request Cancellation*, confirmed. */
  async function cancelInUi(): Promise<void> {
    await page.getByRole('button', { name: 'Request Cancellation' }).click();
    await page.getByRole('dialog', { name: 'Cancel Workflow' }).getByRole('button', { name: 'Confirm' }).click();
  }

  /** The workflow list's search bar (the raw query, behind the `</>` button beside *Add Filter*). */
  async function searchInUi(query: string): Promise<void> {
    await page.goto(`${ui}/workflows`);
    const box = page.getByRole('searchbox', { name: 'Enter a query' });
    await page.getByRole('button', { name: 'Add Filter' }).waitFor();
    if (!(await box.isVisible())) await page.getByRole('button', { name: 'Add Filter' }).locator('xpath=following::button[1]').click();
    await box.fill(query);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
  }

  /** A row of the workflow list: its ID's link, in a row showing `status`. */
  function listed(workflowId: string, status: RegExp): Locator {
    return page.getByRole('row').filter({ has: page.getByRole('link', { name: workflowId, exact: true }) }).filter({ hasText: status });
  }

  // ---- what the client sees ----

  async function coordinatorAfter(workflowId: string, cycle: number): Promise<CoordinatorStatus> {
    let status: CoordinatorStatus | undefined;
    await eventually(`${workflowId} to have finished pass ${cycle} and to sleep`, async () => {
      status = await env.client.workflow.getHandle(workflowId).query<CoordinatorStatus>('status').catch(() => undefined);
      return status?.phase === 'sleeping' && status.last?.cycle === cycle;
    }, WORK_TIMEOUT, () => new Promise((r) => setTimeout(r, 250)));
    return status!;
  }

  async function statusOf(workflowId: string): Promise<WorkflowExecutionStatusName | 'NOT FOUND'> {
    return (await env.client.workflow.getHandle(workflowId).describe().catch(() => undefined))?.status.name ?? 'NOT FOUND';
  }

  async function endsCancelled(workflowId: string): Promise<void> {
    const err = await env.client.workflow.getHandle(workflowId).result().then(() => assert.fail(`${workflowId} should end cancelled`), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
  }

  /** The per-relay workflows whose ID starts with `prefix` that still run, through the client's list. */
  async function runningChildren(prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}" AND ExecutionStatus = "Running"` })) ids.push(w.workflowId);
    return ids;
  }

  // ---- the services ----

  it('the Validator: started from the form, status queried, runNow signalled, its child found by RelayUrl, cancelled', STEP, async () => {
    await startFromUi('validator', '{"interval": "1h", "pageSize": 50, "maxInFlight": 5}');
    const first = await coordinatorAfter('validator', 1);
    assert.equal(first.settings?.pageSize, 50, 'the input typed in the UI reached the workflow');
    assert.deepEqual(first.last?.outcomes, { promoted: 1 });

    await openWorkflow('validator');
    await queryStatusInUi('"phase": "sleeping"', '"promoted": 1', '"pageSize": 50');
    await page.screenshot({ path: `${DOCS}web-ui-validator.png`, animations: 'disabled' });

    // runNow cuts the hour's sleep short: the second pass runs now (nothing left to probe).
    await signalInUi('runNow');
    await coordinatorAfter('validator', 2);
    await openWorkflow('validator');
    await queryStatusInUi('"cycle": 2', '"phase": "sleeping"');

    // The candidate's child, found by its URL in the search bar, and opened from the list.
    await searchInUi(`RelayUrl = "${candidate.url}"`);
    await listed(`validate/${candidate.url}`, /completed/i).getByRole('link', { name: `validate/${candidate.url}`, exact: true }).click();
    await page.getByRole('heading', { name: `validate/${candidate.url}`, level: 1 }).waitFor();
    await page.getByRole('tab', { name: 'Search Attributes' }).click();
    await textHolding(page.getByRole('textbox', { name: 'Search Attributes' }), [`"RelayUrl": "${candidate.url}"`, '"RelayNetwork": "clearnet"', '"BigBrotrService": "validator"']);

    await openWorkflow('validator');
    await cancelInUi();
    await endsCancelled('validator');
    await page.getByTestId('execution-status').filter({ hasText: /cancel/i }).waitFor();
    assert.deepEqual(await runningChildren('validate/'), [], 'no validate/<url> runs after the cancel');
    assert.equal(await count(db.db, 'SELECT * FROM relay WHERE url = $1', [candidate.url]), 1, 'the candidate was promoted');
  });

  it('the Monitor: started from the form, status queried, runNow signalled, monitor/<url> found by RelayUrl and queried, cancelled with every relay', STEP, async () => {
    await startFromUi('monitor', '{"interval": "1h"}');
    assert.deepEqual((await coordinatorAfter('monitor', 1)).last?.outcomes, { started: 3 });
    await openWorkflow('monitor');
    await queryStatusInUi('"started": 3', '"phase": "sleeping"');

    // runNow: a second pass, which finds every relay's workflow running.
    await signalInUi('runNow');
    assert.deepEqual((await coordinatorAfter('monitor', 2)).last?.outcomes, { running: 3 });
    await openWorkflow('monitor');
    await queryStatusInUi('"running": 3', '"cycle": 2');

    // One relay's workflow: found by its URL, opened from the list, its status queried there.
    const id = `monitor/${relayA.url}`;
    await eventually(`${id} to have checked its relay`, async () => {
      const s = await env.client.workflow.getHandle(id).query<MonitorRelayStatus>('status').catch(() => undefined);
      return s?.phase === 'waiting' && s.checks >= 1;
    }, WORK_TIMEOUT);
    await searchInUi(`RelayUrl = "${relayA.url}" AND BigBrotrService = "monitor"`);
    await listed(id, /running/i).getByRole('link', { name: id, exact: true }).click();
    await page.getByRole('heading', { name: id, level: 1 }).waitFor();
    await queryStatusInUi('"phase": "waiting"', '"checks": 1', `"url": "${relayA.url}"`);
    await page.screenshot({ path: `${DOCS}web-ui-monitor.png`, animations: 'disabled' });

    // Cancel the coordinator: every relay's workflow stops with it.
    await openWorkflow('monitor');
    await cancelInUi();
    await endsCancelled('monitor');
    // (the coordinator's stop activity asked each to cancel; each ends at its next task)
    for (const url of relays()) await eventually(`monitor/${url} to end cancelled`, async () => (await statusOf(`monitor/${url}`)) === 'CANCELLED', WORK_TIMEOUT);
    await eventually('the list to show no running monitor/<url>', async () => (await runningChildren('monitor/')).length === 0, WORK_TIMEOUT);
  });

  it('the Synchronizer: started from the form, status queried, runNow signalled, sync/<url> found by RelayUrl and queried, cancelled with every relay', STEP, async () => {
    await startFromUi('synchronizer', '{"interval": "1h", "pageSize": 100}');
    assert.deepEqual((await coordinatorAfter('synchronizer', 1)).last?.outcomes, { started: 3 });
    await openWorkflow('synchronizer');
    await queryStatusInUi('"started": 3', '"pageSize": 100');

    await signalInUi('runNow');
    assert.deepEqual((await coordinatorAfter('synchronizer', 2)).last?.outcomes, { running: 3 });
    await openWorkflow('synchronizer');
    await queryStatusInUi('"running": 3', '"cycle": 2');

    // Relay A's sync workflow archives its three events and catches up.
    const id = `sync/${relayA.url}`;
    await eventually(`${id} to have caught up`, async () => {
      const s = await env.client.workflow.getHandle(id).query<SyncStatus>('status').catch(() => undefined);
      return s?.phase === 'caught up' && s.inserted === 3;
    }, WORK_TIMEOUT);
    await searchInUi(`RelayUrl = "${relayA.url}" AND BigBrotrService = "synchronizer"`);
    await listed(id, /running/i).getByRole('link', { name: id, exact: true }).click();
    await page.getByRole('heading', { name: id, level: 1 }).waitFor();
    await queryStatusInUi('"phase": "caught up"', '"inserted": 3');
    await page.screenshot({ path: `${DOCS}web-ui-synchronizer.png`, animations: 'disabled' });

    // The promoted relay's whole life by its URL: validated, monitored (cancelled above), synced.
    await searchInUi(`RelayUrl = "${candidate.url}"`);
    await listed(`validate/${candidate.url}`, /completed/i).waitFor();
    await listed(`monitor/${candidate.url}`, /cancel/i).waitFor();
    await listed(`sync/${candidate.url}`, /running/i).waitFor();
    await page.screenshot({ path: `${DOCS}web-ui-search.png`, animations: 'disabled' });

    await openWorkflow('synchronizer');
    await cancelInUi();
    await endsCancelled('synchronizer');
    // (the coordinator's stop activity asked each to cancel; each ends at its next task)
    for (const url of relays()) await eventually(`sync/${url} to end cancelled`, async () => (await statusOf(`sync/${url}`)) === 'CANCELLED', WORK_TIMEOUT);
    await eventually('the list to show no running sync/<url>', async () => (await runningChildren('sync/')).length === 0, WORK_TIMEOUT);
    assert.equal(await count(db.db, 'SELECT * FROM event'), 3, 'relay A’s events archived, once');
  });

  it('the Refresher: its Schedule on the Schedules page, its first run there', STEP, async () => {
    assert.equal(await ensureRefresherSchedule(env.client, config), 'schedule created');
    await page.goto(`${ui}/schedules`);
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: REFRESHER_SCHEDULE, exact: true }) });
    await row.filter({ hasText: 'refresher' }).waitFor();
    await row.getByRole('link', { name: REFRESHER_SCHEDULE, exact: true }).first().click();
    await page.waitForURL(/\/schedules\/refresher/);
    // The run it started at once completes (the workers refresh the analytics tables).
    await eventually('the Schedule’s first Refresher run to complete', async () => {
      const action = (await env.client.schedule.getHandle(REFRESHER_SCHEDULE).describe()).info.recentActions[0];
      if (!action) return false;
      const run = env.client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
      return (await run.describe()).status.name === 'COMPLETED';
    }, WORK_TIMEOUT);
    await page.reload();
    await page.getByText(/completed/i).first().waitFor();
    await page.screenshot({ path: `${DOCS}web-ui-refresher.png`, animations: 'disabled' });
    await env.client.schedule.getHandle(REFRESHER_SCHEDULE).delete();
  });
});

/** Waits until `locator`'s text holds every one of `texts`; returns it. */
async function textHolding(locator: Locator, texts: string[], ms = UI_TIMEOUT): Promise<string> {
  let text = '';
  await eventually(`the UI to show ${texts.join(', ')}`, async () => {
    text = (await locator.innerText().catch(() => '')) ?? '';
    return texts.every((t) => text.includes(t));
  }, ms, () => new Promise((r) => setTimeout(r, 250))).catch((err: Error) => {
    throw new Error(`${err.message}; it shows: ${text.slice(0, 2000)}`);
  });
  return text;
}
