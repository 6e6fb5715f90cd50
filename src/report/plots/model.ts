/**
 * Model-level figures: the density histogram of layer alphas, and any numeric column by layer
 * depth (alpha with the α = 2 / α = 6 guide lines, log_spectral_norm, or a column named by the
 * caller). Failed fits (alpha = −1) and non-finite values are left out and counted in the subtitle.
 */
import type { Row } from '../../shared/rows.js';
import { OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA } from '../../metrics/powerlaw.js';
import { fmt, histogram, linspace, minMax, num } from './data.js';
import type { VlSpec } from './spec.js';
import { GUIDE_COLOR, GUIDE_DASH, SERIES_COLORS, STATUS_COLORS } from './palette.js';

export interface ModelPlotOptions {
  /** Columns plotted by depth (default: alpha, log_spectral_norm). */
  columns?: readonly string[];
  /** Include the alpha histogram (default true). */
  histogram?: boolean;
  width?: number;
  height?: number;
  /** Model name shown in titles. */
  title?: string;
}

/** Columns for which the α guide lines (2: over-trained, 6: under-trained) are drawn. */
const ALPHA_COLUMNS = new Set(['alpha', 'raw_alpha']);

/** The α status colours (palette.ts), under the name other modules import. */
export const GUIDE_COLORS = { over: STATUS_COLORS.over, under: STATUS_COLORS.under, ok: STATUS_COLORS.ok } as const;

/** α status of a value, as the figures' legends name it. */
export const STATUS_LABELS = { ok: '2 ≤ α ≤ 6', over: 'over-trained (α<2)', under: 'under-trained (α>6)' } as const;

export function alphaStatus(a: number): keyof typeof STATUS_LABELS {
  return a < OVER_TRAINED_ALPHA ? 'over' : a > UNDER_TRAINED_ALPHA ? 'under' : 'ok';
}

/** The status colour scale (legend order: over, ok, under). */
export const STATUS_SCALE = {
  domain: [STATUS_LABELS.over, STATUS_LABELS.ok, STATUS_LABELS.under],
  range: [STATUS_COLORS.over, STATUS_COLORS.ok, STATUS_COLORS.under],
};

/** Anchor of a layer's section in the analyze report (`<layer_id>` or `<layer_id>_<slice_id>`), as layerPlotId. */
export function layerAnchor(r: Row): string {
  const slice = num(r.slice_id);
  return slice === undefined ? String(r.layer_id) : `${String(r.layer_id)}_${slice}`;
}

export function validAlphas(rows: readonly Row[]): number[] {
  return rows.map((r) => num(r.alpha)).filter((a): a is number => a !== undefined && Number.isFinite(a) && a >= 0);
}

/** Alphas above this go into the last histogram bin (init models reach α ≈ 50 and would squash the rest). */
export const ALPHA_HIST_CAP = 12;

/** Shared bin edges for alpha histograms (so overlaid models use the same bins): 0.25 wide, [≤1.5, ≥6.5], capped. */
export function alphaEdges(alphas: readonly number[], bins?: number): number[] {
  const [lo0, hi0] = alphas.length ? minMax(alphas) : [1, 7];
  const lo = Math.floor(Math.min(lo0, 1.5) * 2) / 2;
  const hi = Math.min(ALPHA_HIST_CAP, Math.ceil(Math.max(hi0, 6.5) * 2) / 2);
  const n = bins ?? Math.max(12, Math.min(48, Math.round((hi - lo) / 0.25)));
  return linspace(lo, hi, n + 1);
}

/** Alphas with values beyond the last edge moved into the last bin. */
export function clampToEdges(alphas: readonly number[], edges: readonly number[]): { values: number[]; clamped: number } {
  const hi = edges[edges.length - 1]!;
  let clamped = 0;
  const values = alphas.map((a) => (a > hi ? (clamped++, hi) : a));
  return { values, clamped };
}

/**
 * The α = 2 and α = 6 guides on `axis`: grey dashed rules, each labelled at the plot's edge (top for
 * vertical rules, left for horizontal ones), never in a series or status colour.
 */
