/**
 * Per-layer figures (R38) as Vega-Lite specs: the power-law fit views (esd, esd-linear,
 * esd-loglin, ks-vs-xmin, alpha-vs-xmin) for every layer with kept eigenvalues, and, when the
 * randomize / mp_fit extensions left their data in `LayerResult.extra`, the randomized ESD with
 * correlation traps (esd-random) and the Marchenko–Pastur fits (mp-fit, mp-fit-random).
 *
 * Marks that carry a fitted value (xmin, xmax, bulk edges, traps …) get an aria description
 * `<what> = <full-precision value>` so the SVG can be checked (and read by screen readers).
 */
import type { LayerResult } from '../../engine/layer.js';
import type { Row } from '../../shared/rows.js';
import { finiteValues, fmt, histogram, linearEdges, linspace, logEdges, minMax, num, powerlawPdf, type Bin } from './data.js';
import type { VlSpec } from './spec.js';
import { GUIDE_COLOR, GUIDE_DASH, LAYER_COLORS } from './palette.js';

export const LAYER_FIGURES = [
  'esd',
  'esd-linear',
  'esd-loglin',
  'ks-vs-xmin',
  'alpha-vs-xmin',
  'esd-random',
  'mp-fit',
  'mp-fit-random',
] as const;
export type LayerFigure = (typeof LAYER_FIGURES)[number];

export interface LayerPlotOptions {
  /** Figures to make (default: all that the layer's data allows). */
  figures?: readonly LayerFigure[];
  width?: number;
  height?: number;
}

/** Colours of the layer figures' marks (palette.ts; kept under this name for callers). */
export const COLORS = {
  hist: LAYER_COLORS.hist,
  fit: LAYER_COLORS.fit,
  xmin: LAYER_COLORS.xmin,
  xmax: LAYER_COLORS.xmax,
  original: LAYER_COLORS.hist,
  random: LAYER_COLORS.random,
  randomMp: LAYER_COLORS.random,
  maxRand: LAYER_COLORS.maxRand,
  trap: LAYER_COLORS.trap,
  mp: LAYER_COLORS.fit,
  edge: LAYER_COLORS.edge,
  guide: GUIDE_COLOR,
} as const;

/** Line styles, shown in the legends: solid for data and fitted curves, dashed for fits and cutoffs. */
const SOLID: number[] = [1, 0];
const DASHED: number[] = [6, 4];

/** File-name id: `<layer_id>` or `<layer_id>_<slice_id>` for pool=False slices. */
export function layerPlotId(row: Row): string {
  const slice = num(row.slice_id);
  return slice === undefined ? String(row.layer_id) : `${row.layer_id}_${slice}`;
}

/** Title id as the reference writes it: `<layer_id>` or `<layer_id>:<slice_id>`. */
export function layerTitleId(row: Row): string {
  const slice = num(row.slice_id);
  return slice === undefined ? String(row.layer_id) : `${row.layer_id}:${slice}`;
}

