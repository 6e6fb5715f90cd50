/**
 * The compare figure: for several models, overlaid alpha density histograms (one colour per model,
 * legend with the model names, shared bins), alpha by layer depth, the per-layer alpha difference
 * against the first model for layers whose names match, and a side-by-side table of the summary
 * metrics with the α > 6 / α < 2 layer counts.
 */
import type { Row } from '../../shared/rows.js';
import { fmt, histogram, num } from './data.js';
import { ALPHA_HIST_CAP, alphaEdges, clampToEdges, guideRules, layerAnchor, validAlphas } from './model.js';
import type { VlSpec } from './spec.js';
import { seriesColor, seriesDash, SERIES_COLORS } from './palette.js';

export interface CompareSeries {
  name: string;
  rows: readonly Row[];
}

export interface CompareTableRow {
  metric: string;
  values: (number | null)[];
}

/** Colours per model: the series colours of palette.ts (colour-blind safe; never a status or guide colour). */
export const MODEL_COLORS: readonly string[] = SERIES_COLORS;

export function modelColor(i: number): string {
  return seriesColor(i);
}

/** Longest layer label under the Δα bars; longer names are shortened (the full name is in the tooltip). */
export const SHORT_NAME_LENGTH = 18;

/**
 * Short labels for layer names: the prefix every name shares (up to a dot) is dropped, and what is
 * still longer than `max` keeps its end (where names differ: `h.11.mlp.c_fc`) after an ellipsis.
 * Labels stay distinct: a clash gets its position appended.
 */
export function shortLayerNames(names: readonly string[], max = SHORT_NAME_LENGTH): string[] {
  let prefix = names.length > 1 ? names[0]! : '';
  for (const n of names) while (prefix && !n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('.') + 1);
  const out = names.map((n) => {
    const rest = n.length > prefix.length ? n.slice(prefix.length) : n;
    return rest.length > max ? `…${rest.slice(rest.length - (max - 1))}` : rest;
  });
  const seen = new Map<string, number>();
  for (const o of out) seen.set(o, (seen.get(o) ?? 0) + 1);
  return out.map((o, i) => ((seen.get(o) ?? 0) > 1 ? `${o} #${i}` : o));
}

export interface CompareFigureOptions {
  /** Summary table rows (metric × model); omitted → no table panel. */
  table?: readonly CompareTableRow[];
  /** Per-layer alpha differences vs the first model (matched by name). */
  diffs?: readonly { name: string; index: number; model: string; delta: number; anchor?: string }[];
  title?: string;
}

function modelScale(names: readonly string[]) {
  return { domain: [...names], range: names.map((_, i) => modelColor(i)) };
}

/** Line dash per model: solid for the first SERIES_COLORS.length models, then dashed, … */
function modelDashScale(names: readonly string[]) {
  return { domain: [...names], range: names.map((_, i) => seriesDash(i)) };
}

/** The panels of the compare figure, each a figure of its own (the HTML report shows them apart, at full size). */
export interface ComparePanels {
  'alpha-hist': VlSpec;
  'alpha-depth': VlSpec;
  'alpha-delta'?: VlSpec;
  summary?: VlSpec;
}

/** The compare figure: its panels, two per row (compareFigurePanels for them one by one). */
export function compareFigureSpec(series: readonly CompareSeries[], opts: CompareFigureOptions = {}): VlSpec {
  const p = compareFigurePanels(series, opts);
  const names = series.map((s) => s.name);
  // One legend for the combined figure (the top one): the Δ panel's own, for its page of the report, goes.
  const delta = p['alpha-delta'] && withoutLegend(p['alpha-delta']);
  const rowPanels = [delta, p.summary].filter((x): x is VlSpec => x !== undefined);
  return {
    title: { text: opts.title ?? `WeightWatcher compare: ${names.join(' vs ')}`, fontSize: 15, anchor: 'start' },
    vconcat: [{ hconcat: [p['alpha-hist'], p['alpha-depth']] }, ...(rowPanels.length ? [{ hconcat: rowPanels }] : [])],
    spacing: 24,
  };
}

function withoutLegend(panel: VlSpec): VlSpec {
  const enc = panel.encoding as Record<string, Record<string, unknown>>;
  return { ...panel, encoding: { ...enc, color: { ...enc.color, legend: null } } };
}