export function guideRules(axis: 'x' | 'y'): Record<string, unknown>[] {
  const guides = [
    { v: OVER_TRAINED_ALPHA, label: 'α = 2 (below: over-trained)', short: `α=${OVER_TRAINED_ALPHA}` },
    { v: UNDER_TRAINED_ALPHA, label: 'α = 6 (above: under-trained)', short: `α=${UNDER_TRAINED_ALPHA}` },
  ];
  const other = axis === 'x' ? 'y' : 'x';
  return [
    ...guides.map((g) => ({
      data: { values: [{ v: g.v, label: g.label }] },
      mark: { type: 'rule', color: GUIDE_COLOR, strokeDash: GUIDE_DASH, strokeWidth: 1.2, aria: true },
      encoding: { [axis]: { field: 'v', type: 'quantitative' }, description: { field: 'label' } },
    })),
    {
      data: { values: guides.map((g) => ({ v: g.v, short: g.short })) },
      mark: {
        type: 'text',
        color: GUIDE_COLOR,
        fontSize: 10,
        // Vertical rules: labelled at the top; horizontal ones at the right end, where depth
        // and step charts have the least data (the first layers sit at the left edge).
        align: axis === 'x' ? 'left' : 'right',
        baseline: axis === 'x' ? 'top' : 'bottom',
        dx: axis === 'x' ? 3 : -3,
        dy: axis === 'x' ? 2 : -2,
      },
      encoding: {
        [axis]: { field: 'v', type: 'quantitative' },
        [other]: axis === 'x' ? { value: 0 } : { value: { expr: 'width' } },
        text: { field: 'short' },
      },
    },
  ];
}

export function alphaHistogramSpec(rows: readonly Row[], opts: ModelPlotOptions = {}): VlSpec | undefined {
  const alphas = validAlphas(rows);
  if (!alphas.length) return undefined;
  const edges = alphaEdges(alphas);
  const { values, clamped } = clampToEdges(alphas, edges);
  const bins = histogram(values, edges, true);
  const failed = rows.length - alphas.length;
  const scale = { domain: [edges[0], edges[edges.length - 1]], nice: false };
  return {
    width: opts.width ?? 480,
    height: opts.height ?? 260,
    title: {
      text: `Layer alphas${opts.title ? ` — ${opts.title}` : ''}`,
      subtitle: `${alphas.length} layers; mean α=${fmt(alphas.reduce((s, a) => s + a, 0) / alphas.length)}; α<2: ${alphas.filter((a) => a < 2).length}; α>6: ${alphas.filter((a) => a > 6).length}${clamped ? `; ${clamped} with α>${ALPHA_HIST_CAP} in the last bin` : ''}${failed ? `; ${failed} failed fits not shown` : ''}`,
    },
    layer: [
      {
        // Each bin in the colour of its α status (bins are 0.25 wide on a grid through 2 and 6).
        data: {
          values: bins.map((b) => ({
            x: b.x,
            x2: b.x2,
            density: b.density,
            count: b.count,
            status: STATUS_LABELS[alphaStatus((b.x + b.x2) / 2)],
          })),
        },
        mark: { type: 'rect', opacity: 1, stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'alpha', scale },
          x2: { field: 'x2' },
          y: { field: 'density', type: 'quantitative', title: 'density' },
          y2: { datum: 0 },
          color: {
            field: 'status',
            type: 'nominal',
            scale: STATUS_SCALE,
            legend: { title: null, orient: 'bottom', direction: 'horizontal' },
          },
          tooltip: [{ field: 'x', title: 'from', format: '.2f' }, { field: 'x2', title: 'to', format: '.2f' }, { field: 'count' }],
        },
      },
      ...guideRules('x').map((g) => ({ ...g, encoding: { ...(g.encoding as object), x: { field: 'v', type: 'quantitative', scale } } })),
    ],
  };
}

