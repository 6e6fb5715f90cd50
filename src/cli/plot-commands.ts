/**
 * The heavy half of the CLI (vega, resvg, the HTML report), imported only when a command needs it:
 * `analyze --plot DIR`, `analyze --report FILE.html` and the work of `compare`. The commands
 * (cli/commands/) parse and check their arguments first.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { WeightWatcher } from '../watcher.js';
import type { AnalyzeOptions } from '../shared/options.js';
import type { Row } from '../shared/rows.js';
import { summarize, type Summary } from '../report/summary.js';
import type { LayerResult } from '../engine/layer.js';
import { WeightWatcherError } from '../shared/errors.js';
import { layerFigureSpecs, layerPlotId } from '../report/plots/layer.js';
import { modelFigureSpecs } from '../report/plots/model.js';
import { compareFigureSpec } from '../report/plots/compare.js';
import { renderSvg, svgToPng, type VlSpec } from '../report/plots/render.js';
import { analyzeReportHtml, compareReportHtml, type LayerSection } from '../report/html.js';
import { compareResults, defaultNames, formatCompareText, type CompareInput, type CompareResult } from '../report/compare.js';
import type { Io } from './command.js';
import type { CompareArgs } from './commands/compare.js';
import { makeDirectory, writeFileAtomic } from '../shared/atomic-write.js';
import { write } from './output.js';

type Format = 'svg' | 'png';

function layersWithEvals(ww: WeightWatcher): readonly LayerResult[] {
  const layers = ww.getLayerResults();
  if (layers.length && !layers.some((l) => l.evals)) {
    throw new WeightWatcherError('E_USAGE', 'per-layer plots need the eigenvalues: run analyze with keep_evals: true');
  }
  return layers;
}

async function writeFigure(base: string, spec: VlSpec, formats: readonly Format[], written: string[]): Promise<string> {
  const svg = await renderSvg(spec);
  if (formats.includes('svg')) { await writeFileAtomic(`${base}.svg`, svg); written.push(`${base}.svg`); }
  if (formats.includes('png')) { await writeFileAtomic(`${base}.png`, svgToPng(svg)); written.push(`${base}.png`); }
  return svg;
}

/**
 * analyze --plot DIR: every layer's figures as `DIR/layer<id>[_<slice>].<figure>.svg|png` (figure ∈
 * esd, esd-linear, esd-loglin, ks-vs-xmin, alpha-vs-xmin, and esd-random, mp-fit, mp-fit-random
 * with randomize / mp_fit), plus the model figures `DIR/model.<figure>.svg|png` (alpha-hist,
 * alpha-depth, log_spectral_norm-depth). Returns the files written. Needs analyze({ keep_evals: true }).
 */
export async function writeAnalyzePlots(dir: string, ww: WeightWatcher, opts: { formats?: ('svg' | 'png')[] } = {}): Promise<string[]> {
  const formats: Format[] = opts.formats?.length ? opts.formats : ['svg', 'png'];
  const layers = layersWithEvals(ww);
  await makeDirectory(dir);
  const written: string[] = [];
  for (const layer of layers) {
    const specs = layerFigureSpecs(layer);
    const id = layerPlotId(layer.row);
    for (const [fig, spec] of Object.entries(specs)) {
      if (spec) await writeFigure(join(dir, `layer${id}.${fig}`), spec, formats, written);
    }
  }
  const rows = ww.getDetails() ?? layers.map((l) => l.row);
  for (const [fig, spec] of Object.entries(modelFigureSpecs(rows))) {
    await writeFigure(join(dir, `model.${fig}`), spec, formats, written);
  }
  return written;
}

async function renderSpecs(specs: Record<string, VlSpec | undefined>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(specs)) if (s) out[k] = await renderSvg(s);
  return out;
}

/** analyze --report FILE.html: the self-contained HTML report (layer figures only for layers with kept eigenvalues). */
export async function writeAnalyzeReport(file: string, ww: WeightWatcher, title: string): Promise<void> {
  const results = ww.getLayerResults();
  const rows = ww.getDetails() ?? results.map((r) => r.row);
  const layers: LayerSection[] = [];
  for (const l of results) {
    if (!l.evals) continue;
    layers.push({ id: layerPlotId(l.row), row: l.row, figures: await renderSpecs(layerFigureSpecs(l)) });
  }
  const run = ww.lastRun;
  const notes = [
    ...(run?.skipped ?? []).map((s) => describeNote('skipped', s)),
    ...(run?.failures ?? []).map((f) => describeNote('failed', f)),
  ];
  const html = analyzeReportHtml({
    title,
    rows,
    summary: ww.getSummary(),
    ...(run ? { source: run.source, format: run.format, elapsedMs: run.elapsedMs } : {}),
    notes,
    modelFigures: await renderSpecs(modelFigureSpecs(rows)),
    layers,
  });
  await writeFileAtomic(file, html);
}

function describeNote(kind: string, x: unknown): string {
  if (typeof x !== 'object' || x === null) return `${kind}: ${String(x)}`;
  const o = x as Record<string, unknown>;
  const who = [o.layer_id ?? o.id, o.name].filter((v) => v !== undefined).join(' ');
  const why = o.reason ?? o.message ?? o.error ?? '';
  return `${kind}: ${who}${why ? ` — ${String(why instanceof Error ? why.message : why)}` : ''}`;
}

