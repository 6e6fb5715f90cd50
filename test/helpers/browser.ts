/**
 * Headless Chromium for the browser tests (Debian's chromium driven by playwright-core, no
 * download): where to find it, how to launch it offline, and a page opened from file:// that
 * records console errors and warnings, page errors and every network request.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
].filter((p): p is string => !!p);
export const CHROMIUM = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
export const NO_CHROMIUM_MESSAGE = `[browser test skipped] no chromium at ${CHROMIUM_CANDIDATES.join(', ')} — install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`;
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Problems {
  console: string[];
  errors: string[];
  requests: string[];
}

/** A 1400×900 page at `file`, loaded, with what went wrong on it collected in `problems`. */
export async function openWatchedPage(browser: Browser, file: string): Promise<{ page: Page; problems: Problems }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: Problems = { console: [], errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.errors.push(e.message));
  page.on('request', (r) => {
    if (!/^(file|data|about|blob):/.test(r.url())) problems.requests.push(r.url());
  });
  page.on('requestfailed', (r) => problems.requests.push(`failed: ${r.url()}`));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems };
}
