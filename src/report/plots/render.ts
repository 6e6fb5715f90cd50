/**
 * Rendering of the plot specs: Vega-Lite → Vega (vega-lite's compile) → SVG string (vega View with
 * the headless 'none' renderer, View.toSVG); the PNG half is raster.ts. Everything runs
 * in-process, without a browser, canvas package or network access.
 */
import type { TopLevelSpec } from 'vega-lite';
import type * as Vega from 'vega';
import { WeightWatcherError } from '../../shared/errors.js';
import { importOptional } from '../../shared/optional-import.js';
import { ESTIMATE, loadFontMetrics, type FontMetrics } from './fontmetrics.js';
import { fontFiles, svgToPng, type PngOptions } from './raster.js';

import { SUBTITLE_SIGNAL, splitTemplate, usableTemplate } from './template.js';
import type { VlSpec } from './spec.js';

export { fontFiles, svgToPng, type PngOptions }; // the PNG half, where callers of the whole pipeline look
export type { VlSpec };

/** Font family list written into the SVG; resvg picks the first family it has loaded. */
export const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Verdana, Arial, sans-serif';

/** Shared look of every figure. `aria: false` keeps the SVG small; marks that tests or screen readers need opt back in. */
export const BASE_CONFIG = {
  aria: false,
  font: FONT_FAMILY,
  background: 'white',
  view: { stroke: '#ccc' },
  title: { fontSize: 13, subtitleFontSize: 11, subtitleColor: '#333', anchor: 'middle', offset: 6 },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 260 },
} as const;

export function withConfig(spec: VlSpec): VlSpec {
  const cfg = (spec.config as Record<string, unknown> | undefined) ?? {};
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec, config: { ...BASE_CONFIG, ...cfg } };
}

// vega and vega-lite are optional dependencies (the plots feature) and ES modules with top-level
// await, so they load with import() on first use, which the CommonJS build can do too (it cannot
// require() them): importing this module costs nothing, the first render loads them.
let vega: typeof Vega;
let compile: typeof import('vega-lite').compile | undefined;
let stack: Promise<void> | undefined;

/**
 * Load vega and vega-lite (once; every render awaits it). A missing package rejects with
 * E_MISSING_DEPENDENCY naming it and the install command; a later call tries again.
 */
export function loadPlotStack(): Promise<void> {
  // One after the other, not Promise.all: with both missing, the message names vega every time
  // (which import fails first would otherwise be a race; test/unit/optional-import.test.ts).
  stack ??= (async () => {
    const v = await importOptional('plots', () => import('vega'));
    const vl = await importOptional('plots', () => import('vega-lite'));
    return [v, vl] as const;
  })().then(
    ([v, vl]) => {
      vega = v;
      compile = vl.compile;
    },
    (e: unknown) => {
      stack = undefined;
      throw e;
    },
  );
  return stack;
}

/**
 * A Vega spec as plain JSON. vega's own type (Spec from 'vega') is not in the declarations: it
 * needs the DOM library's types, which a Node program does not have, and vega is optional.
 */
export type VegaSpec = Record<string, unknown>;

/** Compile a Vega-Lite spec to a Vega spec (exposed so callers can embed the Vega JSON). */
export function compileToVega(spec: VlSpec): VegaSpec {
  return compileVega(spec) as unknown as VegaSpec;
}

function compileVega(spec: VlSpec): Vega.Spec {
  if (!compile)
    throw new WeightWatcherError('E_USAGE', 'compileToVega needs the plot stack loaded: await loadPlotStack() first (any render loads it)');
  return compile(withConfig(spec) as unknown as TopLevelSpec).spec;
}

let metricsInstalled = false;

/**
 * Give vega real text widths (from the font resvg draws with) instead of its 0.8 em/char estimate,
 * so titles, legends and label truncation are laid out for the text actually rendered.
 */
function installTextMetrics(): void {
  if (metricsInstalled) return;
  metricsInstalled = true;
  const files = fontFiles();
  const regularFile = files.find((f) => !/bold/i.test(f));
  const regular: FontMetrics = loadFontMetrics(regularFile) ?? ESTIMATE;
  const boldFile = regularFile
    ? files.find(
        (f) =>
          /bold/i.test(f) &&
          !/oblique|italic/i.test(f) &&
          f.replace(/-?Bold/i, '').replace(/\.ttf$/i, '') === regularFile.replace(/-?Regular/i, '').replace(/\.ttf$/i, ''),
      )
    : undefined;
  const bold: FontMetrics = loadFontMetrics(boldFile) ?? { width: (t, s) => regular.width(t, s) * 1.1 };
  type Item = { fontSize?: number; fontWeight?: string | number; limit?: number };
  // textMetrics is exported by vega (from vega-scenegraph) but missing from its typings.
  const tm = (vega as unknown as { textMetrics: { width: (item: Item, text?: unknown) => number } }).textMetrics;
  // Same contract as vega's own measureWidth: the (trimmed) line, capped at the item's limit
  // (vega truncates with an ellipsis to fit the limit).
  tm.width = (item: Item, text?: unknown) => {
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- vega hands over strings, numbers or line arrays; String() is its own conversion
    const str = text == null ? '' : String(text).trim();
    if (size <= 0 || !str) return 0;
    const w = item.fontWeight;
    const isBold = w === 'bold' || w === 'bolder' || (typeof w === 'number' && w >= 600) || (typeof w === 'string' && +w >= 600);
    const width = (isBold ? bold : regular).width(str, size);
    const limit = Number(item.limit);
    return limit > 0 ? Math.min(width, limit) : width;
  };
}

