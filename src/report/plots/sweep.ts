/**
 * Figures of a sweep (weightwatcher sweep-report): alpha per layer × step as a heatmap, the summary
 * metrics over steps, the number of layers with alpha < 2 and > 6 over steps, and the layers whose
 * alpha moved most. Plain data in (no database here: src/sweep queries it), Vega-Lite specs out,
 * rendered by render.ts like every other figure.
 */
import { OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA } from '../../metrics/powerlaw.js';
import type { Summary } from '../summary.js';
import { fmt } from './data.js';
import { GUIDE_COLORS, guideRules } from './model.js';
import type { VlSpec } from './spec.js';
import { HEATMAP_RAMP, SERIES_COLORS, STATUS_COLORS, seriesColor, seriesDash } from './palette.js';

/** Anchor of a layer in the reports (`<layer_id>` or `<layer_id>_<slice_id>`). */
export function layerAnchorOf(l: { layer_id: number; slice_id?: number }): string {
  return l.slice_id !== undefined ? `${l.layer_id}_${l.slice_id}` : String(l.layer_id);
}

export interface SweepStepPoint {
  readonly step: number;
  readonly model: string;
  readonly summary: Summary;
  readonly layers: number;
  readonly below2: number;
  readonly above6: number;
  readonly failedFits: number;
}

export interface SweepLayerSeries {
  readonly layer_id: number;
  readonly name: string;
  readonly slice_id?: number;
  readonly values: readonly { step: number; model: string; value: number | null }[];
}

export interface SweepFigureData {
  readonly points: readonly SweepStepPoint[];
  /** Alpha per layer, in natural layer order. */
  readonly layers: readonly SweepLayerSeries[];
  /** True: steps come from the names (a numeric axis); false: positions, shown by model name. */
  readonly stepsParsed: boolean;
  readonly title?: string;
}

export interface AlphaMover {
  readonly layer_id: number;
  readonly name: string;
  readonly slice_id?: number;
  readonly first: number;
  readonly last: number;
  /** last − first. */
  readonly delta: number;
  readonly min: number;
  readonly max: number;
  /** max − min over the steps: how far alpha moved. */
  readonly range: number;
  readonly steps: number;
}

/** Label of a layer in figures and tables: `<id> <name>` (`<id>:<slice>` for unpooled conv rows). */
export function layerLabel(l: { layer_id: number; name: string; slice_id?: number }): string {
  return `${l.layer_id}${l.slice_id !== undefined ? `:${l.slice_id}` : ''} ${l.name}`;
}

/** Label of a step on ordinal axes. */
export function stepLabel(p: { step: number; model: string }, stepsParsed: boolean): string {
  return stepsParsed ? String(p.step) : p.model;
}

/**
 * Layers ranked by how far alpha moved over the steps (max − min of the finite alphas; failed fits
 * are left out), largest first. Layers seen at fewer than two steps are not ranked.
 */
export function alphaMovers(layers: readonly SweepLayerSeries[], top = 12): AlphaMover[] {
  const out: AlphaMover[] = [];
  for (const l of layers) {
    const vals = l.values.filter((v): v is { step: number; model: string; value: number } => v.value !== null && v.value >= 0);
    if (vals.length < 2) continue;
    const ys = vals.map((v) => v.value);
    const min = Math.min(...ys);
    const max = Math.max(...ys);
    out.push({
      layer_id: l.layer_id,
      name: l.name,
      ...(l.slice_id !== undefined ? { slice_id: l.slice_id } : {}),
      first: ys[0]!,
      last: ys[ys.length - 1]!,
      delta: ys[ys.length - 1]! - ys[0]!,
      min,
      max,
      range: max - min,
      steps: vals.length,
    });
  }
  return out.sort((a, b) => b.range - a.range || a.layer_id - b.layer_id).slice(0, top);
}