// ------------------------------------------------------------------------------------ compare

export async function writeComparePlot(file: string, spec: VlSpec): Promise<string[]> {
  const ext = extname(file).toLowerCase();
  const base = file.slice(0, file.length - ext.length);
  const svg = await renderSvg(spec);
  await writeFileAtomic(`${base}.svg`, svg);
  await writeFileAtomic(`${base}.png`, svgToPng(svg));
  return ext === '.svg' ? [`${base}.svg`, `${base}.png`] : [`${base}.png`, `${base}.svg`];
}

function compareJson(res: CompareResult, inputs: readonly CompareInput[]) {
  return {
    models: res.models.map((m, i) => ({ ...m, layers: inputs[i]!.rows.length })),
    table: res.table.map((t) => ({ metric: t.metric, ...Object.fromEntries(res.names.map((n, i) => [n, t.values[i] ?? null])) })),
    layer_diffs: res.diffs,
  };
}

/**
 * weightwatcher compare A B [C …] with checked arguments (cli/commands/compare.ts): prints the
 * side-by-side summary and counts to stdout and writes the requested outputs. Throws for an
 * unreadable model or a write error (exit code 1).
 */
export async function compareModels(args: CompareArgs, io: Io): Promise<number> {
  const names = args.names ?? defaultNames(args.inputs);
  const inputs: CompareInput[] = [];
  for (let i = 0; i < args.inputs.length; i++) {
    const p = args.inputs[i]!;
    const t0 = Date.now();
    const input = await loadCompareInput(p, names[i]!, args.analyze, args.baseModel);
    io.stderr.write(`compare: ${names[i]} ← ${p} (${input.kind === 'json' ? 'saved result' : `analysed in ${((Date.now() - t0) / 1000).toFixed(1)} s`}, ${input.rows.length} layers)\n`);
    inputs.push(input);
  }

  const res = compareResults(inputs);
  if (args.baseModel) io.stdout.write(`Fine-tune deltas: each model analysed as W − W_base against ${args.baseModel}\n\n`);
  io.stdout.write(formatCompareText(res));
  const spec = compareFigureSpec(inputs.map((m) => ({ name: m.name, rows: m.rows })), {
    table: res.table,
    diffs: res.diffs.flatMap((d) => d.deltas.map((delta, k) => ({ name: d.name, index: d.index, model: res.names[k + 1]!, delta })).filter((x): x is { name: string; index: number; model: string; delta: number } => x.delta !== null)),
  });
  if (args.plot) {
    const files = await writeComparePlot(args.plot, spec);
    io.stderr.write(`compare: wrote ${files.join(', ')}\n`);
  }
  if (args.report) {
    const html = compareReportHtml({
      title: `WeightWatcher compare: ${res.names.join(' vs ')}`,
      result: res,
      compareFigure: await renderSvg(spec),
      models: await Promise.all(inputs.map(async (m) => ({ name: m.name, source: m.source, rows: m.rows, modelFigures: await renderSpecs(modelFigureSpecs(m.rows, { title: m.name })) }))),
    });
    await writeFileAtomic(args.report, html);
    io.stderr.write(`compare: wrote ${args.report}\n`);
  }
  if (args.json) {
    await write(args.json, JSON.stringify({ ...(args.baseModel ? { base_model: args.baseModel } : {}), ...compareJson(res, inputs) }, null, 1) + '\n', io);
    if (args.json !== '-') io.stderr.write(`compare: wrote ${args.json}\n`);
  }
  return 0;
}

function isSavedResult(v: unknown): v is { details: Row[]; summary?: Summary; meta?: Record<string, unknown> } {
  return typeof v === 'object' && v !== null && Array.isArray((v as { details?: unknown }).details);
}

/**
 * Load one compare input: a `.json` file with a `details` array is a saved result; anything else
 * (including a sharded model's `*.index.json`) is a model that is analysed.
 */
async function loadCompareInput(path: string, name: string, analyze: AnalyzeOptions = {}, baseModel?: string): Promise<CompareInput> {
  if (extname(path).toLowerCase() === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new WeightWatcherError('E_NOT_FOUND', `${path}: no such file`, { file: path });
      if (e instanceof SyntaxError) throw new WeightWatcherError('E_FORMAT', `${path}: not valid JSON (${e.message})`, { file: path });
      throw e;
    }
    if (isSavedResult(parsed)) {
      const rows = parsed.details;
      const summary = parsed.summary && typeof parsed.summary === 'object' ? parsed.summary : summarize(rows);
      return { name, source: path, kind: 'json', rows, summary, ...(parsed.meta ? { meta: parsed.meta } : {}) };
    }
  }
  const ww = new WeightWatcher(path, baseModel === undefined ? {} : { baseModel });
  const rows = await ww.analyze(analyze);
  const run = ww.lastRun;
  return {
    name, source: path, kind: 'model', rows, summary: ww.getSummary(),
    ...(run ? { format: run.format, elapsedMs: run.elapsedMs } : {}),
  };
}

