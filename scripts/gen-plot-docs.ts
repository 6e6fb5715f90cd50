/**
 * One example of every figure kind, made from the shared corpus (minigpt init / small-data /
 * big-data), so that docs/plots.md shows what the code draws today:
 *
 *   npx vite-node scripts/gen-plot-docs.ts [--corpus DIR]    write docs/plot-<kind>.png and the gallery block of docs/plots.md
 *
 * The same gallery (`figureGallery`) is what test/report/figures.test.ts renders and checks (PNGs
 * kept under test-results/figures/). The figures come from the library's spec builders: layer
 * figures from an analysis with randomize and mp_fit, model figures from its rows, the compare
 * figure from the three models, and the sweep figures from the three models taken as the steps
 * of a sweep (without a results database, which the figures do not need).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightWatcher } from '../src/index.js';
import type { LayerResult } from '../src/engine/layer.js';
import type { Row } from '../src/shared/rows.js';
import { summarize } from '../src/report/summary.js';
import { compareResults, type CompareInput } from '../src/report/compare.js';
import { layerFigureSpecs, type LayerFigure } from '../src/report/plots/layer.js';
import { modelFigureSpecs } from '../src/report/plots/model.js';
import { MODEL_COLORS, compareFigureSpec } from '../src/report/plots/compare.js';
import { sweepFigureSpecs, type SweepFigureData } from '../src/report/plots/sweep.js';
import type { VlSpec } from '../src/report/plots/spec.js';
import { STATUS_COLORS } from '../src/report/plots/palette.js';

export const DEFAULT_CORPUS = '/work/shared/corpus';
export const MODELS = ['init', 'small-data', 'big-data'] as const;

export interface GalleryFigure {
  /** File stem: docs/plot-<name>.png, test-results/figures/<name>.png. */
  name: string;
  /** Which figure of the CLI this is (`--plot-figures` name, compare or sweep-report figure). */
  kind: string;
  /** One line for the docs. */
  caption: string;
  spec: VlSpec;
  /**
   * The legend entries (or status classes) the figure tells apart by colour, with their colours:
   * the colour-vision test checks each pair on the rendered PNG.
   */
  series?: { label: string; color: string; dash?: number[] }[];
}

export function corpusAvailable(corpus = DEFAULT_CORPUS): boolean {
  return MODELS.every((m) => existsSync(join(corpus, 'minigpt', m, 'model.safetensors')));
}

/** The colour and dash scale of a layer figure's legend (layer.ts puts them on one layer). */
function legendSeries(spec: VlSpec): GalleryFigure['series'] {
  for (const l of (spec.layer as Record<string, unknown>[] | undefined) ?? []) {
    const enc = l.encoding as Record<string, { scale?: { domain?: unknown[]; range?: unknown[] } }> | undefined;
    const c = enc?.color?.scale;
    if (c?.domain && c.range && typeof c.range[0] === 'string') {
      const dashes = enc?.strokeDash?.scale?.range as number[][] | undefined;
      return c.domain.map((d, i) => ({ label: String(d), color: String(c.range![i]), ...(dashes ? { dash: dashes[i]! } : {}) }));
    }
  }
  return undefined;
}

/** The analysed layer shown in the layer figures: the first with every figure kind. */
function pickLayer(layers: readonly LayerResult[], want: readonly LayerFigure[]): LayerResult {
  const ok = layers.find((l) => want.every((f) => layerFigureSpecs(l, { figures: [f] })[f]));
  return ok ?? layers[0]!;
}

/** The figure data of a sweep whose steps are these models, in order (no results database needed). */
export function sweepDataFromModels(inputs: readonly { name: string; rows: readonly Row[] }[]): SweepFigureData {
  const layersById = new Map<string, { layer_id: number; name: string; values: { step: number; model: string; value: number | null }[] }>();
  inputs.forEach((m, step) => {
    for (const r of m.rows) {
      const key = `${String(r.layer_id)} ${String(r.name)}`;
      let l = layersById.get(key);
      if (!l) {
        l = { layer_id: Number(r.layer_id), name: String(r.name), values: [] };
        layersById.set(key, l);
      }
      const a = typeof r.alpha === 'number' && r.alpha >= 0 ? r.alpha : null;
      l.values.push({ step, model: m.name, value: a });
    }
  });
  return {
    stepsParsed: false,
    layers: [...layersById.values()],
    points: inputs.map((m, step) => {
      const alphas = m.rows.map((r) => r.alpha).filter((a): a is number => typeof a === 'number' && a >= 0);
      return {
        step,
        model: m.name,
        summary: summarize(m.rows),
        layers: m.rows.length,
        below2: alphas.filter((a) => a < 2).length,
        above6: alphas.filter((a) => a > 6).length,
        failedFits: m.rows.length - alphas.length,
      };
    }),
  };
}