/** Colour range of the heatmap: alphas outside are clamped (init layers reach α ≈ 50) to the status colours. */
export const HEATMAP_DOMAIN: readonly [number, number] = [OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA];

function stepAxis(data: SweepFigureData): {
  field: string;
  type: 'quantitative' | 'ordinal';
  sort?: string[];
  title: string;
  axis?: Record<string, unknown>;
} {
  const order = data.points.map((p) => stepLabel(p, data.stepsParsed));
  return data.stepsParsed
    ? { field: 'step', type: 'quantitative', title: 'step', axis: { format: '~s', tickMinStep: 1 } }
    : {
        field: 'label',
        type: 'ordinal',
        sort: order,
        title: 'model (order given)',
        axis: { labelAngle: order.every((l) => l.length <= 12) ? 0 : -30, labelLimit: 160 },
      };
}

/** Alpha per layer (rows, natural layer order) × step (columns). */
export function alphaHeatmapSpec(data: SweepFigureData): VlSpec | undefined {
  if (!data.layers.length || !data.points.length) return undefined;
  const cols = data.points.map((p) => stepLabel(p, data.stepsParsed));
  const rows = data.layers.map(layerLabel);
  const cells = data.layers.flatMap((l) =>
    l.values.map((v) => {
      const a = v.value;
      const status =
        a === null || a < 0
          ? 'failed fit'
          : a < OVER_TRAINED_ALPHA
            ? 'over-trained (α<2)'
            : a > UNDER_TRAINED_ALPHA
              ? 'under-trained (α>6)'
              : 'ok';
      return {
        layer: layerLabel(l),
        anchor: layerAnchorOf(l),
        col: stepLabel(v, data.stepsParsed),
        // The step of the cell: a click opens the layer's ESD at this step (sweep-esd-panel.ts).
        step: v.step,
        alpha: a !== null && a >= 0 ? a : null,
        shown: a !== null && a >= 0 ? Math.min(HEATMAP_DOMAIN[1], Math.max(HEATMAP_DOMAIN[0], a)) : null,
        status,
      };
    }),
  );
  const cellW = Math.max(8, Math.min(90, Math.floor(720 / cols.length)));
  const cellH = Math.max(4, Math.min(16, Math.floor(1400 / rows.length)));
  const over = cells.filter((c) => c.status === 'over-trained (α<2)').length;
  const under = cells.filter((c) => c.status === 'under-trained (α>6)').length;
  return {
    width: Math.max(240, cellW * cols.length),
    height: cellH * rows.length,
    title: {
      text: `alpha per layer and ${data.stepsParsed ? 'step' : 'model'}${data.title ? ` — ${data.title}` : ''}`,
      subtitle: [
        `${rows.length} layers × ${cols.length} ${data.stepsParsed ? 'steps' : 'models'}; colours clamped to [${HEATMAP_DOMAIN[0]}, ${HEATMAP_DOMAIN[1]}]`,
        `vermillion: α < ${OVER_TRAINED_ALPHA} (${over} cells); blue: α > ${UNDER_TRAINED_ALPHA} (${under} cells); grey: failed fit`,
      ],
    },
    data: { values: cells },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: cellW > 10 && cellH > 6 ? 0.5 : 0 },
        encoding: {
          x: {
            field: 'col',
            type: 'ordinal',
            sort: cols,
            title: data.stepsParsed ? 'step' : 'model (order given)',
            axis: { labelAngle: data.stepsParsed || cols.every((c) => c.length <= 12) ? 0 : -30, labelOverlap: true, labelLimit: 140 },
          },
          y: {
            field: 'layer',
            type: 'ordinal',
            sort: rows,
            title: 'layer (id name)',
            axis: { labelLimit: 220, labelFontSize: cellH < 9 ? 7 : 9, labels: cellH >= 5 },
          },
          color: {
            field: 'shown',
            type: 'quantitative',
            title: 'alpha',
            // The status colours at both ends: vermillion up to α = 2, blue from α = 6 (palette.ts).
            scale: { type: 'linear', domain: [...HEATMAP_RAMP.domain], range: [...HEATMAP_RAMP.range], clamp: true, interpolate: 'lab' },
            legend: { orient: 'right', gradientLength: Math.min(240, Math.max(80, cellH * rows.length - 40)), values: [2, 3, 4, 5, 6] },
          },
          tooltip: [
            { field: 'layer' },
            { field: 'col', title: data.stepsParsed ? 'step' : 'model' },
            { field: 'alpha', format: '.3f' },
            { field: 'status' },
          ],
        },
      },
      {
        // Failed fits (no alpha) as grey cells.
        transform: [{ filter: 'datum.shown === null' }],
        mark: { type: 'rect', color: STATUS_COLORS.failed },
        encoding: {
          x: { field: 'col', type: 'ordinal', sort: cols },
          y: { field: 'layer', type: 'ordinal', sort: rows },
        },
      },
    ],
    config: { axis: { grid: false } },
  };
}