export function compareFigurePanels(series: readonly CompareSeries[], opts: CompareFigureOptions = {}): ComparePanels {
  const names = series.map((s) => s.name);
  const all = series.flatMap((s) => validAlphas(s.rows));
  const edges = alphaEdges(all);
  const xScale = { domain: [edges[0], edges[edges.length - 1]], nice: false };
  const colorScale = modelScale(names);
  const dashScale = modelDashScale(names);
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
          strokeDash: { field: 'model', type: 'nominal', scale: dashScale },
        },
      },
      ...guideRules('x').map((g) => ({
        ...g,
        encoding: { ...(g.encoding as object), x: { field: 'v', type: 'quantitative', scale: xScale } },
      })),
    ],
  };

  const pts = series.flatMap((s, k) =>
    s.rows
      .map((r, i) => ({
        model: s.name,
        depth: num(r.layer_id) ?? i,
        alpha: num(r.alpha),
        layer: String(r.name ?? ''),
        // the section the compare report opens on a click: this model's ESD of the layer
        target: `layer-m${k}-${layerAnchor(r)}`,
      }))
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
          color: { field: 'model', type: 'nominal', scale: colorScale, legend },
          strokeDash: { field: 'model', type: 'nominal', scale: dashScale },
          tooltip: [{ field: 'model' }, { field: 'layer' }, { field: 'alpha', format: '.3f' }],
        },
      },
      ...guideRules('y').map((g) => ({
        ...g,
        encoding: { ...(g.encoding as object), y: { field: 'v', type: 'quantitative', scale: yA } },
      })),
    ],
  };

  let delta: VlSpec | undefined;
  if (opts.diffs && opts.diffs.length) {
    const order = [...new Set(opts.diffs.map((d) => d.index))].sort((a, b) => a - b);
    const fullName = new Map(opts.diffs.map((d) => [d.index, d.name]));
    const shortNames = shortLayerNames(order.map((i) => fullName.get(i)!));
    const shortOf = new Map(order.map((i, k) => [i, shortNames[k]!]));
    const nLayers = order.length;
    const others = names.slice(1);
    delta = {
      // About 9 px per bar and 8 between layers: room for the slanted names under them.
      width: Math.max(420, Math.min(1100, nLayers * (9 * others.length + 8))),
      height: 220,
      title: {
        text: `Δ alpha per matched layer (vs ${names[0]})`,
        subtitle: `${nLayers} layers matched by name, in ${names[0]}'s order; below 0: lower α than ${names[0]}${nLayers > 40 ? '; hover a bar for its layer' : ''}`,
      },
      data: {
        values: opts.diffs.map((d) => ({
          ...d,
          layer: shortOf.get(d.index)!,
          ...(d.anchor !== undefined ? { target: `layer-m${names.indexOf(d.model)}-${d.anchor}` } : {}),
        })),
      },
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'layer',
          type: 'ordinal',
          sort: shortNames,
          title: 'matched layer',
          axis:
            nLayers > 40 ? { labels: false, ticks: false } : { labelAngle: -45, labelAlign: 'right', labelLimit: 130, labelFontSize: 10 },
        },
        xOffset: { field: 'model', type: 'nominal', scale: { domain: others } },
        y: { field: 'delta', type: 'quantitative', title: 'Δ alpha' },
        color: { field: 'model', type: 'nominal', scale: colorScale, legend: series.length > 2 ? { ...legend, values: others } : null },
        tooltip: [{ field: 'name', title: 'layer' }, { field: 'model' }, { field: 'delta', format: '+.3f', title: 'Δ alpha' }],
      },
    };
  }
  let summary: VlSpec | undefined;
  if (opts.table && opts.table.length) {
    const cells = opts.table.flatMap((t) =>
      t.values.map((v, i) => ({ metric: t.metric, model: names[i]!, text: v === null ? '—' : Number.isInteger(v) ? String(v) : fmt(v) })),
    );
    const metrics = opts.table.map((t) => t.metric);
    summary = {
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
    };
  }
  return { 'alpha-hist': hist, 'alpha-depth': depth, ...(delta ? { 'alpha-delta': delta } : {}), ...(summary ? { summary } : {}) };
}