function toFloat(v: unknown): Float64Array | undefined {
  if (v instanceof Float64Array) return v;
  if (v instanceof Float32Array) return Float64Array.from(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Float64Array.from(v);
  return undefined;
}

export interface MpInfo {
  sigma_mp: number;
  Q: number;
  W_scale: number;
  num_spikes?: number;
  mp_softrank?: number;
}

/**
 * MP fit parameters from `extra.get(key)` (an object with sigma_mp, Q, W_scale, …) or else from the
 * row's columns (`<prefix>sigma_mp`, `<prefix>W_scale`, Q). W_scale defaults to sqrt(n / Σλ).
 */
export function readMp(layer: LayerResult, key: 'mp' | 'rand_mp', evals: Float64Array | undefined): MpInfo | undefined {
  const prefix = key === 'mp' ? '' : 'rand_';
  const obj = layer.extra?.get(key);
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
  const row = layer.row;
  const sigma = num(o.sigma_mp) ?? num(o.sigma) ?? num(row[`${prefix}sigma_mp`]);
  if (sigma === undefined || !(sigma > 0)) return undefined;
  const Q = num(o.Q) ?? num(row.Q);
  if (Q === undefined || !(Q > 0)) return undefined;
  let W = num(o.W_scale) ?? num(row[`${prefix}W_scale`]);
  if ((W === undefined || !(W > 0)) && evals && evals.length) {
    let s = 0;
    for (const v of evals) s += v;
    W = Math.sqrt(evals.length / s);
  }
  if (W === undefined || !(W > 0)) return undefined;
  const info: MpInfo = { sigma_mp: sigma, Q, W_scale: W };
  const spikes = num(o.num_spikes) ?? num(row[`${prefix}num_spikes`]);
  if (spikes !== undefined) info.num_spikes = spikes;
  const soft = num(o.mp_softrank) ?? num(row[`${prefix}mp_softrank`]);
  if (soft !== undefined) info.mp_softrank = soft;
  return info;
}

/** MP bulk edges in rescaled units and the Tracy–Widom spike cutoff (R31). */
export function mpEdges(sigma: number, Q: number, M: number): { a: number; b: number; cutoff: number } {
  const r = 1 / Math.sqrt(Q);
  const a = (sigma * (1 - r)) ** 2;
  const b = (sigma * (1 + r)) ** 2;
  const tw = M > 0 ? r * b ** (2 / 3) * M ** (-2 / 3) : 0;
  return { a, b, cutoff: b + Math.sqrt(tw) };
}

// ---------------------------------------------------------------- building blocks

type Layer = Record<string, unknown>;

/**
 * Histogram bars from `bins`. On a log y axis the bars start at `floor` (the axis bottom), carried
 * in the data rather than as a constant, so that figures of one kind differ only in data and
 * parameters (template.ts) and share one compiled template.
 */
function barsLayer(bins: Bin[], color: string, opts: { opacity?: number; logY?: boolean; floor?: number; series?: string } = {}): Layer {
  const floor = opts.floor ?? 1e-6;
  const values = bins
    .filter((b) => !opts.logY || b.density > 0)
    .map((b) => ({
      x: b.x,
      x2: b.x2,
      density: b.density,
      ...(opts.logY ? { floor } : {}),
      ...(opts.series ? { series: opts.series } : {}),
    }));
  return {
    data: { values },
    mark: { type: 'rect', color, opacity: opts.opacity ?? 0.75, stroke: null },
    encoding: {
      x: { field: 'x', type: 'quantitative' },
      x2: { field: 'x2' },
      y: { field: 'density', type: 'quantitative' },
      y2: opts.logY ? { field: 'floor' } : { datum: 0 },
    },
  };
}

/**
 * Legend entries come from a `series` field: Vega-Lite merges the colour and the dash legend into
 * one (a short line in each entry's colour and dash) only for channels that encode the same field.
 */
const SERIES_ENCODING = {
  color: { field: 'series', type: 'nominal' },
  strokeDash: { field: 'series', type: 'nominal' },
} as const;

/** A vertical rule at `value` with an aria description `<what> = <value>`. */
function vrule(value: number, color: string, what: string, opts: { dash?: number[]; width?: number; legend?: string } = {}): Layer {
  return {
    data: { values: [{ v: value, label: `${what} = ${value}`, ...(opts.legend ? { series: opts.legend } : {}) }] },
    mark: { type: 'rule', color, strokeWidth: opts.width ?? 2, aria: true, ...(opts.dash ? { strokeDash: opts.dash } : {}) },
    encoding: {
      x: { field: 'v', type: 'quantitative' },
      description: { field: 'label' },
      ...(opts.legend ? SERIES_ENCODING : {}),
    },
  };
}

function hrule(value: number, color: string, what: string, dash: number[] = GUIDE_DASH): Layer {
  return {
    data: { values: [{ v: value, label: `${what} = ${value}` }] },
    mark: { type: 'rule', color, strokeWidth: 1, strokeDash: dash, aria: true, clip: true },
    encoding: { y: { field: 'v', type: 'quantitative' }, description: { field: 'label' } },
  };
}

function lineLayer(
  points: { x: number; y: number }[],
  color: string,
  opts: { dash?: number[]; width?: number; legend?: string; point?: boolean; clip?: boolean } = {},
): Layer {
  return {
    data: { values: opts.legend ? points.map((p) => ({ ...p, series: opts.legend })) : points },
    mark: {
      type: 'line',
      color,
      strokeWidth: opts.width ?? 2,
      clip: opts.clip ?? true,
      ...(opts.dash ? { strokeDash: opts.dash } : {}),
      ...(opts.point ? { point: { size: 12, color, filled: true } } : {}),
    },
    encoding: {
      x: { field: 'x', type: 'quantitative' },
      y: { field: 'y', type: 'quantitative' },
      ...(opts.legend ? SERIES_ENCODING : {}),
    },
  };
}

/** A legend entry: label, colour, and the line's dash (solid by default). */
type LegendEntry = [label: string, color: string, dash?: number[]];

/**
 * The colour and line-dash scales of a figure's legend. Both channels get the same domain, so
 * Vega-Lite merges them into one legend whose symbols are short lines in each entry's colour and
 * dash: the tail pdf solid, the power-law fit dashed, and so on.
 */
function legendProps(entries: readonly LegendEntry[]): { color: Record<string, unknown>; strokeDash: Record<string, unknown> } {
  const domain = entries.map((e) => e[0]);
  const legend = {
    orient: 'bottom',
    direction: 'horizontal',
    columns: 3,
    title: null,
    symbolType: 'stroke',
    symbolStrokeWidth: 2.5,
    symbolSize: 520,
    columnPadding: 14,
  };
  return {
    color: { scale: { domain, range: entries.map((e) => e[1]) }, legend },
    strokeDash: { scale: { domain, range: entries.map((e) => e[2] ?? SOLID) }, legend },
  };
}

/**
 * Assemble a layered figure. Axis props (title, scale, axis) are merged into every layer's x / y
 * channel so the shared scales agree; the legend (colour scale domain/range) goes on the first
 * layer that has a colour channel.
 */
function figure(
  title: string,
  subtitle: string[],
  layers: Layer[],
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  opts: LayerPlotOptions,
  legend?: LegendEntry[],
): VlSpec {
  let colorDone = false;
  const props = legend ? legendProps(legend) : undefined;
  const merged = layers.map((l) => {
    const enc = { ...(l.encoding as Record<string, Record<string, unknown>>) };
    if (enc.x) enc.x = { ...enc.x, ...x };
    if (enc.y) enc.y = { ...enc.y, ...y };
    // Both scales on one layer, and every legend layer has both channels: Vega-Lite merges the
    // colour and dash legends only when their domains (explicit and per layer) are the same.
    if (props && enc.color && enc.strokeDash && !colorDone) {
      enc.color = { ...enc.color, ...props.color };
      enc.strokeDash = { ...enc.strokeDash, ...props.strokeDash };
      colorDone = true;
    }
    return { ...l, encoding: enc };
  });
  return {
    width: opts.width ?? 480,
    height: opts.height ?? 300,
    title: { text: title, subtitle },
    layer: merged,
  };
}

// ---------------------------------------------------------------- figures

interface Ctx {
  layer: LayerResult;
  row: Row;
  id: string;
  name: string;
  evals: Float64Array;
  xmin: number;
  xmax: number;
  failed: boolean;
  opts: LayerPlotOptions;
}

function fitSubtitle(c: Ctx): string[] {
  const r = c.row;
  const stats = c.failed ? 'PL FIT FAILED' : `α=${fmt(num(r.alpha))}; D_KS=${fmt(num(r.D))}; λ_min=${fmt(c.xmin)}; σ=${fmt(num(r.sigma))}`;
  return [c.name, stats];
}

/** The values the reference histograms: evals > xmin/100 (xmin := 0.4·max when the fit failed). */
function shownEvals(c: Ctx): number[] {
  const max = c.evals.length ? c.evals[c.evals.length - 1]! : 0;
  const lo = (c.failed ? 0.4 * max : c.xmin) / 100;
  return finiteValues(c.evals, (v) => v > lo);
}

function esdLogLog(c: Ctx): VlSpec | undefined {
  const shown = shownEvals(c).filter((v) => v > 0);
  if (!shown.length) return undefined;
  const edges = logEdges(shown, 100);
  const bins = histogram(shown, edges, true);
  const layers: Layer[] = [];
  const positive = bins.filter((b) => b.density > 0).map((b) => b.density);
  let ys = [...positive];
  const legend: LegendEntry[] = [['ESD (density)', COLORS.hist]];
  let pdfPts: { x: number; y: number }[] = [];
  let fitPts: { x: number; y: number }[] = [];
  if (!c.failed) {
    const tail = finiteValues(c.evals, (v) => v >= c.xmin && v <= c.xmax);
    pdfPts = powerlawPdf(tail).map((p) => ({ x: p.x, y: p.density }));
    const alpha = num(c.row.alpha)!;
    const distinct = [...new Set(tail)];
    fitPts = distinct
      .map((x) => ({ x, y: (alpha - 1) * c.xmin ** (alpha - 1) * x ** -alpha }))
      .filter((p) => p.y > 0 && Number.isFinite(p.y));
    ys = ys.concat(
      pdfPts.map((p) => p.y),
      fitPts.map((p) => p.y),
    );
  }
  const [yLo0, yHi0] = minMax(ys);
  const yLo = yLo0 / 2,
    yHi = yHi0 * 2;
  layers.push(barsLayer(bins, COLORS.hist, { logY: true, floor: yLo, series: 'ESD (density)' }));
  if (!c.failed) {
    if (pdfPts.length) {
      layers.push(lineLayer(pdfPts, COLORS.fit, { legend: 'tail pdf (log bins)' }));
      legend.push(['tail pdf (log bins)', COLORS.fit]);
    }
    if (fitPts.length) {
      layers.push(lineLayer(fitPts, COLORS.fit, { dash: DASHED, legend: `power-law fit α=${fmt(num(c.row.alpha))}` }));
      legend.push([`power-law fit α=${fmt(num(c.row.alpha))}`, COLORS.fit, DASHED]);
    }
    layers.push(vrule(c.xmin, COLORS.xmin, 'xmin', { legend: 'λ_min (xmin)' }));
    legend.push(['λ_min (xmin)', COLORS.xmin]);
  }
  const [xLo, xHi] = [edges[0]!, edges[edges.length - 1]!];
  return figure(
    `Log-Log ESD for Layer ${c.id}`,
    fitSubtitle(c),
    layers,
    {
      title: 'eigenvalue λ',
      scale: { type: 'log', domain: [Math.min(xLo, c.failed ? xLo : c.xmin), xHi], nice: false },
      axis: { format: '~g' },
    },
    { title: 'density', scale: { type: 'log', domain: [yLo, yHi], nice: false }, axis: { format: '~g' } },
    c.opts,
    legend,
  );
}

function esdLinLin(c: Ctx): VlSpec | undefined {
  const shown = shownEvals(c);
  if (!shown.length) return undefined;
  const edges = linearEdges(shown, 100);
  const bins = histogram(shown, edges, true);
  const layers: Layer[] = [barsLayer(bins, COLORS.hist, { series: 'ESD (density)' })];
  const legend: LegendEntry[] = [['ESD (density)', COLORS.hist]];
  if (!c.failed) {
    layers.push(vrule(c.xmin, COLORS.xmin, 'xmin', { legend: 'λ_min (xmin)' }));
    legend.push(['λ_min (xmin)', COLORS.xmin]);
  }
  return figure(
    `Lin-Lin ESD for Layer ${c.id}`,
    fitSubtitle(c),
    layers,
    { title: 'eigenvalue λ', scale: { domain: [edges[0], edges[edges.length - 1]], nice: false } },
    { title: 'density' },
    c.opts,
    legend,
  );
}

function esdLogLin(c: Ctx): VlSpec | undefined {
  const logs = shownEvals(c)
    .filter((v) => v > 0)
    .map(Math.log10);
  if (!logs.length) return undefined;
  const edges = linearEdges(logs, 100);
  const bins = histogram(logs, edges, true);
  const layers: Layer[] = [barsLayer(bins, COLORS.hist, { series: 'ESD of log10 λ (density)' })];
  const legend: LegendEntry[] = [['ESD of log10 λ (density)', COLORS.hist]];
  let lo = edges[0]!,
    hi = edges[edges.length - 1]!;
  if (!c.failed) {
    const lx = Math.log10(c.xmin);
    lo = Math.min(lo, lx);
    layers.push(vrule(lx, COLORS.xmin, 'log10 xmin', { legend: 'log10 λ_min (xmin)' }));
    legend.push(['log10 λ_min (xmin)', COLORS.xmin]);
    if (Number.isFinite(c.xmax) && c.xmax > 0) {
      const lm = Math.log10(c.xmax);
      hi = Math.max(hi, lm);
      layers.push(vrule(lm, COLORS.xmax, 'log10 xmax', { dash: DASHED, legend: 'log10 λ_max (xmax)' }));
      legend.push(['log10 λ_max (xmax)', COLORS.xmax, DASHED]);
    }
  }
  return figure(
    `Log-Lin ESD for Layer ${c.id}`,
    fitSubtitle(c),
    layers,
    { title: 'log10 eigenvalue', scale: { domain: [lo, hi], nice: false } },
    { title: 'density' },
    c.opts,
    legend,
  );
}

function candidateArrays(c: Ctx): { xmins: Float64Array; alphas?: Float64Array; Ds?: Float64Array } | undefined {
  const fit = c.layer.powerLaw?.fit;
  if (!fit?.xmins || fit.xmins.length === 0) return undefined;
  return { xmins: fit.xmins, ...(fit.alphas ? { alphas: fit.alphas } : {}), ...(fit.Ds ? { Ds: fit.Ds } : {}) };
}

function vsXmin(c: Ctx, which: 'Ds' | 'alphas'): VlSpec | undefined {
  const arr = candidateArrays(c);
  const ys = arr?.[which];
  if (!arr || !ys) return undefined;
  const pts: { x: number; y: number }[] = [];
  for (let i = 0; i < Math.min(arr.xmins.length, ys.length); i++) {
    const x = arr.xmins[i]!,
      y = ys[i]!;
    if (x > 0 && Number.isFinite(x) && Number.isFinite(y)) pts.push({ x, y });
  }
  if (!pts.length) return undefined;
  const [xLo, xHi] = minMax(pts.map((p) => p.x));
  const [yLo, yHi] = minMax(pts.map((p) => p.y));
  const isAlpha = which === 'alphas';
  const color = LAYER_COLORS.curve;
  const label = isAlpha ? 'α(xmin)' : 'D_KS(xmin)';
  const layers: Layer[] = [lineLayer(pts, color, { legend: label, width: 1.5 })];
  const legend: LegendEntry[] = [[label, color]];
  let yDomain: [number, number] = [Math.min(0, yLo), yHi];
  if (isAlpha) {
    const a = num(c.row.alpha) ?? 0;
    const top = Math.max(6.5, Math.min(yHi, Math.max(10, 2 * a)));
    yDomain = [Math.max(0, Math.min(yLo, 1)), top];
    layers.push(hrule(2, COLORS.guide, 'alpha'), hrule(6, COLORS.guide, 'alpha'));
  }
  if (!c.failed) {
    layers.push(vrule(c.xmin, COLORS.xmin, 'xmin', { legend: 'fitted xmin' }));
    legend.push(['fitted xmin', COLORS.xmin]);
  }
  const title = isAlpha ? `α vs xmin for Layer ${c.id}` : `KS distance D vs xmin for Layer ${c.id}`;
  const xd = [Math.min(xLo, c.failed ? xLo : c.xmin), Math.max(xHi, c.failed ? xHi : c.xmin)];
  return figure(
    title,
    fitSubtitle(c),
    layers,
    { title: 'candidate xmin', scale: { type: 'log', domain: xd, nice: false }, axis: { format: '~g' } },
    { title: isAlpha ? 'power-law exponent α' : 'KS distance D', scale: { domain: yDomain, nice: false } },
    c.opts,
    legend,
  );
}

function esdRandom(c: Ctx): VlSpec | undefined {
  const rand = toFloat(c.layer.extra?.get('rand_evals'));
  if (!rand || !rand.length) return undefined;
  const orig = finiteValues(c.evals, (v) => v > 0);
  const rnd = finiteValues(rand, (v) => v > 0);
  if (!orig.length || !rnd.length) return undefined;
  const lo = orig.map(Math.log10);
  const lr = rnd.map(Math.log10);
  const edges = linearEdges([...lo, ...lr], 100);
  const maxRand = num(c.row.max_rand_eval) ?? rnd[rnd.length - 1]!;
  const legend: LegendEntry[] = [
    ['original', COLORS.original],
    ['randomized', COLORS.random],
    ['max rand λ', COLORS.maxRand],
  ];
  const layers: Layer[] = [
    barsLayer(histogram(lo, edges), COLORS.original, { opacity: 0.6, series: 'original' }),
    barsLayer(histogram(lr, edges), COLORS.random, { opacity: 0.5, series: 'randomized' }),
    vrule(Math.log10(maxRand), COLORS.maxRand, 'log10 max_rand_eval', { legend: 'max rand λ' }),
  ];
  // Correlation traps: randomized eigenvalues beyond the MP bulk edge (+ Tracy–Widom) of the
  // randomized ESD. MP parameters from the rand_mp fit when present, else the theoretical bulk
  // of an i.i.d. matrix (σ = 1 in the mean-1 rescaled units).
  const mp = readMp(c.layer, 'rand_mp', rand);
  const Q = mp?.Q ?? num(c.row.Q) ?? 1;
  let W2 = mp ? mp.W_scale ** 2 : rnd.length / rnd.reduce((s, v) => s + v, 0);
  if (!(W2 > 0)) W2 = 1;
  const { cutoff } = mpEdges(mp?.sigma_mp ?? 1, Q, num(c.row.M) ?? 0);
  const trapCut = cutoff / W2;
  const traps = rnd.filter((v) => v > trapCut);
  if (traps.length) {
    layers.push({
      data: { values: traps.map((v) => ({ x: Math.log10(v), label: `correlation trap λ = ${v}`, series: 'correlation trap' })) },
      mark: { type: 'point', shape: 'triangle-up', filled: true, size: 90, color: COLORS.trap, aria: true },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { datum: 0 },
        description: { field: 'label' },
        ...SERIES_ENCODING,
      },
    });
    legend.push(['correlation trap', COLORS.trap]);
  }
  const subtitle = [
    c.name,
    `max_rand_eval=${fmt(maxRand)}; λ_max=${fmt(num(c.row.lambda_max))}; correlation traps: ${traps.length}${mp ? '' : ' (i.i.d. MP edge)'}`,
  ];
  return figure(
    `Layer ${c.id} ${c.name}: ESD & Random ESD`,
    subtitle,
    layers,
    { title: 'log10 eigenvalue', scale: { domain: [edges[0], edges[edges.length - 1]], nice: false } },
    { title: 'density' },
    c.opts,
    legend,
  );
}