export async function figureGallery(corpus = DEFAULT_CORPUS): Promise<GalleryFigure[]> {
  const dir = (m: string) => join(corpus, 'minigpt', m, 'model.safetensors');
  const out: GalleryFigure[] = [];

  // ---- layer figures: big-data with randomize and mp_fit
  const ww = new WeightWatcher(dir('big-data'));
  const rows = await ww.analyze({ keep_evals: true, randomize: true, mp_fit: true });
  const all: LayerFigure[] = ['esd', 'esd-linear', 'esd-loglin', 'ks-vs-xmin', 'alpha-vs-xmin', 'esd-random', 'mp-fit', 'mp-fit-random'];
  const layer = pickLayer(ww.getLayerResults(), all);
  const specs = layerFigureSpecs(layer);
  const captions: Record<LayerFigure, string> = {
    esd: 'log-log ESD: the tail pdf on log bins (solid), the fitted power law (dashed), λ_min',
    'esd-linear': 'the ESD on linear axes with λ_min',
    'esd-loglin': 'the ESD of log10 λ with λ_min and λ_max (dashed)',
    'ks-vs-xmin': 'the KS distance of every xmin candidate, the chosen one marked',
    'alpha-vs-xmin': 'α of every xmin candidate, with the α = 2 and 6 guides',
    'esd-random': 'the ESD and the ESD of the randomized matrix overlaid (`--randomize`)',
    'mp-fit': 'the Marchenko–Pastur fit: density, bulk edges, spike cutoff (dashed) (`--mp-fit`)',
    'mp-fit-random': 'the same for the randomized matrix (`--randomize --mp-fit`)',
  };
  for (const f of all) {
    const spec = specs[f];
    if (!spec) continue;
    const series = legendSeries(spec);
    out.push({ name: f, kind: f, caption: captions[f], spec, ...(series ? { series } : {}) });
  }
  // A square layer's MP fit is a quarter circle of singular values.
  const square = ww.getLayerResults().find((l) => l.row.N === l.row.M && layerFigureSpecs(l, { figures: ['mp-fit'] })['mp-fit']);
  if (square) {
    const spec = layerFigureSpecs(square, { figures: ['mp-fit'] })['mp-fit']!;
    const series = legendSeries(spec);
    out.push({
      name: 'mp-fit-square',
      kind: 'mp-fit',
      caption: 'mp-fit of a square layer: the quarter-circle law of the singular values',
      spec,
      ...(series ? { series } : {}),
    });
  }

  // ---- model figures
  const model = modelFigureSpecs(rows, { title: 'minigpt/big-data', columns: ['alpha', 'log_spectral_norm'] });
  const status = [
    { label: 'α < 2', color: STATUS_COLORS.over },
    { label: '2 ≤ α ≤ 6', color: STATUS_COLORS.ok },
    { label: 'α > 6', color: STATUS_COLORS.under },
  ];
  if (model['alpha-hist'])
    out.push({
      name: 'alpha-hist',
      kind: 'alpha-hist',
      caption: 'density of the layer alphas, bars in their α status colour',
      spec: model['alpha-hist'],
      series: status,
    });
  if (model['alpha-depth'])
    out.push({
      name: 'alpha-depth',
      kind: 'alpha-depth',
      caption: 'alpha by layer, coloured by status, with the 2 / 6 guides',
      spec: model['alpha-depth'],
      series: status,
    });
  if (model['log_spectral_norm-depth'])
    out.push({
      name: 'log_spectral_norm-depth',
      kind: '<column>-depth',
      caption: 'any numeric column by layer (`--plot-figures log_spectral_norm-depth`)',
      spec: model['log_spectral_norm-depth'],
    });

  // ---- compare and sweep: the three models
  const inputs: CompareInput[] = [];
  for (const m of MODELS) {
    const w = m === 'big-data' ? undefined : new WeightWatcher(dir(m));
    const r: Row[] = w ? await w.analyze() : rows;
    inputs.push({ name: m, source: dir(m), kind: 'model', rows: r, summary: summarize(r) });
  }
  const res = compareResults(inputs);
  const series = inputs.map((m) => ({ name: m.name, rows: m.rows }));
  const diffs = res.diffs.flatMap((d) =>
    d.deltas
      .map((delta, k) => ({ name: d.name, index: d.index, model: res.names[k + 1]!, delta }))
      .filter((x): x is { name: string; index: number; model: string; delta: number } => x.delta !== null),
  );
  const models = inputs.map((m, i) => ({ label: m.name, color: MODEL_COLORS[i]! }));
  out.push({
    name: 'compare',
    kind: 'compare',
    caption: '`compare A B C --plot FILE.png`: alpha distributions, alpha by layer, Δα per layer, the summary',
    spec: compareFigureSpec(series, { table: res.table, diffs }),
    series: models,
  });

  const data = sweepDataFromModels(inputs);
  const sweep = sweepFigureSpecs(data);
  const sweepCaptions: Record<string, string> = {
    'alpha-heatmap': '`sweep-report`: alpha per layer and step, vermillion below 2, blue above 6',
    'alpha-counts': '`sweep-report`: the number of layers with α < 2 and α > 6 per step',
    summary: '`sweep-report`: the summary metrics over the steps',
    'alpha-movers': '`sweep-report`: the layers whose alpha moved most (colour and dash per layer)',
  };
  for (const [k, spec] of Object.entries(sweep)) {
    const fig: GalleryFigure = { name: `sweep-${k}`, kind: `sweep ${k}`, caption: sweepCaptions[k] ?? k, spec };
    if (k === 'alpha-counts')
      fig.series = [
        { label: 'α < 2', color: STATUS_COLORS.over },
        { label: 'α > 6', color: STATUS_COLORS.under },
      ];
    if (k === 'alpha-movers') {
      const enc = (
        spec.layer as Record<
          string,
          { color: { scale: { domain: string[]; range: string[] } }; strokeDash: { scale: { range: number[][] } } }
        >[]
      )[0]!.encoding!;
      fig.series = enc.color.scale.domain.map((d, i) => ({
        label: d,
        color: enc.color.scale.range[i]!,
        dash: enc.strokeDash.scale.range[i]!,
      }));
    }
    out.push(fig);
  }
  return out;
}

