/**
 * The compare figure: for several models, overlaid alpha density histograms (one colour per model,
 * legend with the model names, shared bins), alpha by layer depth, the per-layer alpha difference
 * against the first model for layers whose names match, and a side-by-side table of the summary
 * metrics with the α > 6 / α < 2 layer counts.
 */
import type { Row } from '../../shared/rows.js';
import { fmt, histogram, num } from './data.js';
import { ALPHA_HIST_CAP, alphaEdges, clampToEdges, guideRules, validAlphas } from './model.js';
import type { VlSpec } from './render.js';

export interface CompareSeries {
  name: string;
  rows: readonly Row[];
}

export interface CompareTableRow {
  metric: string;
  values: (number | null)[];
}

/** Colours per model (Tableau 10, colour-blind friendlier order). */
export const MODEL_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];

export function modelColor(i: number): string {
  return MODEL_COLORS[i % MODEL_COLORS.length]!;
}

export interface CompareFigureOptions {
  /** Summary table rows (metric × model); omitted → no table panel. */
  table?: readonly CompareTableRow[];
  /** Per-layer alpha differences vs the first model (matched by name). */
  diffs?: readonly { name: string; index: number; model: string; delta: number }[];
  title?: string;
}

function modelScale(names: readonly string[]) {
  return { domain: [...names], range: names.map((_, i) => modelColor(i)) };
}

