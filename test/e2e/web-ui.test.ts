// The Web UI as an operator meets it: start the Finder with "Start Workflow", see it running, stop
// it with "Request Cancellation". Headless Chromium (playwright-core, which downloads no browser)
// drives the dev server's own UI; a real worker runs the Finder on a fresh database.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Browser } from 'playwright-core';
import { chromiumMissing, openPage } from '../helpers/browser.js';
import { insertEvents } from '../../activities/db/store.js';
import type { FinderStatus } from '../../common/index.js';
import { createActivities } from '../../workers/activities.js';
import { freePort } from '../../workers/embedded-postgres.js';
import { temporalExecutable } from '../../workers/temporal-binaries.js';
import { finderStatus } from '../../workflows/finder.js';
import { testConfig } from '../helpers/config.js';
import { count, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { signed } from '../helpers/nostr.js';
import { workflowBundle } from '../helpers/temporal.js';

// The README shows these screenshots: they are rewritten only on request (UPDATE_SCREENSHOTS=1),
// so that a test run leaves the work tree as it found it.
const DOCS = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/', import.meta.url).pathname : `${mkdtempSync(join(tmpdir(), 'bigbrotr-ui-'))}/`;
const RELAY = 'wss://relay.from-the-archive.example';

describe('Web UI', () => {
  it('starts the Finder from "Start Workflow" and stops it with "Request Cancellation"', { timeout: 180_000 }, async (t) => {
    const missing = chromiumMissing();
    if (missing) return t.skip(missing);

    let db: TestDatabase | undefined;
    let env: TestWorkflowEnvironment | undefined;
    let browser: Browser | undefined;
    try {
      db = await freshDatabase();
      // One archived event naming a relay, so that the cycle started from the UI has something to find.
      await insertEvents(db.db, [signed({ kind: 10002, tags: [['r', RELAY]] })]);
      const base = testConfig(db.url);
      const config = { ...base, finder: { ...base.finder, apis: [] } }; // no API: nothing leaves the machine
      const uiPort = await freePort();
      env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalExecutable('cli'), ui: true, uiPort, ip: '127.0.0.1' } });
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: config.temporal.task_queue,
        workflowBundle: await workflowBundle(),
        activities: createActivities({ db: db.db, config }),
      });
      const client = env.client;
      const handle = client.workflow.getHandle('finder');

      const opened = await openPage();
      browser = opened.browser;
      const page = opened.page;
      const ui = `http://127.0.0.1:${uiPort}/namespaces/default/workflows`;

      // The worker polls only while the browser works; runUntil shuts it down when this is done.
      await worker.runUntil(async () => {
        // 1. Start it as the README says: Start Workflow, ID `finder`, queue `bigbrotr`, type `finder`, JSON input.
        await page.goto(ui);
        await page.getByRole('link', { name: 'Start Workflow' }).click();
        await page.getByRole('textbox', { name: 'Workflow ID' }).fill('finder');
        await page.getByRole('textbox', { name: 'Task Queue' }).fill(config.temporal.task_queue);
        await page.getByRole('textbox', { name: 'Workflow Type' }).fill('finder');
        const input = page.getByRole('textbox', { name: 'Data' }); // a CodeMirror editor
        await input.fill('{"interval": "1h", "pageSize": 100}');
        // Leaving the editor pretty-prints the JSON, which grows it and moves the button down: a
        // click that causes the blur presses one spot and releases on another, and starts nothing
        // (a person clicking straight from the editor sees the same). Blur first, then click.
        await input.blur();
        await page.getByRole('button', { name: 'Start Workflow' }).click();
        await page.getByRole('link', { name: 'Workflow started successfully' }).waitFor(); // the toast

        // 2. It runs, and its status query answers: the first cycle found the archived relay.
        assert.equal((await handle.describe()).status.name, 'RUNNING');
        const status = await waitFor(async () => {
          const s: FinderStatus = await handle.query(finderStatus);
          return s.phase === 'sleeping' ? s : undefined;
        });
        assert.equal(status.settings?.pageSize, 100, 'the input typed in the UI reached the workflow (the config says 5000)');
        assert.equal(status.last?.eventsScanned, 1);
        assert.equal(status.last?.newCandidates, 1);

        // 3. Its page shows it running (the ID without a run goes to the latest run).
        await page.goto(`${ui}/finder`);
        await page.getByTestId('execution-status').filter({ hasText: /running/i }).waitFor();
        mkdirSync(DOCS, { recursive: true });
        await page.screenshot({ path: `${DOCS}web-ui-finder.png`, animations: 'disabled' });

        // 4. Cancel: the button on the workflow's page, then the confirmation dialog.
        await page.getByRole('button', { name: 'Request Cancellation' }).click();
        await page.getByRole('dialog', { name: 'Cancel Workflow' }).getByRole('button', { name: 'Confirm' }).click();
        const err = await handle.result().then(() => assert.fail('the Finder should end cancelled'), (e: unknown) => e);
        assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
        assert.equal((await handle.describe()).status.name, 'CANCELLED');
        // The page refreshes on its own to the final status.
        await page.getByTestId('execution-status').filter({ hasText: /cancel/i }).waitFor();
        await page.screenshot({ path: `${DOCS}web-ui-finder-cancelled.png`, animations: 'disabled' }); // the toast slides in: finish it
      });

      // 5. The database holds what the cycle found, once, and answers (no broken transaction or lock).
      assert.equal(await count(db.db, 'SELECT * FROM candidate WHERE url = $1 AND source = $2', [RELAY, 'event:10002']), 1);
      assert.equal(await count(db.db, 'SELECT * FROM candidate'), 1);
    } finally {
      await browser?.close();
      await env?.teardown();
      await db?.drop();
    }
  });
});

/** Polls `probe` until it returns a value, for up to `ms`. */
async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`not ready within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
