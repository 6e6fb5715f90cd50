/**
 * The sweep report's layer ESD panel (issue 22): what the page embeds per layer, and the figure it
 * draws from it when a layer is clicked (report/sweep-esd-panel.ts).
 *
 * The page gets a summary, not the eigenvalues (a 7B checkpoint has ≈ 0.93 M of them): per layer,
 * SWEEP_ESD_BINS log-spaced bins shared by all its checkpoints (so the histograms overlay), and per
 * checkpoint the counts in those bins plus its fit — xmin, where the tail ends, alpha, and how many
 * eigenvalues are shown and in the tail. The histogrammed values are those the `esd` figure shows
 * (R38: λ > xmin/100, 0.4·λmax/100 when the fit failed). About 60 small integers per layer and
 * checkpoint: 224 layers × 20 checkpoints is ≈ 0.3 M numbers.
 *
 * LayerEsdBuilder makes the summaries in two passes over the stored spectra (the bin range of a
 * layer spans all its checkpoints), one checkpoint at a time, so no more than one checkpoint's
 * eigenvalues are held. sweepEsdSpec is the figure: a template (named data, compiled to Vega when
 * the report is written) whose data, scales and title the page fills per click, or, given a view,
 * the whole figure (tests render it to SVG).
 */
import type { Row } from '../../shared/rows.js';
import { SERIES_COLORS } from './palette.js';
import type { VlSpec } from './spec.js';

/** Bins per layer histogram. */
export const SWEEP_ESD_BINS = 60;

/** One checkpoint of a layer. */
export interface SweepRunEsd {
  /** Index of the first bin listed, and the counts from there (leading and trailing empty bins left out). */
  readonly o: number;
  readonly c: number[];
  /** Eigenvalues histogrammed, and those in the fitted tail [xmin, xend]. */
  readonly n: number;
  readonly t: number;
  /** The power-law fit: xmin, the end of the tail (xmax, else the largest eigenvalue) and alpha; null when the fit failed. */
  readonly xmin: number | null;
  readonly xend: number | null;
  readonly alpha: number | null;
}

export interface SweepLayerEsd {
  /** The layer's label (`<id> <name>`, as in the heatmap). */
  readonly name: string;
  /** log10 of the first and last bin edge. */
  readonly lo: number;
  readonly hi: number;
  /** One entry per checkpoint of SweepEsdData.runs; null where the run has no spectrum of this layer. */
  readonly runs: (SweepRunEsd | null)[];
}

export interface SweepEsdData {
  readonly bins: number;
  /** The sweep's checkpoints in step order: step, label on the figures' step axes, name in legends. */
  readonly runs: { readonly step: number; readonly label: string; readonly name: string }[];
  /** By layer anchor (`<layer_id>` or `<layer_id>_<slice_id>`, the figures' `anchor` field). */
  readonly layers: Record<string, SweepLayerEsd>;
  /** Series colours: first, clicked and last checkpoint (palette.ts SERIES order). */
  readonly colors: string[];
}

/** The fit columns of a row that the ESD panel draws. */
export interface EsdFit {
  readonly xmin: number | null;
  readonly xmax: number | null;
  readonly alpha: number | null;
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A row's fit, or nulls when it failed (as layerFigureSpecs decides: failed status, alpha < 0, xmin ≤ 0). */
export function esdFitOf(row: Row): EsdFit {
  const alpha = finite(row.alpha);
  const xmin = finite(row.xmin);
  const xmax = finite(row.xmax);
  if (row.status === 'failed' || alpha === null || alpha < 0 || xmin === null || !(xmin > 0))
    return { xmin: null, xmax: null, alpha: null };
  return { xmin, xmax: xmax !== null && xmax > 0 ? xmax : null, alpha };
}

/** The smallest eigenvalue the histogram shows, exclusive (R38: xmin/100; 0.4·λmax/100 when the fit failed). */
function shownAbove(evals: ArrayLike<number>, fit: EsdFit): number {
  const max = evals.length ? evals[evals.length - 1]! : 0;
  return Math.max(0, (fit.xmin ?? 0.4 * max) / 100);
}

/** Six significant digits: enough for a legend, and short in the page. */
function short(v: number): number {
  return Number(v.toPrecision(6));
}

interface Pending {
  readonly above: number;
  readonly n: number;
  readonly t: number;
  readonly fit: EsdFit;
  readonly xend: number | null;
  counts?: number[];
}

/**
 * Two passes over a sweep's spectra: `observe` every (layer, checkpoint) first, then `count` the
 * same ones again; `result` gives the summaries. Layers are keyed as the caller matches them across
 * checkpoints (by name and slice in sweep-report).
 */
export class LayerEsdBuilder {
  private readonly ranges = new Map<string, { lo: number; hi: number }>();
  private readonly pending = new Map<string, (Pending | null)[]>();