/** The summary metrics (means over layers) over steps, one small panel per metric. */
export function summaryOverStepsSpec(data: SweepFigureData): VlSpec | undefined {
  const metrics = [...new Set(data.points.flatMap((p) => Object.keys(p.summary)))];
  const values = data.points
    .flatMap((p) =>
      metrics.map((m) => ({
        step: p.step,
        label: stepLabel(p, data.stepsParsed),
        metric: m,
        value: p.summary[m as keyof Summary] ?? null,
      })),
    )
    .filter((v) => typeof v.value === 'number' && Number.isFinite(v.value));
  if (!values.length) return undefined;
  const x = stepAxis(data);
  return {
    title: {
      text: `Summary metrics over ${data.stepsParsed ? 'steps' : 'models'}${data.title ? ` — ${data.title}` : ''}`,
      subtitle: 'means over the analysed layers (failed fits included, as in the reference)',
    },
    data: { values },
    facet: { field: 'metric', type: 'nominal', sort: metrics, title: null, header: { labelFontSize: 12, labelFontWeight: 'bold' } },
    columns: 3,
    spec: {
      width: 220,
      height: 140,
      layer: [
        {
          mark: { type: 'line', color: SERIES_COLORS[3], strokeWidth: 2, point: { filled: true, size: 30 } },
          encoding: {
            x: { ...x },
            y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
            tooltip: [{ field: x.field, title: x.title }, { field: 'metric' }, { field: 'value', format: '.4g' }],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Number of layers with alpha < 2 and alpha > 6 over steps. */
export function alphaCountsSpec(data: SweepFigureData): VlSpec | undefined {
  if (!data.points.length) return undefined;
  const over = `α < ${OVER_TRAINED_ALPHA} (over-trained)`;
  const under = `α > ${UNDER_TRAINED_ALPHA} (under-trained)`;
  const values = data.points.flatMap((p) => [
    { step: p.step, label: stepLabel(p, data.stepsParsed), series: over, count: p.below2, layers: p.layers },
    { step: p.step, label: stepLabel(p, data.stepsParsed), series: under, count: p.above6, layers: p.layers },
  ]);
  const x = stepAxis(data);
  return {
    width: 460,
    height: 220,
    title: {
      text: `Layers with α < ${OVER_TRAINED_ALPHA} and α > ${UNDER_TRAINED_ALPHA}${data.title ? ` — ${data.title}` : ''}`,
      subtitle: `out of ${[...new Set(data.points.map((p) => p.layers))].join(' / ')} analysed layers per ${data.stepsParsed ? 'step' : 'model'}`,
    },
    data: { values },
    mark: { type: 'line', strokeWidth: 2.5, point: { filled: true, size: 40 } },
    encoding: {
      x: { ...x },
      y: { field: 'count', type: 'quantitative', title: 'layers', axis: { tickMinStep: 1, format: 'd' } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: [over, under], range: [GUIDE_COLORS.over, GUIDE_COLORS.under] },
        legend: { orient: 'bottom', direction: 'horizontal' },
      },
      tooltip: [{ field: x.field, title: x.title }, { field: 'series' }, { field: 'count' }, { field: 'layers', title: 'of layers' }],
    },
  };
}

/** Alpha over steps of the layers whose alpha moved most, with the 2 / 6 guide lines. */
export function alphaMoversSpec(data: SweepFigureData, movers: readonly AlphaMover[]): VlSpec | undefined {
  if (!movers.length) return undefined;
  const keep = new Set(movers.map((m) => layerLabel(m)));
  const names = movers.map((m) => layerLabel(m));
  const values = data.layers
    .filter((l) => keep.has(layerLabel(l)))
    .flatMap((l) =>
      l.values
        .filter((v) => v.value !== null && v.value >= 0)
        .map((v) => ({
          step: v.step,
          label: stepLabel(v, data.stepsParsed),
          layer: layerLabel(l),
          anchor: layerAnchorOf(l),
          alpha: v.value,
        })),
    );
  const x = stepAxis(data);
  const maxA = Math.max(7, ...values.map((v) => v.alpha ?? 0));
  const logA = maxA > 15;
  const yScale = logA
    ? { type: 'log', domain: [Math.max(0.5, Math.min(1.5, ...values.map((v) => v.alpha ?? 2)) * 0.9), maxA * 1.1], nice: false }
    : { domain: [0, Math.ceil(maxA * 1.05)], nice: false };
  return {
    width: 460,
    height: 260,
    title: {
      text: `The ${movers.length} layers whose alpha moved most`,
      subtitle: `ranked by max − min of alpha over ${data.stepsParsed ? 'steps' : 'models'}${logA ? '; log scale' : ''}; dashed: α = 2 and α = 6`,
    },
    layer: [
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 1.8, point: { filled: true, size: 26 } },
        encoding: {
          x: { ...x },
          y: { field: 'alpha', type: 'quantitative', title: 'alpha', scale: yScale, axis: { format: '~g' } },
          color: {
            field: 'layer',
            type: 'nominal',
            sort: names,
            scale: { domain: names, range: names.map((_, i) => seriesColor(i)) },
            legend: { title: 'layer', labelLimit: 220, symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2.5 },
          },
          // Past the five series colours the dash changes: no two layers share colour and dash.
          strokeDash: { field: 'layer', type: 'nominal', sort: names, scale: { domain: names, range: names.map((_, i) => seriesDash(i)) } },
          tooltip: [{ field: 'layer' }, { field: x.field, title: x.title }, { field: 'alpha', format: '.3f' }],
        },
      },
      ...guideRules('y').map((g) => ({
        ...g,
        encoding: { ...(g.encoding as object), y: { field: 'v', type: 'quantitative', scale: yScale } },
      })),
    ],
  };
}

/** Figure name → spec for the sweep report. */
export function sweepFigureSpecs(data: SweepFigureData, movers: readonly AlphaMover[] = alphaMovers(data.layers)): Record<string, VlSpec> {
  const out: Record<string, VlSpec> = {};
  const add = (name: string, spec: VlSpec | undefined) => {
    if (spec) out[name] = spec;
  };
  add('alpha-heatmap', alphaHeatmapSpec(data));
  add('alpha-counts', alphaCountsSpec(data));
  add('summary', summaryOverStepsSpec(data));
  add('alpha-movers', alphaMoversSpec(data, movers));
  return out;
}

/** One-line description of a mover for text output. */
export function formatMover(m: AlphaMover): string {
  return `${layerLabel(m)}: α ${fmt(m.first)} → ${fmt(m.last)} (Δ ${m.delta >= 0 ? '+' : ''}${fmt(m.delta)}; range ${fmt(m.min)}–${fmt(m.max)})`;
}