/**
 * Render a Vega-Lite spec to an SVG document string (headless: renderer 'none', no DOM).
 *
 * The output depends on the spec alone: vega numbers clip paths and gradients with process-wide
 * counters, which are reset for every figure, so a figure is the same bytes whichever process or
 * worker renders it, and after whatever other figures. Renders in one thread never interleave.
 *
 * Figures of one kind differ from layer to layer only in their data, titles, scale domains and
 * legend entries, while compiling (Vega-Lite → Vega) and parsing (Vega → dataflow description)
 * are half the work of a figure. So a spec is split into a template — the spec with those values
 * taken out (template.ts) — and its parameters; each template is compiled and parsed once per
 * thread, and each figure gets a View of it with its own data and signals. The SVG is the same,
 * byte for byte, as from compiling the spec itself (test/report/template.test.ts; bench/plots.bench.ts
 * measures the difference).
 */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const job = renderLock.then(() => (templatesEnabled() ? renderWithTemplate(spec) : renderFresh(spec)));
  renderLock = job.catch(() => undefined);
  return job;
}

/** renderSvg without templates: compile, parse and render a View for this spec alone. */
export async function renderSvgFresh(spec: VlSpec): Promise<string> {
  const job = renderLock.then(() => renderFresh(spec));
  renderLock = job.catch(() => undefined);
  return job;
}

let renderLock: Promise<unknown> = Promise.resolve();

/** WW_PLOT_TEMPLATES=0 turns the template cache off (every figure compiled afresh). */
function templatesEnabled(): boolean {
  return process.env.WW_PLOT_TEMPLATES !== '0';
}

async function renderFresh(spec: VlSpec): Promise<string> {
  await loadPlotStack();
  installTextMetrics();
  const view = new vega.View(vega.parse(compileVega(spec)), { renderer: 'none', logLevel: vega.Warn });
  try {
    vega.resetSVGDefIds();
    return compactSvg(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Parsed templates kept per thread; figures come in a handful of kinds, so this is rarely reached. */
const MAX_TEMPLATES = 64;
/** A parsed template, or 'fresh' for a spec shape Vega-Lite cannot compile as a template. */
const templates = new Map<string, Vega.Runtime | 'fresh'>();

async function renderWithTemplate(spec: VlSpec): Promise<string> {
  await loadPlotStack();
  const t = splitTemplate(spec);
  let runtime = templates.get(t.key);
  if (runtime) {
    templates.delete(t.key); // most recently used last
  } else {
    const vg = compileVega(t.template);
    if (usableTemplate(vg)) {
      if (t.subtitle !== undefined) parametrizeSubtitle(vg, t.subtitle);
      runtime = vega.parse(vg);
    } else runtime = 'fresh';
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value as string);
  }
  templates.set(t.key, runtime);
  if (runtime === 'fresh') return renderFresh(spec);
  installTextMetrics();
  // A new View each time: a reused one would keep the scenegraph items of the last figure and
  // order updated axis ticks differently from a fresh render.
  const view = new vega.View(runtime, { renderer: 'none', logLevel: vega.Warn });
  try {
    for (const [name, value] of Object.entries(t.signals)) view.signal(name, value);
    if (t.subtitle !== undefined) view.signal(SUBTITLE_SIGNAL, t.subtitle.value);
    for (const [name, values] of Object.entries(t.data)) view.data(name, values);
    vega.resetSVGDefIds();
    return compactSvg(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** The top-level subtitle as a Vega signal (Vega-Lite has no expression form for it). */
function parametrizeSubtitle(vg: Vega.Spec, subtitle: { value: unknown }): void {
  const title = vg.title;
  if (!title || typeof title !== 'object' || Array.isArray(title)) throw new Error('template: compiled spec has no title object');
  (title as { subtitle?: unknown }).subtitle = { signal: SUBTITLE_SIGNAL };
  vg.signals = [...(vg.signals ?? []), { name: SUBTITLE_SIGNAL, value: subtitle.value }];
}

/**
 * Round the geometry attributes (path data, transforms, coordinates) to 2 decimals: vega writes
 * full float precision, which triples the size of histogram-heavy figures for no visible gain.
 * Text content and aria labels are left untouched.
 */
export function compactSvg(svg: string): string {
  const round = (n: string) => {
    const v = Number(n);
    return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : n;
  };
  return svg.replace(
    / (d|transform|points|x|y|x1|y1|x2|y2|width|height|cx|cy|r)="([^"]*)"/g,
    (_m, a: string, v: string) => ` ${a}="${v.replace(/-?\d*\.\d+(?:e[-+]?\d+)?/gi, round)}"`,
  );
}

/** Render a spec to SVG and PNG. */
export async function renderBoth(spec: VlSpec, png?: PngOptions): Promise<{ svg: string; png: Uint8Array }> {
  const svg = await renderSvg(spec);
  return { svg, png: svgToPng(svg, png) };
}