  constructor(
    private readonly runCount: number,
    private readonly bins = SWEEP_ESD_BINS,
  ) {}

  /** Pass 1: the shown range, and the counts that do not need the bins. */
  observe(key: string, run: number, evals: ArrayLike<number>, fit: EsdFit): void {
    const above = shownAbove(evals, fit);
    let lo = Infinity;
    let hi = -Infinity;
    let n = 0;
    let t = 0;
    // The stored eigenvalues are float32; the fit's xmin (and xmax, when it is the largest) is one
    // of them in float64: compared in float32, the tail counts the same values.
    const tailLo = fit.xmin !== null ? Math.fround(fit.xmin) : Infinity;
    const tailHi = fit.xmax !== null ? Math.fround(fit.xmax) : Infinity;
    for (let i = 0; i < evals.length; i++) {
      const v = evals[i]!;
      if (!(v > above) || !Number.isFinite(v)) continue;
      n++;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (v >= tailLo && v <= tailHi) t++;
    }
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = new Array<Pending | null>(this.runCount).fill(null)));
    if (!n) return;
    const xend = fit.xmin !== null ? Math.min(fit.xmax ?? hi, hi) : null;
    list[run] = { above, n, t, fit, xend };
    const r = this.ranges.get(key);
    this.ranges.set(key, r ? { lo: Math.min(r.lo, lo), hi: Math.max(r.hi, hi) } : { lo, hi });
  }

  /** The log10 range of a layer's bins: all its checkpoints' shown values (a single value: ± log10 1.5). */
  private range(key: string): { lo: number; hi: number } | undefined {
    const r = this.ranges.get(key);
    if (!r) return undefined;
    const lo = Math.log10(r.lo);
    const hi = Math.log10(r.hi);
    return hi > lo ? { lo, hi } : { lo: lo - Math.log10(1.5), hi: hi + Math.log10(1.5) };
  }

  /** Pass 2: the histogram counts. */
  count(key: string, run: number, evals: ArrayLike<number>): void {
    const p = this.pending.get(key)?.[run];
    const r = this.range(key);
    if (!p || !r) return;
    const counts = new Array<number>(this.bins).fill(0);
    const scale = this.bins / (r.hi - r.lo);
    for (let i = 0; i < evals.length; i++) {
      const v = evals[i]!;
      if (!(v > p.above) || !Number.isFinite(v)) continue;
      // Half-open bins, the last one closed (numpy), by position on the log axis.
      const b = Math.min(this.bins - 1, Math.max(0, Math.floor((Math.log10(v) - r.lo) * scale)));
      counts[b]!++;
    }
    p.counts = counts;
  }

  /** The summaries, for the layers given (key → anchor and label), in that order. */
  result(layers: readonly { key: string; anchor: string; name: string }[]): Record<string, SweepLayerEsd> {
    const out: Record<string, SweepLayerEsd> = {};
    for (const l of layers) {
      const r = this.range(l.key);
      const list = this.pending.get(l.key);
      if (!r || !list) continue;
      const runs = list.map((p): SweepRunEsd | null => {
        if (!p?.counts) return null;
        let first = 0;
        while (first < p.counts.length && p.counts[first] === 0) first++;
        let end = p.counts.length;
        while (end > first && p.counts[end - 1] === 0) end--;
        return {
          o: first,
          c: p.counts.slice(first, end),
          n: p.n,
          t: p.t,
          xmin: p.fit.xmin === null ? null : short(p.fit.xmin),
          xend: p.xend === null ? null : short(p.xend),
          alpha: p.fit.alpha === null ? null : short(p.fit.alpha),
        };
      });
      if (runs.some((x) => x !== null)) out[l.anchor] = { name: l.name, lo: r.lo, hi: r.hi, runs };
    }
    return out;
  }
}