function mpFit(c: Ctx, random: boolean): VlSpec | undefined {
  const evals = random ? toFloat(c.layer.extra?.get('rand_evals')) : c.evals;
  if (!evals || !evals.length) return undefined;
  const mp = readMp(c.layer, random ? 'rand_mp' : 'mp', evals);
  if (!mp) return undefined;
  const { sigma_mp: s, Q, W_scale } = mp;
  const W2 = W_scale ** 2;
  const M = num(c.row.M) ?? 0;
  const { a, b, cutoff } = mpEdges(s, Q, M);
  const color = random ? COLORS.randomMp : COLORS.hist;
  const qc = Q === 1;
  const all = finiteValues(evals, (v) => v >= 0)
    .map((v) => (qc ? Math.sqrt(W2 * v) : W2 * v))
    .sort((p, q) => p - q);
  if (!all.length) return undefined;
  // A few far spikes (e.g. a correlation trap at 60× the bulk) would squash the bulk into a couple
  // of bins: show up to max(2 × cutoff, 99th percentile) and say how many values lie beyond.
  const cut = qc ? Math.sqrt(cutoff) : cutoff;
  const top = all[all.length - 1]!;
  const showTo = top > 4 * cut ? Math.max(2 * cut, all[Math.floor(0.99 * (all.length - 1))]!) : top;
  const xs = all.filter((v) => v <= showTo);
  const hidden = all.length - xs.length;
  const edges = linearEdges(xs, 100);
  const bins = histogram(xs, edges, true);
  const [dLo, dHi] = [edges[0]!, edges[edges.length - 1]!];
  let curve: { x: number; y: number }[] = [];
  if (qc) {
    const hi = Math.min(dHi, 2);
    if (hi > dLo) curve = linspace(dLo, hi, 400).map((t) => ({ x: t, y: Math.sqrt(Math.max(0, 4 - t * t)) / (Math.PI * s * s) }));
  } else {
    // The whole MP support [a, b] (the reference clips it to the data range).
    const lo = a,
      hi = b;
    if (hi > lo)
      curve = linspace(lo, hi, 400).map((t) => ({ x: t, y: (Q / (2 * Math.PI * s * s * t)) * Math.sqrt(Math.max(0, (b - t) * (t - a))) }));
  }
  curve = curve.filter((p) => Number.isFinite(p.y));
  const maxBin = Math.max(...bins.map((x) => x.density));
  const yTop = Math.max(maxBin, Math.min(Math.max(0, ...curve.map((p) => p.y)), 3 * maxBin)) * 1.1;
  const histLabel = qc ? 'singular values (rescaled)' : 'ESD (rescaled)';
  const lawLabel = qc ? `quarter circle σ=${fmt(s)}` : `MP σ_mp=${fmt(s)}`;
  const legend: LegendEntry[] = [
    [histLabel, color],
    [lawLabel, COLORS.mp],
  ];
  const layers: Layer[] = [barsLayer(bins, color, { series: histLabel })];
  if (curve.length) layers.push(lineLayer(curve, COLORS.mp, { legend: lawLabel }));
  const tr = (v: number) => (qc ? Math.sqrt(v) : v);
  let xHi = dHi;
  if (!qc) {
    layers.push(
      vrule(a, COLORS.edge, 'bulk_min (rescaled)', { legend: 'bulk edges' }),
      vrule(b, COLORS.edge, 'bulk_max (rescaled)', { legend: 'bulk edges' }),
    );
    legend.push(['bulk edges', COLORS.edge]);
    xHi = Math.max(xHi, b);
  } else {
    layers.push(vrule(tr(b), COLORS.edge, 'sqrt bulk_max (rescaled)', { legend: 'bulk edge' }));
    legend.push(['bulk edge', COLORS.edge]);
  }
  layers.push(vrule(tr(cutoff), COLORS.xmax, 'spike cutoff (rescaled)', { dash: DASHED, legend: 'spike cutoff (TW)' }));
  legend.push(['spike cutoff (TW)', COLORS.xmax, DASHED]);
  xHi = Math.max(xHi, tr(cutoff));
  const kind = qc ? 'QC SSD' : 'MP ESD';
  const stats =
    [
      `Q=${fmt(Q)}`,
      `σ_mp=${fmt(s)}`,
      ...(mp.mp_softrank !== undefined ? [`R_mp=${fmt(mp.mp_softrank)}`] : []),
      ...(mp.num_spikes !== undefined ? [`# spikes=${mp.num_spikes}`] : []),
    ].join('; ') + (hidden ? `; ${hidden} value${hidden > 1 ? 's' : ''} > ${fmt(showTo, 2)} not shown (max ${fmt(top, 2)})` : '');
  return figure(
    `${kind} for layer ${c.id} ${c.name}${random ? ' (Randomized)' : ''}`,
    [stats],
    layers,
    {
      title: qc ? 'singular value · W_scale' : 'eigenvalue · W_scale² (mean 1)',
      scale: { domain: [Math.min(dLo, qc ? dLo : a), xHi], nice: false },
    },
    { title: 'density', scale: { domain: [0, yTop], nice: false } },
    c.opts,
    legend,
  );
}

