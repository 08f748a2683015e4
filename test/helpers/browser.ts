// Headless Chromium for the browser tests: Debian's `chromium` (CHROMIUM_PATH to change), driven by
// playwright-core, which downloads no browser. Without it a browser test is skipped, except in CI,
// where it fails (CI installs it: .ci/run).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why a browser test cannot run here (a skip reason), or undefined; in CI a missing Chromium fails instead. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) assert.fail(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  return 'Chromium not installed: apt-get install chromium';
}

/**
 * A fresh page that reaches `allowHost` (host[:port]) only, or 127.0.0.1 on any port: everything
 * else (the Temporal UI's news feed, fonts, analytics) is refused at once, so a test never waits on
 * the internet. A single-page app renders each view after its API calls: hence the page's timeout.
 */
export async function openPage(opts: { allowHost?: string; height?: number; timeoutMs?: number } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: opts.height ?? 900 } });
  const allowed = (url: URL) => (opts.allowHost ? url.host === opts.allowHost : url.hostname === '127.0.0.1');
  await context.route((url) => !allowed(url), (route) => route.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs ?? 30_000);
  return { browser, page };
}
