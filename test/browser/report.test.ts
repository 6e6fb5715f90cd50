/**
 * The HTML report in a real browser: Debian's chromium driven by playwright-core (no download).
 * Opens the minigpt/big-data report from file://, checks there are no console errors or network
 * requests, every chart is laid out with a non-zero size (after expanding all layers), table
 * sorting and filtering work, and the compressed-figures and compare variants load too. The
 * interactive figures (vega-embed, inlined): hovering a point in alpha-by-depth, the compare Δα
 * bars, the sweep heatmap and movers chart shows the layer's name and values; clicking opens the
 * layer's ESD figure (analyze report) or its table row (compare, sweep).
 * Screenshots are saved under test-artifacts/.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, NO_CHROMIUM_MESSAGE, openWatchedPage, type Problems } from '../helpers/browser.js';
import { WeightWatcher } from '../../src/index.js';
import { writeAnalyzeReport } from '../../src/cli/plot-commands.js';
import { runCompare } from '../../src/cli/commands/compare.js';
import { analyzeReportHtml, sweepReportHtml } from '../../src/report/html.js';
import { layerFigureSpecs, layerPlotId, renderSvg } from '../../src/report/plots/index.js';
import { alphaMovers, sweepFigureSpecs } from '../../src/report/plots/sweep.js';
import { interactiveSpecs } from '../../src/report/interactive.js';
import { STATUS_BACKGROUNDS } from '../../src/report/plots/palette.js';
import { sweepDataFromModels } from '../../scripts/gen-plot-docs.js';

/**
 * The DOM members the page callbacks below use. They run in the browser; the test tsconfig has no DOM
 * lib (src must not see browser globals), so the elements are typed here instead of as any.
 */
interface PageElement {
  readonly id: string;
  readonly className: string;
  readonly textContent: string | null;
  readonly hidden: boolean;
  readonly children: ArrayLike<PageElement>;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { width: number; height: number };
  querySelectorAll(selector: string): ArrayLike<PageElement>;
}

const ARTIFACTS = resolve('test-artifacts');
const MINI = '/work/shared/corpus/minigpt';

if (!CHROMIUM) {
  console.warn(NO_CHROMIUM_MESSAGE);
}

function expectClean(p: Problems): void {
  expect(p.errors, 'page errors').toEqual([]);
  expect(p.console, 'console errors').toEqual([]);
  expect(p.requests, 'network requests').toEqual([]);
}

/** Wait until the page's interactive figures are live (vega-embed has replaced their static SVG). */
async function waitLive(page: Page, n: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll('figure.chart.live-ready').length >= ${n}`, null, { timeout: 20_000 });
}

/** Hover the i-th mark (CSS selector inside the figure's live view); the tooltip's text. */
async function hoverMark(page: Page, figure: string, mark: string, i = 0): Promise<{ text: string; x: number; y: number }> {
  const marks = await page.$$(`figure[data-figure="${figure}"] .live ${mark}`);
  expect(marks.length, `${figure}: ${mark}`).toBeGreaterThan(i);
  await marks[i]!.scrollIntoViewIfNeeded();
  const b = (await marks[i]!.boundingBox())!;
  const x = b.x + b.width / 2;
  const y = b.y + Math.min(b.height / 2, 4);
  await page.mouse.move(x, y);
  await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 5000 });
  return { text: (await page.textContent('#vg-tooltip-element')) ?? '', x, y };
}

/** Sizes of every chart SVG in the page. */
async function chartSizes(page: Page): Promise<{ w: number; h: number }[]> {
  return page.$$eval('figure.chart svg', (els: PageElement[]) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { w: r.width, h: r.height };
    }),
  );
}

async function columnValues(page: Page, table: string, col: string): Promise<string[]> {
  return page.$eval(
    `#${table}`,
    (t: PageElement, c: string) => {
      const ths: PageElement[] = Array.from(t.querySelectorAll('thead th'));
      const i = ths.findIndex((h) => h.textContent === c || h.getAttribute('data-col') === c);
      return Array.from(t.querySelectorAll('tbody tr'))
        .filter((r) => !r.hidden)
        .map((r) => String(r.children[i]!.getAttribute('data-v') ?? ''));
    },
    col,
  );
}