/** Colours of the panel's series in order: the first, clicked and last checkpoint. */
export const SWEEP_ESD_COLORS: readonly string[] = SERIES_COLORS.slice(0, 3);

/** Line styles: the histogram solid, the power-law fit dashed (the `esd` figure's convention). */
export const ESD_HIST_DASH = [1, 0];
export const ESD_FIT_DASH = [6, 3];

/** What the page computes for one click (sweep-esd-panel.ts wwEsdView), and what sweepEsdSpec draws. */
export interface SweepEsdView {
  readonly title: string;
  readonly subtitle: string[];
  /** Histogram outlines (step lines) and fit lines: points in drawing order `i`, each of a legend `series`. */
  readonly hist: { x: number; y: number; i: number; series: string }[];
  readonly fit: { x: number; y: number; i: number; series: string }[];
  /** Legend entries, their colours and dashes. */
  readonly domain: string[];
  readonly colors: string[];
  readonly dashes: number[][];
  readonly x: [number, number];
  readonly y: [number, number];
}

/**
 * The ESD panel's figure: the checkpoints' histograms (step lines) and fitted power laws (dashed) on
 * log-log axes, one colour per checkpoint, with one legend whose entries show colour and dash.
 * Without a view, the template the page fills: data `hist` and `fit` by name, placeholder scales
 * `x`, `y`, `color` and `strokeDash`, and title.
 */
export function sweepEsdSpec(view?: SweepEsdView): VlSpec {
  const domain = view?.domain ?? ['checkpoint: ESD', 'checkpoint: power-law fit'];
  const legend = {
    orient: 'bottom',
    direction: 'horizontal',
    columns: 2,
    title: null,
    symbolType: 'stroke',
    symbolStrokeWidth: 2.5,
    symbolSize: 520,
    columnPadding: 14,
    labelLimit: 280,
  };
  const logAxis = (field: 'x' | 'y', title: string, bounds: readonly number[]) => ({
    field,
    type: 'quantitative',
    title,
    scale: { type: 'log', domain: bounds, nice: false },
    axis: { format: '~g' },
  });
  const x = logAxis('x', 'eigenvalue λ', view?.x ?? [0.01, 100]);
  const y = logAxis('y', 'density', view?.y ?? [0.001, 10]);
  const series = { field: 'series', type: 'nominal' };
  return {
    width: 500,
    height: 290,
    title: {
      text: view?.title ?? 'ESD',
      subtitle: view?.subtitle ?? [''],
    },
    layer: [
      {
        data: view ? { values: view.hist } : { name: 'hist' },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.8, clip: true },
        encoding: {
          x,
          y,
          order: { field: 'i', type: 'quantitative' },
          // Both channels on one field with one domain: Vega-Lite merges them into one legend whose
          // symbols are short lines in each entry's colour and dash (as the `esd` figure's legend).
          color: { ...series, scale: { domain, range: view?.colors ?? [SWEEP_ESD_COLORS[0], SWEEP_ESD_COLORS[0]] }, legend },
          strokeDash: { ...series, scale: { domain, range: view?.dashes ?? [ESD_HIST_DASH, ESD_FIT_DASH] }, legend },
        },
      },
      {
        data: view ? { values: view.fit } : { name: 'fit' },
        mark: { type: 'line', strokeWidth: 1.6, clip: true },
        encoding: { x, y, order: { field: 'i', type: 'quantitative' }, color: series, strokeDash: series },
      },
    ],
  };
}
