/**
 * The sweep report's ESD panel in headless Chromium (issue 22; Debian's chromium driven by
 * playwright-core, as test/browser/report.test.ts). A generated training run (checkpoint-0, -500,
 * -1000) and the corpus' minigpt models are swept into results databases and their sweep-report
 * pages opened from file://: a click on a heatmap cell opens the panel with that layer's ESD at that
 * step beside the first and last checkpoint; a click on a point of the movers chart switches it to
 * that layer and step; Escape closes it; no console error or warning, no network request. A
 * database without spectra keeps the previous click (the layer's movers row). Screenshots go to
 * test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, NO_CHROMIUM_MESSAGE, openWatchedPage, type Problems } from '../helpers/browser.js';
import { sweep, sweepReport } from '../../src/sweep/index.js';
import { browserRuntime } from '../../src/report/interactive.js';
import { writeTrainingRun } from '../helpers/checkpoints.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';

const ARTIFACTS = resolve('test-artifacts');
const RUNTIME = browserRuntime() !== null;
const skip = !CHROMIUM || !RUNTIME;
if (skip)
  console.warn(!CHROMIUM ? NO_CHROMIUM_MESSAGE : '[browser test skipped] vega / vega-embed not installed: sweep reports are static');

const dir = mkdtempSync(join(tmpdir(), 'ww-spectra-browser-'));

/** What the page callbacks read of an element (the test tsconfig has no DOM lib, as in test/browser/report.test.ts). */
interface TextElement {
  readonly textContent: string | null;
}

async function openPage(browser: Browser, file: string): Promise<{ page: Page; problems: Problems }> {
  const opened = await openWatchedPage(browser, file);
  await opened.page.waitForFunction("document.querySelectorAll('figure.chart.live-ready').length >= 4", null, { timeout: 20_000 });
  return opened;
}

function expectClean(p: Problems): void {
  expect(p.errors, 'page errors').toEqual([]);
  expect(p.console, 'console errors').toEqual([]);
  expect(p.requests, 'network requests').toEqual([]);
}

/** Hover the i-th mark of a live figure: its tooltip text and where it is. */
async function hoverMark(page: Page, figure: string, mark: string, i: number): Promise<{ text: string; x: number; y: number }> {
  const marks = await page.$$(`figure[data-figure="${figure}"] .live ${mark}`);
  expect(marks.length, `${figure}: ${mark}`).toBeGreaterThan(i);
  await marks[i]!.scrollIntoViewIfNeeded();
  const b = (await marks[i]!.boundingBox())!;
  const x = b.x + b.width / 2;
  const y = b.y + b.height / 2;
  await page.mouse.move(x, y);
  await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 5000 });
  return { text: (await page.textContent('#vg-tooltip-element')) ?? '', x, y };
}

/** Wait for the panel to show layer `anchor` at checkpoint index `run`, drawn; its legend and table text. */
async function panelShows(page: Page, anchor: string, run: number): Promise<{ legend: string; table: string[] }> {
  await page.waitForSelector(`#esd-panel[data-ready="1"][data-layer="${anchor}"][data-run="${run}"]`, { timeout: 10_000 });
  expect(await page.isVisible('#esd-panel .esd-view svg')).toBe(true);
  const texts = (els: TextElement[]) => els.map((e) => e.textContent ?? '');
  const legend = (await page.$$eval('#esd-panel .esd-view svg .role-legend text', texts)).join(' | ');
  const table = await page.$$eval('#esd-panel .esd-table tbody tr', texts);
  return { legend, table };
}

