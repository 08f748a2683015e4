// The API's interactive docs page as a person meets it: headless Chromium (playwright-core, which
// downloads no browser) opens /docs, sees every route listed, runs GET /v1/summary with
// "Execute" and reads the archive's answer. The screenshot the README shows is rewritten only
// on request (UPDATE_SCREENSHOTS=1), so that a test run leaves the work tree as it found it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startApiServer, type ApiServer } from '../../api/server.js';
import { connectReader } from '../../read/index.js';
import type { Db } from '../../activities/db/db.js';
import { testConfig } from '../helpers/config.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { loadFixture } from '../helpers/read-fixture.js';
import { chromiumMissing, openPage } from '../helpers/browser.js';

const DOCS = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/', import.meta.url).pathname : `${mkdtempSync(join(tmpdir(), 'bigbrotr-api-docs-'))}/`;

describe('API docs page', () => {
  it('lists every route and runs one with "Execute"', { timeout: 120_000 }, async (t) => {
    const missing = chromiumMissing();
    if (missing) return t.skip(missing);
    let archive: TestDatabase | undefined;
    let db: Db | undefined;
    let api: ApiServer | undefined;
    let browser: Browser | undefined;
    try {
      archive = await freshDatabase();
      await loadFixture(archive.db, 'bigbrotr');
      const base = testConfig(archive.url);
      const config = { ...base, api: { ...base.api, port: 0 } };
      db = await connectReader(config);
      api = await startApiServer({ config, db });

      // The page must work offline: anything not from the API itself is refused.
      const opened = await openPage({ allowHost: new URL(api.url).host, height: 1000 });
      browser = opened.browser;
      const page = opened.page;
      await page.goto(`${api.url}/docs`);
      await page.getByText('BigBrotr archive API').first().waitFor();
      for (const path of ['/v1/relays', '/v1/events', '/v1/stats/kinds', '/v1/summary']) {
        await page.locator('.opblock-summary-path', { hasText: new RegExp(`^${path.replace(/[/]/g, '\\/')}$`) }).first().waitFor();
      }
      assert.equal(await page.locator('.opblock-summary-path').count() >= 16, true, 'every route listed');

      const summary = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/v1\/summary$/ }) });
      await summary.locator('.opblock-summary').click();
      // "Try it out" is on from the start (uiConfig.tryItOutEnabled): Execute is there at once.
      await summary.getByRole('button', { name: 'Execute' }).click();
      const answer = summary.locator('.responses-wrapper .live-responses-table .response .microlight').first();
      await answer.waitFor();
      assert.match((await answer.textContent()) ?? '', /"events": 162/);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${DOCS}api-docs.png`, fullPage: false, animations: 'disabled' });
    } finally {
      await browser?.close();
      await api?.close();
      await db?.end();
      await archive?.drop();
    }
  });
});