export function compareFigureSpec(series: readonly CompareSeries[], opts: CompareFigureOptions = {}): VlSpec {
  const names = series.map((s) => s.name);
  const all = series.flatMap((s) => validAlphas(s.rows));
  const edges = alphaEdges(all);
  const xScale = { domain: [edges[0], edges[edges.length - 1]], nice: false };
  const colorScale = modelScale(names);
  const legend = {
    title: 'model',
    orient: 'top',
    direction: 'horizontal',
    symbolType: 'square',
    symbolSize: 160,
    symbolOpacity: 1,
    symbolStrokeWidth: 0,
    labelLimit: 220,
    labelFontSize: 12,
    titleFontSize: 12,
  };

  // Overlaid histograms as step outlines with a light fill (bars of several models would hide each other).
  const steps: Record<string, unknown>[] = [];
  let clampedTotal = 0;
  series.forEach((s) => {
    const { values, clamped } = clampToEdges(validAlphas(s.rows), edges);
    clampedTotal += clamped;
    const bins = histogram(values, edges, true);
    for (const b of bins) steps.push({ model: s.name, x: b.x, density: b.density, count: b.count });
    const last = bins[bins.length - 1];
    if (last) steps.push({ model: s.name, x: last.x2, density: last.density, count: last.count });
  });
  const hist = {
    width: 420,
    height: 240,
    title: {
      text: 'Layer alpha distribution',
      subtitle: `density; dashed: α = 2 and α = 6${clampedTotal ? `; α > ${ALPHA_HIST_CAP} counted in the last bin` : ''}`,
    },
    layer: [
      {
        data: { values: steps },
        mark: { type: 'area', interpolate: 'step-after', opacity: 0.18 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'alpha', scale: xScale },
          y: { field: 'density', type: 'quantitative', title: 'density', stack: null },
          color: { field: 'model', type: 'nominal', scale: colorScale, legend },
        },
      },
      {
        data: { values: steps },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2.5 },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale },
          y: { field: 'density', type: 'quantitative' },
          color: { field: 'model', type: 'nominal', scale: colorScale },
        },
      },
      ...guideRules('x').map((g) => ({
        ...g,
        encoding: { ...(g.encoding as object), x: { field: 'v', type: 'quantitative', scale: xScale } },
      })),
    ],
  };

  const pts = series.flatMap((s) =>
    s.rows
      .map((r, i) => ({ model: s.name, depth: num(r.layer_id) ?? i, alpha: num(r.alpha), layer: String(r.name ?? '') }))
      .filter((p) => p.alpha !== undefined && Number.isFinite(p.alpha) && p.alpha >= 0),
  );
  const maxA = Math.max(7, ...pts.map((p) => p.alpha!));
  const minA = Math.min(1.5, ...pts.map((p) => p.alpha!).filter((a) => a > 0));
  // Untrained layers reach α ≈ 50: a log axis keeps the trained models' 2–6 band readable.
  const logA = maxA > 15;
  const yA = logA
    ? { type: 'log', domain: [Math.max(0.5, minA * 0.9), maxA * 1.1], nice: false }
    : { domain: [0, Math.ceil(maxA * 1.05)], nice: false };
  const depth = {
    width: 420,
    height: 240,
    title: { text: 'alpha by layer', subtitle: `one line per model${logA ? '; log scale' : ''}` },
    layer: [
      {
        data: { values: pts },
        mark: { type: 'line', strokeWidth: 1.5, opacity: 0.8, point: { filled: true, size: 28 } },
        encoding: {
          x: {
            field: 'depth',
            type: 'quantitative',
            title: 'layer id (depth)',
            axis: { format: 'd', tickMinStep: 1 },
            scale: { nice: false, zero: false },
          },
          y: { field: 'alpha', type: 'quantitative', title: 'alpha', scale: yA, axis: { format: '~g' } },
          color: { field: 'model', type: 'nominal', scale: colorScale },
          tooltip: [{ field: 'model' }, { field: 'layer' }, { field: 'alpha', format: '.3f' }],
        },
      },
      ...guideRules('y').map((g) => ({
        ...g,
        encoding: { ...(g.encoding as object), y: { field: 'v', type: 'quantitative', scale: yA } },
      })),
    ],
  };

  const rowPanels: Record<string, unknown>[] = [];
  if (opts.diffs && opts.diffs.length) {
    const nLayers = new Set(opts.diffs.map((d) => d.index)).size;
    rowPanels.push({
      width: 420,
      height: 200,
      title: {
        text: `Δ alpha per matched layer (vs ${names[0]})`,
        subtitle: `${nLayers} layers matched by name (x: position in ${names[0]}); below 0: lower α than ${names[0]}`,
      },
      data: { values: opts.diffs.map((d) => ({ ...d })) },
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'index',
          type: 'ordinal',
          title: 'matched layer (order in first model)',
          axis: nLayers > 40 ? { labels: false, ticks: false } : { labelAngle: 0, labelOverlap: true },
        },
        xOffset: { field: 'model', type: 'nominal', scale: { domain: names.slice(1) } },
        y: { field: 'delta', type: 'quantitative', title: 'Δ alpha' },
        color: { field: 'model', type: 'nominal', scale: colorScale },
        tooltip: [{ field: 'name', title: 'layer' }, { field: 'model' }, { field: 'delta', format: '+.3f', title: 'Δ alpha' }],
      },
    });
  }
  if (opts.table && opts.table.length) {
    const cells = opts.table.flatMap((t) =>
      t.values.map((v, i) => ({ metric: t.metric, model: names[i]!, text: v === null ? '—' : Number.isInteger(v) ? String(v) : fmt(v) })),
    );
    const metrics = opts.table.map((t) => t.metric);
    rowPanels.push({
      width: Math.max(240, 110 * names.length),
      height: 17 * metrics.length,
      title: { text: 'Summary (means over layers) and α counts', subtitle: ' ' },
      data: { values: cells },
      mark: { type: 'text', fontSize: 11, align: 'center', baseline: 'middle' },
      encoding: {
        x: {
          field: 'model',
          type: 'nominal',
          sort: names,
          axis: { orient: 'top', title: null, labelFontWeight: 'bold', labelAngle: 0, domain: false, ticks: false, labelLimit: 110 },
        },
        y: {
          field: 'metric',
          type: 'nominal',
          sort: metrics,
          axis: { title: null, domain: false, ticks: false, labelFontSize: 11, labelLimit: 240 },
        },
        text: { field: 'text' },
        color: { field: 'model', type: 'nominal', scale: colorScale },
      },
      view: { stroke: null },
    });
  }
  const spec: VlSpec = {
    title: { text: opts.title ?? `WeightWatcher compare: ${names.join(' vs ')}`, fontSize: 15, anchor: 'start' },
    vconcat: [{ hconcat: [hist, depth] }, ...(rowPanels.length ? [{ hconcat: rowPanels }] : [])],
    spacing: 24,
  };
  return spec;
}
