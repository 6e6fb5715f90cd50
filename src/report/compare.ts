/**
 * Comparing several models (weightwatcher compare A B [C …]): each input is a model path (analysed
 * with the default options) or a saved result ({details, summary, meta} JSON, as analyze --json
 * writes and the goldens hold). Produces the side-by-side summary table, the α > 6 / α < 2 layer
 * counts per model and, for layers whose names match across all models, per-layer alpha
 * differences against the first model.
 */
import { basename, extname, resolve, sep } from 'node:path';
import type { Row } from '../shared/rows.js';
import { OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA } from '../metrics/powerlaw.js';
import { SUMMARY_METRICS, type Summary } from './summary.js';
import type { AnalyzeOptions } from '../shared/options.js';
import type { CompareTableRow } from './plots/compare.js';
import type { PlotFormat } from './plots/figures.js';
import { escapeControl } from '../shared/text.js';

/**
 * What `weightwatcher compare` was asked to do, with checked arguments. It lives here, a floor
 * below the CLI, because both the command (cli/commands/compare.ts, which checks the arguments)
 * and the heavy half that runs it (cli/plot-commands.ts) need it: in either of them it made the
 * two import each other.
 */
export interface CompareRequest {
  inputs: string[];
  plot?: string;
  report?: string;
  json?: string;
  names?: string[];
  /** --plot-format: formats of the --plot figure (default both). */
  formats?: PlotFormat[];
  /** --plot-scale: PNG pixels per SVG pixel (default 2). */
  pngScale?: number;
  /** Options for the models that are analysed (saved results are taken as they are). */
  analyze?: AnalyzeOptions;
  /** Analyse each model as W − W_base against this base model. */
  baseModel?: string;
}

export interface CompareInput {
  name: string;
  /** The path given on the command line (or a label for in-memory inputs). */
  source: string;
  kind: 'model' | 'json';
  rows: Row[];
  summary: Summary;
  meta?: Record<string, unknown>;
  /** Model format and analysis time, for analysed models. */
  format?: string;
  elapsedMs?: number;
}

export interface ModelCounts {
  layers: number;
  /** alpha > 6 (under-trained). */
  under: number;
  /** alpha < 2 (over-trained), failed fits not included. */
  over: number;
  /** Fits that failed (alpha = −1 / status failed). */
  failed: number;
}

export interface LayerDiff {
  /** Layer name (with `:<slice_id>` for unpooled slices). */
  name: string;
  /** Position in the first model's table. */
  index: number;
  layer_ids: (number | null)[];
  alphas: (number | null)[];
  /** alpha[k] − alpha[0] for every model k ≥ 1 (null when either fit failed). */
  deltas: (number | null)[];
}

export interface CompareResult {
  names: string[];
  models: { name: string; source: string; kind: CompareInput['kind']; format?: string; summary: Summary; counts: ModelCounts }[];
  /** metric × model, for the table: layers, summary means, counts. */
  table: CompareTableRow[];
  /** Layers matched by name in every model (empty when none match). */
  diffs: LayerDiff[];
}

/**
 * Short distinct names for inputs: the path components that differ (common leading and trailing
 * components dropped, extension of a file name removed), e.g. minigpt/{init,big-data}/model.safetensors
 * → init, big-data.
 */
export function defaultNames(paths: readonly string[]): string[] {
  const parts = paths.map((p) => resolve(p).split(sep).filter(Boolean));
  if (parts.length < 2) return parts.map((p) => stripExt(p[p.length - 1] ?? ''));
  let head = 0;
  while (parts.every((p) => head < p.length - 1 && p[head] === parts[0]![head])) head++;
  let tail = 0;
  while (parts.every((p) => tail < p.length - head - 1 && p[p.length - 1 - tail] === parts[0]![parts[0]!.length - 1 - tail])) tail++;
  const names = parts.map((p) => {
    const mid = p.slice(head, p.length - tail);
    if (mid.length === 0) return stripExt(p[p.length - 1] ?? '');
    const last = mid.length - 1;
    return mid.map((c, i) => (i === last && tail === 0 ? stripExt(c) : c)).join('/');
  });
  // Still ambiguous (e.g. the same file twice): number them.
  return names.map((n, i) => (names.indexOf(n) !== i || names.lastIndexOf(n) !== i ? `${n}#${i + 1}` : n));
}

function stripExt(name: string): string {
  const e = extname(name);
  return e && e !== name ? basename(name, e) : name;
}

function alphaOf(r: Row): number | null {
  const a = r.alpha;
  if (typeof a !== 'number' || !Number.isFinite(a) || a < 0 || r.status === 'failed') return null;
  return a;
}