function depthX(rows: readonly Row[]): { x: number; label: string }[] {
  return rows.map((r, i) => {
    const id = num(r.layer_id) ?? i;
    const slice = num(r.slice_id);
    return { x: slice === undefined ? id : id + slice / 1000, label: `${id}${slice === undefined ? '' : `:${slice}`} ${r.name ?? ''}` };
  });
}

/** A numeric column by layer depth (layer_id); alpha also gets the 2 / 6 guide lines and warning colours. */
export function columnByDepthSpec(rows: readonly Row[], column: string, opts: ModelPlotOptions = {}): VlSpec | undefined {
  const xs = depthX(rows);
  const isAlpha = ALPHA_COLUMNS.has(column);
  const pts = rows
    .map((r, i) => {
      const v = num(r[column]);
      const warn: string = isAlpha && v !== undefined ? STATUS_LABELS[alphaStatus(v)] : STATUS_LABELS.ok;
      return { depth: xs[i]!.x, value: v, layer: xs[i]!.label, status: warn, anchor: layerAnchor(r) };
    })
    .filter(
      (p): p is { depth: number; value: number; layer: string; status: string; anchor: string } =>
        p.value !== undefined && Number.isFinite(p.value) && (!isAlpha || p.value >= 0),
    );
  if (!pts.length) return undefined;
  const dropped = rows.length - pts.length;
  const [vLo, vHi] = minMax(pts.map((p) => p.value));
  const yScale: Record<string, unknown> = isAlpha ? { domain: [Math.min(0, vLo), Math.max(7, vHi * 1.05)], nice: false } : { zero: false };
  const x = { title: 'layer id (depth)', axis: { format: 'd', tickMinStep: 1 }, scale: { nice: false, zero: false } };
  const y = { title: column, scale: yScale };
  const layers: Record<string, unknown>[] = [
    {
      data: { values: pts },
      mark: { type: 'line', color: '#BBBBBB', strokeWidth: 1.5 },
      encoding: { x: { field: 'depth', type: 'quantitative', ...x }, y: { field: 'value', type: 'quantitative', ...y } },
    },
    {
      data: { values: pts },
      mark: { type: 'point', filled: true, size: 45, opacity: 1 },
      encoding: {
        x: { field: 'depth', type: 'quantitative', ...x },
        y: { field: 'value', type: 'quantitative', ...y },
        color: isAlpha
          ? { field: 'status', type: 'nominal', scale: STATUS_SCALE, legend: { title: null, orient: 'bottom', direction: 'horizontal' } }
          : { value: SERIES_COLORS[3] },
        tooltip: [{ field: 'layer' }, { field: 'value', title: column, format: '.4g' }, ...(isAlpha ? [{ field: 'status' }] : [])],
      },
    },
  ];
  if (isAlpha)
    layers.push(
      ...guideRules('y').map((g) => ({ ...g, encoding: { ...(g.encoding as object), y: { field: 'v', type: 'quantitative', ...y } } })),
    );
  return {
    width: opts.width ?? 480,
    height: opts.height ?? 260,
    title: {
      text: `${column} by layer${opts.title ? ` — ${opts.title}` : ''}`,
      subtitle: `mean ${column}=${fmt(pts.reduce((s, p) => s + p.value, 0) / pts.length)}; ${pts.length} layers${dropped ? `; ${dropped} not shown (failed/missing)` : ''}`,
    },
    layer: layers,
  };
}

export const DEFAULT_DEPTH_COLUMNS = ['alpha', 'log_spectral_norm'] as const;

/** Figure name → spec: `alpha-hist` and `<column>-depth` for each column. */
export function modelFigureSpecs(rows: readonly Row[], opts: ModelPlotOptions = {}): Record<string, VlSpec> {
  const out: Record<string, VlSpec> = {};
  if (opts.histogram !== false) {
    const h = alphaHistogramSpec(rows, opts);
    if (h) out['alpha-hist'] = h;
  }
  for (const col of opts.columns ?? DEFAULT_DEPTH_COLUMNS) {
    const s = columnByDepthSpec(rows, col, opts);
    if (s) out[`${col}-depth`] = s;
  }
  return out;
}