describe.skipIf(!CHROMIUM)(`HTML report in headless chromium (${CHROMIUM ?? 'chromium not installed: skipped'})`, () => {
  let browser: Browser;
  let ww: WeightWatcher;
  const reportFile = join(ARTIFACTS, 'report-minigpt-big-data.html');

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ww = new WeightWatcher(`${MINI}/big-data/model.safetensors`);
    await ww.analyze({ keep_evals: true });
    await writeAnalyzeReport(reportFile, ww, 'WeightWatcher report: minigpt/big-data');
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: CHROMIUM_FLAGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens without errors or network access; charts and tables render; sorting and filtering work', async () => {
    const { page, problems } = await openWatchedPage(browser, reportFile);
    expect(await page.title()).toBe('WeightWatcher report: minigpt/big-data');

    // model-level charts are visible straight away
    const initial = await chartSizes(page);
    expect(initial.length).toBe(3);
    for (const s of initial) {
      expect(s.w).toBeGreaterThan(100);
      expect(s.h).toBeGreaterThan(100);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'report-minigpt-big-data.png') });

    // sorting: alpha ascending, then descending; name (text) ascending
    await page.click('#details-table th[data-col="alpha"]');
    const asc = (await columnValues(page, 'details-table', 'alpha')).map(Number);
    expect(asc).toHaveLength(18);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    expect(await page.getAttribute('#details-table th[data-col="alpha"]', 'aria-sort')).toBe('ascending');
    await page.click('#details-table th[data-col="alpha"]');
    const desc = (await columnValues(page, 'details-table', 'alpha')).map(Number);
    expect(desc).toEqual([...asc].reverse());
    await page.click('#details-table th[data-col="name"]');
    const names = await columnValues(page, 'details-table', 'name');
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));

    // filtering: warnings and text
    const over = ww.getDetails()!.filter((r) => r.alpha < 2).length;
    await page.selectOption('.table-tools[data-for="details-table"] .warn-filter', 'over');
    const shown = await page.$$eval('#details-table tbody tr:not([hidden])', (rs: PageElement[]) => rs.map((r) => String(r.className)));
    expect(shown).toHaveLength(over);
    expect(shown.every((c) => c === 'warn-over')).toBe(true);
    expect(await page.textContent('.table-tools[data-for="details-table"] .count')).toBe(`${over} of 18 rows`);
    await page.selectOption('.table-tools[data-for="details-table"] .warn-filter', 'all');
    await page.fill('.table-tools[data-for="details-table"] .filter', 'attn');
    const attn = await columnValues(page, 'details-table', 'name');
    expect(attn.length).toBe(8);
    expect(attn.every((n) => n.includes('attn'))).toBe(true);

    // warnings highlighted: over-trained rows have a red-ish background
    const bg = await page.$eval(
      '#details-table tr.warn-over td',
      (td: PageElement) =>
        (globalThis as unknown as { getComputedStyle(e: PageElement): { backgroundColor: string } }).getComputedStyle(td).backgroundColor,
    );
    const [r, g, b] = [1, 3, 5].map((k) => parseInt(STATUS_BACKGROUNDS.over.slice(k, k + 2), 16));
    expect(bg).toBe(`rgb(${r}, ${g}, ${b})`);

    // layers are collapsed and their figures not in the DOM until opened
    expect(await page.$$eval('details.layer[open]', (d: PageElement[]) => d.length)).toBe(0);
    expect(await page.$$eval('details.layer template', (t: PageElement[]) => t.length)).toBe(18);
    await page.click('#expand-all');
    await page.waitForFunction("document.querySelectorAll('details.layer template').length === 0");
    const all = await chartSizes(page);
    expect(all.length).toBe(3 + 18 * 5);
    for (const s of all) {
      expect(s.w).toBeGreaterThan(100);
      expect(s.h).toBeGreaterThan(100);
    }
    // inline SVG ids stay unique in the page (clip paths)
    const dupIds = await page.$$eval('svg [id]', (els: PageElement[]) => {
      const seen = new Set<string>();
      const d: string[] = [];
      for (const e of els) {
        if (seen.has(e.id)) d.push(e.id);
        seen.add(e.id);
      }
      return d;
    });
    expect(dupIds).toEqual([]);
    const layer0 = await page.$('#layer-0');
    await layer0!.screenshot({ path: join(ARTIFACTS, 'report-minigpt-big-data-layer0.png') });

    // a link from the table opens the layer section
    await page.click('#collapse-all');
    await page.fill('.table-tools[data-for="details-table"] .filter', '');
    await page.click('#details-table a[href="#layer-5"]');
    await page.waitForFunction("document.getElementById('layer-5').open === true");

    expectClean(problems);
    await page.close();
  });

  it('alpha-by-depth: hovering a point shows its layer and alpha; clicking opens the layer’s ESD figure', async () => {
    const { page, problems } = await openWatchedPage(browser, reportFile);
    await waitLive(page, 3);
    // the live views replaced the static SVGs: still one SVG per model figure
    expect((await chartSizes(page)).length).toBe(3);
    const rows = ww.getDetails()!;
    const tip = await hoverMark(page, 'alpha-depth', 'g.mark-symbol.role-mark path', 4);
    const row = rows[4]!;
    expect(tip.text).toContain(String(row.name));
    expect(tip.text).toContain(Number(row.alpha).toFixed(3).slice(0, 4));
    await page.screenshot({ path: join(ARTIFACTS, 'report-hover-alpha-depth.png') });
    await page.mouse.click(tip.x, tip.y);
    const id = layerPlotId(row);
    await page.waitForFunction(`document.getElementById('layer-${id}').open === true`);
    await page.waitForSelector(`#layer-${id} figure[data-figure="esd"] svg`);
    // the ESD figure is scrolled into the viewport
    const top = await page.$eval(`#layer-${id} figure[data-figure="esd"]`, (e: PageElement) => e.getBoundingClientRect().height);
    expect(top).toBeGreaterThan(100);
    expect(
      await page.evaluate(
        `(() => { const r = document.querySelector('#layer-${id} figure[data-figure="esd"]').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; })()`,
      ),
    ).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'report-click-esd.png') });
    expectClean(problems);
    await page.close();
  });

  it('sweep report: heatmap and movers tooltips; a click goes to the layer’s row', async () => {
    const models = await Promise.all(
      ['init', 'small-data', 'big-data'].map(async (m) => ({
        name: m,
        rows: await new WeightWatcher(`${MINI}/${m}/model.safetensors`).analyze(),
      })),
    );
    const data = sweepDataFromModels(models);
    const movers = alphaMovers(data.layers);
    const specs = sweepFigureSpecs(data, movers);
    const figures: Record<string, string> = {};
    for (const [k, v] of Object.entries(specs)) figures[k] = await renderSvg(v);
    const file = join(ARTIFACTS, 'sweep-minigpt.html');
    await writeFile(
      file,
      sweepReportHtml({
        title: 'sweep',
        db: 'none',
        description: 'minigpt as three steps',
        points: data.points,
        stepsParsed: false,
        movers,
        figures,
        interactive: await interactiveSpecs(specs),
      }),
    );
    const { page, problems } = await openWatchedPage(browser, file);
    await waitLive(page, 4);
    const cell = await hoverMark(page, 'alpha-heatmap', 'g.mark-rect.role-mark path', 0);
    expect(cell.text).toContain('0 h.0.attn.c_attn');
    expect(cell.text).toMatch(/alpha\s*\d+\.\d{3}/);
    await page.screenshot({ path: join(ARTIFACTS, 'sweep-hover-heatmap.png') });
    await page.mouse.click(cell.x, cell.y);
    await page.waitForSelector('#movers-table tr.flash[data-layer="0 h.0.attn.c_attn"]', { timeout: 5000 });
    const mover = await hoverMark(page, 'alpha-movers', 'g.mark-symbol.role-mark path', 0);
    expect(movers.map((m) => `${m.layer_id} ${m.name}`).some((l) => mover.text.includes(l))).toBe(true);
    expectClean(problems);
    await page.close();
  });

  it('compressed layer figures (large models) decode and render in the browser', async () => {
    const layers = ww.getLayerResults().slice(0, 3);
    const sections = [];
    for (const l of layers) {
      const figures: Record<string, string> = {};
      for (const [k, s] of Object.entries(layerFigureSpecs(l))) if (s) figures[k] = await renderSvg(s);
      sections.push({ id: layerPlotId(l.row), row: l.row, figures });
    }
    const file = join(ARTIFACTS, 'report-compressed.html');
    await writeFile(
      file,
      analyzeReportHtml({
        title: 'compressed',
        rows: layers.map((l) => l.row),
        summary: {},
        modelFigures: {},
        layers: sections,
        compressLayers: true,
      }),
    );
    const { page, problems } = await openWatchedPage(browser, file);
    expect(await page.$$eval('template[data-enc="gzip-base64"]', (t: PageElement[]) => t.length)).toBe(3);
    await page.click('#expand-all');
    await page.waitForFunction("document.querySelectorAll('figure.chart svg').length === 15");
    for (const s of await chartSizes(page)) {
      expect(s.w).toBeGreaterThan(100);
      expect(s.h).toBeGreaterThan(100);
    }
    expectClean(problems);
    await page.close();
  });

  it('compare report opens cleanly and its per-layer table sorts', async () => {
    const file = join(ARTIFACTS, 'compare-minigpt.html');
    const out = new PassThrough();
    out.resume();
    const code = await runCompare(
      ['init', 'small-data', 'big-data'].map((m) => `${MINI}/${m}/model.safetensors`).concat(['--report', file]),
      { stdout: out, stderr: out },
    );
    expect(code).toBe(0);
    const { page, problems } = await openWatchedPage(browser, file);
    await waitLive(page, 3);
    const sizes = await chartSizes(page);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    // readable: every panel at its own size, no text under 10 px on screen
    for (const fig of ['alpha-hist', 'alpha-depth', 'alpha-delta']) {
      const smallest = await page.$eval(`figure[data-figure="${fig}"] svg`, (e: PageElement) => {
        const svg = e as unknown as {
          getBoundingClientRect(): { width: number };
          getAttribute(n: string): string | null;
          querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }>;
        };
        const scale = svg.getBoundingClientRect().width / Number(svg.getAttribute('width'));
        const sizes = Array.from(svg.querySelectorAll('text')).map((t) => parseFloat(t.getAttribute('font-size') ?? '11') * scale);
        return Math.min(...sizes);
      });
      expect(smallest, `${fig}: smallest text in px`).toBeGreaterThanOrEqual(10);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'compare-minigpt.png'), fullPage: false });
    // Δα bars are labelled with layer names; hovering one shows the full name, clicking opens its ESD
    const labels = await page.$$eval('figure[data-figure="alpha-delta"] .live g.role-axis-label text', (ts: PageElement[]) =>
      ts.map((t) => t.textContent),
    );
    expect(labels).toContain('h.0.attn.c_attn');
    const bar = await hoverMark(page, 'alpha-delta', 'g.mark-rect.role-mark path', 0);
    expect(bar.text).toContain('h.0.attn.c_attn');
    expect(bar.text).toMatch(/Δ alpha\s*[−-]13\.\d{3}/);
    await page.screenshot({ path: join(ARTIFACTS, 'compare-hover-delta.png') });
    // the click opens that layer's ESD figure in that model's section (small-data is model 1, the layer id 0)
    await page.mouse.click(bar.x, bar.y);
    await page.waitForFunction("document.getElementById('layer-m1-0').open === true", null, { timeout: 5000 });
    await page.waitForSelector('#layer-m1-0 figure[data-figure="esd"] svg', { timeout: 5000 });
    expect(await page.$eval('#model-1', (e: PageElement) => e.getAttribute('open'))).not.toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'compare-click-esd.png') });
    // α < 2 / α > 6 highlighted in the per-layer table
    expect(await page.$$eval('#diff-table td.warn-under .badge.under', (e: PageElement[]) => e.length)).toBe(15);
    expect(await page.$$eval('#diff-table td.warn-over .badge.over', (e: PageElement[]) => e.length)).toBe(15);
    await page.click('#diff-table th:nth-child(5)'); // Δ alpha small-data
    const d = (await columnValues(page, 'diff-table', 'Δ alpha small-data')).map(Number);
    expect(d).toHaveLength(18);
    expect(d).toEqual([...d].sort((a, b) => a - b));
    // open a model section: its charts get a size
    await page.click('#model-0 > summary');
    const modelCharts = await page.$$eval('#model-0 figure.chart svg', (els: PageElement[]) =>
      els.map((e) => e.getBoundingClientRect().width),
    );
    expect(modelCharts.length).toBe(3);
    expect(modelCharts.every((w) => w > 100)).toBe(true);
    expectClean(problems);
    await page.close();
  });
});