describe.skipIf(skip)(`sweep report ESD panel in headless chromium (${CHROMIUM ?? 'none'})`, () => {
  let browser: Browser;
  const ckpts = writeTrainingRun(join(dir, 'run'), [0, 500, 1000]);
  const report = join(ARTIFACTS, 'sweep-spectra.html');
  const plain = join(ARTIFACTS, 'sweep-no-spectra.html');

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await sweep(ckpts, { db: join(dir, 'on.sqlite') });
    await sweepReport({ db: join(dir, 'on.sqlite'), report });
    await sweep(ckpts, { db: join(dir, 'off.sqlite'), spectra: false });
    await sweepReport({ db: join(dir, 'off.sqlite'), report: plain });
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: CHROMIUM_FLAGS });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a heatmap cell opens its layer’s ESD at that step; a movers point switches it; Escape closes it', async () => {
    const { page, problems } = await openPage(browser, report);
    expect(await page.isHidden('#esd-panel')).toBe(true);
    // Cells are layer-major: layer 2 at the second step is cell 2·3 + 1.
    const cell = await hoverMark(page, 'alpha-heatmap', 'g.mark-rect.role-mark path', 7);
    expect(cell.text).toContain('2 layer2');
    expect(cell.text).toMatch(/step\s*500/);
    await page.mouse.click(cell.x, cell.y);
    const a = await panelShows(page, '2', 1);
    expect(a.legend).toContain('step 0 (first): ESD');
    expect(a.legend).toContain('step 500 (clicked): ESD');
    expect(a.legend).toContain('step 1000 (last): ESD');
    expect(a.legend).toMatch(/step 500 \(clicked\): power-law fit, α = \d/);
    expect(a.table).toHaveLength(3);
    expect(await page.textContent('#esd-panel .esd-name')).toBe('2 layer2');
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-spectra-click-heatmap.png') });

    // A point of the movers chart: the panel follows to that layer and step.
    const symbols = await page.$$('figure[data-figure="alpha-movers"] .live g.mark-symbol.role-mark path');
    let moved = false;
    for (let i = 0; i < symbols.length && !moved; i++) {
      const m = await hoverMark(page, 'alpha-movers', 'g.mark-symbol.role-mark path', i);
      const layer = /layer\s*(\d+) layer\d+/.exec(m.text)?.[1];
      const step = /step\s*(\d+)/.exec(m.text)?.[1];
      if (layer === undefined || step === undefined || (layer === '2' && step === '500')) continue;
      await page.mouse.click(m.x, m.y);
      const b = await panelShows(page, layer, ['0', '500', '1000'].indexOf(step));
      expect(b.legend).toContain(`step ${step} (${step === '0' ? 'first, clicked' : step === '1000' ? 'last, clicked' : 'clicked'}): ESD`);
      moved = true;
    }
    expect(moved, 'a movers point of another layer or step').toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-spectra-click-movers.png') });

    await page.keyboard.press('Escape');
    await page.waitForSelector('#esd-panel', { state: 'hidden', timeout: 5000 });
    expectClean(problems);
    await page.close();
  });

  it('without spectra (--no-spectra) a click still goes to the layer’s movers row', async () => {
    const { page, problems } = await openPage(browser, plain);
    expect(await page.$('#esd-panel')).toBeNull();
    const cell = await hoverMark(page, 'alpha-heatmap', 'g.mark-rect.role-mark path', 0);
    expect(cell.text).toContain('0 layer0');
    await page.mouse.click(cell.x, cell.y);
    await page.waitForSelector('#movers-table tr.flash[data-layer="0 layer0"]', { timeout: 5000 });
    expectClean(problems);
    await page.close();
  });

  it.skipIf(!haveCorpus)('minigpt (steps are the order given): the clicked model is matched by name', async () => {
    const db = join(dir, 'minigpt.sqlite');
    const file = join(ARTIFACTS, 'sweep-spectra-minigpt.html');
    await sweep(
      ['init', 'small-data', 'big-data'].map((m) => corpus(`minigpt/${m}`)),
      { db },
    );
    await sweepReport({ db, report: file });
    const { page, problems } = await openPage(browser, file);
    // Layer 0 at small-data: the second cell.
    const cell = await hoverMark(page, 'alpha-heatmap', 'g.mark-rect.role-mark path', 1);
    expect(cell.text).toContain('0 h.0.attn.c_attn');
    expect(cell.text).toContain('small-data');
    await page.mouse.click(cell.x, cell.y);
    const a = await panelShows(page, '0', 1);
    expect(a.legend).toContain('init (first): ESD');
    expect(a.legend).toContain('small-data (clicked): ESD');
    expect(a.legend).toContain('big-data (last): ESD');
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-spectra-minigpt.png') });
    expectClean(problems);
    await page.close();
  });
});