const BLOCK = /<!-- generated: gallery -->\n[\s\S]*?<!-- end generated -->/;
export const PLOTS_DOC = fileURLToPath(new URL('../docs/plots.md', import.meta.url));

/** The gallery block of docs/plots.md for these figures. */
export function galleryMarkdown(figs: readonly GalleryFigure[]): string {
  const lines = [
    '<!-- generated: gallery -->',
    '<!-- made by `npx vite-node scripts/gen-plot-docs.ts` from the corpus (minigpt); do not edit by hand -->',
    '',
  ];
  for (const f of figs) lines.push(`**${f.name}** (${f.kind}): ${f.caption}.`, '', `![${f.name}](plot-${f.name}.png)`, '');
  lines.push('<!-- end generated -->');
  return lines.join('\n');
}

/** Gallery figures also written under the names other pages use. */
const ALSO_AS: Record<string, string> = { compare: 'compare-minigpt.png', 'sweep-alpha-heatmap': 'sweep-minigpt.png' };

async function main(): Promise<void> {
  const i = process.argv.indexOf('--corpus');
  const corpus = i > 0 ? resolve(process.argv[i + 1]!) : DEFAULT_CORPUS;
  if (!corpusAvailable(corpus)) throw new Error(`${corpus}: the minigpt corpus is missing`);
  const { renderSvg } = await import('../src/report/plots/render.js');
  const { svgToPng } = await import('../src/report/plots/raster.js');
  const figs = await figureGallery(corpus);
  const docs = fileURLToPath(new URL('../docs/', import.meta.url));
  for (const f of figs) {
    // Scale 1.5: sharp enough to read in the docs, small enough for the repository.
    const svg = await renderSvg(f.spec);
    writeFileSync(join(docs, `plot-${f.name}.png`), svgToPng(svg, { scale: 1.5 }));
    process.stderr.write(`docs/plot-${f.name}.png\n`);
    // The figures the README, cli.md and sweeps.md show.
    const other = ALSO_AS[f.name];
    if (other) {
      writeFileSync(join(docs, other), svgToPng(svg, { scale: 1.5 }));
      process.stderr.write(`docs/${other}\n`);
    }
  }
  const doc = readFileSync(PLOTS_DOC, 'utf8');
  const block = galleryMarkdown(figs);
  writeFileSync(PLOTS_DOC, BLOCK.test(doc) ? doc.replace(BLOCK, block) : `${doc.trimEnd()}\n\n## Gallery\n\n${block}\n`);
}

// vite-node drops the script's path from argv; under vitest argv[1] is a vitest worker.
if (/vite-node(\.m?js)?$/.test(process.argv[1] ?? '')) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