export function countWarnings(rows: readonly Row[]): ModelCounts {
  const c: ModelCounts = { layers: rows.length, under: 0, over: 0, failed: 0 };
  for (const r of rows) {
    const a = alphaOf(r);
    if (a === null) c.failed++;
    else if (a > UNDER_TRAINED_ALPHA) c.under++;
    else if (a < OVER_TRAINED_ALPHA) c.over++;
  }
  return c;
}

function layerKey(r: Row): string {
  return typeof r.slice_id === 'number' ? `${r.name}:${r.slice_id}` : String(r.name);
}

/** Per-layer alpha differences for layer names present (once) in every model; [] if none match. */
export function layerDiffs(inputs: readonly { rows: readonly Row[] }[]): LayerDiff[] {
  if (inputs.length < 2) return [];
  const maps = inputs.map((m) => {
    const map = new Map<string, Row | null>();
    for (const r of m.rows) {
      const k = layerKey(r);
      map.set(k, map.has(k) ? null : r);
    } // duplicates: ambiguous
    return map;
  });
  const out: LayerDiff[] = [];
  inputs[0]!.rows.forEach((r0, index) => {
    const key = layerKey(r0);
    const rows = maps.map((m) => m.get(key));
    if (rows.some((r) => !r)) return;
    const alphas = rows.map((r) => alphaOf(r!));
    out.push({
      name: key,
      index,
      layer_ids: rows.map((r) => (typeof r!.layer_id === 'number' ? r!.layer_id : null)),
      alphas,
      deltas: alphas.slice(1).map((a) => (a === null || alphas[0] === null ? null : a - alphas[0]!)),
    });
  });
  return out;
}

export const COUNT_LABELS = {
  layers: 'layers',
  under: `alpha > ${UNDER_TRAINED_ALPHA} (under-trained)`,
  over: `alpha < ${OVER_TRAINED_ALPHA} (over-trained)`,
  failed: 'failed fits',
} as const;

export function compareResults(inputs: readonly CompareInput[]): CompareResult {
  const names = inputs.map((m) => m.name);
  const models = inputs.map((m) => ({
    name: m.name,
    source: m.source,
    kind: m.kind,
    ...(m.format ? { format: m.format } : {}),
    summary: m.summary,
    counts: countWarnings(m.rows),
  }));
  const table: CompareTableRow[] = [{ metric: COUNT_LABELS.layers, values: models.map((m) => m.counts.layers) }];
  for (const metric of SUMMARY_METRICS) {
    if (!models.some((m) => typeof m.summary[metric] === 'number')) continue;
    table.push({ metric, values: models.map((m) => (typeof m.summary[metric] === 'number' ? m.summary[metric] : null)) });
  }
  table.push(
    { metric: COUNT_LABELS.under, values: models.map((m) => m.counts.under) },
    { metric: COUNT_LABELS.over, values: models.map((m) => m.counts.over) },
  );
  if (models.some((m) => m.counts.failed > 0)) table.push({ metric: COUNT_LABELS.failed, values: models.map((m) => m.counts.failed) });
  return { names, models, table, diffs: layerDiffs(inputs) };
}

function cell(v: number | null): string {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4);
}

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The stdout text: summary table (with counts) and, when layers match, the per-layer alpha table. */
export function formatCompareText(res: CompareResult, opts: { maxLayers?: number } = {}): string {
  const out: string[] = [];
  out.push(
    textTable(
      ['metric', ...res.names],
      res.table.map((t) => [t.metric, ...t.values.map(cell)]),
    ),
  );
  out.push('');
  out.push(
    res.models
      .map(
        (m) =>
          `${m.name}: ${m.counts.under} layers with alpha > ${UNDER_TRAINED_ALPHA}, ${m.counts.over} with alpha < ${OVER_TRAINED_ALPHA}${m.counts.failed ? `, ${m.counts.failed} failed fits` : ''} (of ${m.counts.layers})`,
      )
      .join('\n'),
  );
  if (res.diffs.length) {
    const max = opts.maxLayers ?? Infinity;
    const shown = res.diffs.slice(0, max);
    out.push('');
    out.push(`Per-layer alpha (${res.diffs.length} layers matched by name; Δ = model − ${res.names[0]}):`);
    const header = ['layer', ...res.names.map((n) => `alpha ${n}`), ...res.names.slice(1).map((n) => `Δ ${n}`)];
    out.push(
      textTable(
        header,
        shown.map((d) => [
          escapeControl(d.name),
          ...d.alphas.map(cell),
          ...d.deltas.map((x) => (x === null ? '—' : (x >= 0 ? '+' : '') + x.toFixed(4))),
        ]),
      ),
    );
    if (shown.length < res.diffs.length) out.push(`… ${res.diffs.length - shown.length} more (see --json / --report)`);
  } else if (res.models.length > 1) {
    out.push('');
    out.push('No layer names common to all models: per-layer differences not computed.');
  }
  return out.join('\n') + '\n';
}