/** Vega-Lite specs of a layer's figures (only those its data allows). */
export function layerFigureSpecs(layer: LayerResult, opts: LayerPlotOptions = {}): Partial<Record<LayerFigure, VlSpec>> {
  const row = layer.row;
  const evals = layer.evals;
  if (!evals) return {};
  const alpha = num(row.alpha);
  const xmin = num(row.xmin) ?? num(layer.powerLaw?.xmin) ?? -1;
  const xmaxCol = num(row.xmax) ?? num(layer.powerLaw?.xmax ?? undefined);
  const failed = row.status === 'failed' || alpha === undefined || alpha < 0 || !(xmin > 0);
  const c: Ctx = {
    layer,
    row,
    evals,
    opts,
    failed,
    xmin,
    id: layerTitleId(row),
    name: String(row.name ?? ''),
    xmax: xmaxCol !== undefined && xmaxCol > 0 ? xmaxCol : (evals[evals.length - 1] ?? NaN),
  };
  const want = new Set<LayerFigure>(opts.figures ?? LAYER_FIGURES);
  const makers: [LayerFigure, () => VlSpec | undefined][] = [
    ['esd', () => esdLogLog(c)],
    ['esd-linear', () => esdLinLin(c)],
    ['esd-loglin', () => esdLogLin(c)],
    ['ks-vs-xmin', () => vsXmin(c, 'Ds')],
    ['alpha-vs-xmin', () => vsXmin(c, 'alphas')],
    ['esd-random', () => esdRandom(c)],
    ['mp-fit', () => mpFit(c, false)],
    ['mp-fit-random', () => mpFit(c, true)],
  ];
  const out: Partial<Record<LayerFigure, VlSpec>> = {};
  for (const [name, make] of makers) {
    if (!want.has(name)) continue;
    const spec = make();
    if (spec) out[name] = spec;
  }
  return out;
}
