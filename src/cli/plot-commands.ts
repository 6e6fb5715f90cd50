/**
 * The heavy half of the CLI (vega, resvg, the HTML report), imported only when a command needs it:
 * `analyze --plot DIR`, `analyze --report FILE.html` and the work of `compare`. The commands
 * (cli/commands/) parse and check their arguments first.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { WeightWatcher } from '../watcher.js';
import type { AnalyzeOptions } from '../shared/options.js';
import type { Row } from '../shared/rows.js';
import { summarize, type Summary } from '../report/summary.js';
import type { LayerResult } from '../engine/layer.js';
import { WeightWatcherError } from '../shared/errors.js';
import { makeDirectory, writeFileAtomic } from '../shared/atomic-write.js';
import { write } from './output.js';
import { modelFigureSpecs } from '../report/plots/model.js';
import { compareFigurePanels, compareFigureSpec } from '../report/plots/compare.js';
import { interactiveSpecs } from '../report/interactive.js';
import type { PngOptions, VlSpec } from '../report/plots/render.js';
import { createPlotRenderer, type PlotRenderer } from '../report/plots/pool.js';
import { AnalyzePlotWriter } from '../report/plots/writer.js';
import { DEFAULT_FIGURES, type FigureSelection, type PlotFormat } from '../report/plots/figures.js';
import { AnalyzeReportWriter } from '../report/html-writer.js';
import { compareLayerEsd, compareReportHtml } from '../report/html.js';
import { layerFigureSpecs, layerPlotId } from '../report/plots/layer.js';
import {
  compareResults,
  defaultNames,
  formatCompareText,
  type CompareInput,
  type CompareRequest,
  type CompareResult,
} from '../report/compare.js';
import type { Io } from './command.js';

export interface AnalyzePlotsOptions {
  /** --plot DIR. */
  plotDir?: string;
  /** --report FILE.html. */
  reportFile?: string;
  /** --plot-format (default both). */
  formats?: PlotFormat[];
  /** --plot-scale: PNG pixels per SVG pixel (default 2). */
  pngScale?: number;
  /** --plot-figures (default: all). */
  figures?: FigureSelection;
  /** Thread budget (--threads): the render pool's size. */
  threads?: number | null;
  /** Render workers (default from the budget; 0 = in this thread, one figure at a time). */
  workers?: number;
}

/**
 * analyze --plot / --report: figures rendered while the analysis runs. Pass `onLayer` to analyze()
 * (when `wantsLayers`), then `finish(ww)` writes the model figures and the report; `close()` stops
 * the render workers whatever happened.
 */
export class AnalyzePlots {
  private constructor(
    private readonly renderer: PlotRenderer,
    private readonly writer: AnalyzePlotWriter,
    private readonly report: AnalyzeReportWriter | undefined,
    private readonly reportFile: string | undefined,
  ) {}

  static async start(o: AnalyzePlotsOptions): Promise<AnalyzePlots> {
    const png = o.plotDir !== undefined && (o.formats ?? ['png']).includes('png');
    const renderer = createPlotRenderer({ threads: o.threads ?? null, png, ...(o.workers !== undefined ? { workers: o.workers } : {}) });
    try {
      const report = o.reportFile !== undefined ? new AnalyzeReportWriter() : undefined;
      const writer = await AnalyzePlotWriter.create({
        renderer,
        ...(o.plotDir !== undefined ? { dir: o.plotDir } : {}),
        ...(o.formats ? { formats: o.formats } : {}),
        ...(o.pngScale !== undefined ? { png: { scale: o.pngScale } } : {}),
        figures: o.figures ?? DEFAULT_FIGURES,
        ...(report ? { report } : {}),
      });
      return new AnalyzePlots(renderer, writer, report, o.reportFile);
    } catch (e) {
      await renderer.close();
      throw e;
    }
  }

  get wantsLayers(): boolean {
    return this.writer.wantsLayers;
  }

  get workers(): number {
    return this.renderer.workers;
  }

  readonly onLayer = (layer: LayerResult): Promise<void> => this.writer.onLayer(layer);

  /** Model figures, every pending figure, and the report (titled `title`). */
  async finish(ww: WeightWatcher, title: string): Promise<{ files: string[] }> {
    const rows = ww.getDetails() ?? [];
    const { files, modelFigures, modelSpecs } = await this.writer.finish(rows);
    if (this.report && this.reportFile !== undefined) {
      const run = ww.lastRun;
      const notes = [
        ...(run?.skipped ?? []).map((s) => describeNote('skipped', s)),
        ...(run?.failures ?? []).map((f) => describeNote('failed', f)),
      ];
      await this.report.write(this.reportFile, {
        title,
        rows,
        summary: ww.getSummary(),
        ...(run ? { source: run.source, format: run.format, elapsedMs: run.elapsedMs } : {}),
        notes,
        modelFigures,
        interactive: await interactiveSpecs(modelSpecs),
      });
    }
    return { files };
  }

  async close(): Promise<void> {
    // writer.dispose(): a run that did not finish leaves the plot folder as it was.
    await Promise.allSettled([this.renderer.close(), this.report?.dispose(), this.writer.dispose()]);
  }
}

/** Figures of the layers an analyze({ keep_evals: true }) kept, through the same writer as the CLI. */
async function plotKeptLayers(ww: WeightWatcher, o: AnalyzePlotsOptions, title: string): Promise<string[]> {
  const plots = await AnalyzePlots.start(o);
  try {
    if (plots.wantsLayers) for (const layer of ww.getLayerResults()) await plots.onLayer(layer);
    return (await plots.finish(ww, title)).files;
  } finally {
    await plots.close();
  }
}

function requireEvals(ww: WeightWatcher): void {
  const layers = ww.getLayerResults();
  if (layers.length && !layers.some((l) => l.evals)) {
    throw new WeightWatcherError('E_USAGE', 'per-layer plots need the eigenvalues: run analyze with keep_evals: true');
  }
}

/**
 * Every layer's figures as `DIR/layer<id>[_<slice>].<figure>.svg|png` (figure ∈ esd, esd-linear,
 * esd-loglin, ks-vs-xmin, alpha-vs-xmin, and esd-random, mp-fit, mp-fit-random with randomize /
 * mp_fit), plus the model figures `DIR/model.<figure>.svg|png` (alpha-hist, alpha-depth,
 * log_spectral_norm-depth), from an analyze({ keep_evals: true }). Returns the files written.
 * (The CLI renders while analysing instead: AnalyzePlots.)
 */
export async function writeAnalyzePlots(
  dir: string,
  ww: WeightWatcher,
  opts: { formats?: PlotFormat[]; figures?: FigureSelection; workers?: number } = {},
): Promise<string[]> {
  requireEvals(ww);
  return plotKeptLayers(ww, { plotDir: dir, ...opts }, '');
}

/** The self-contained HTML report of an analyze() (layer figures only for layers with kept eigenvalues). */
export async function writeAnalyzeReport(
  file: string,
  ww: WeightWatcher,
  title: string,
  opts: { figures?: FigureSelection; workers?: number } = {},
): Promise<void> {
  await plotKeptLayers(ww, { reportFile: file, ...opts }, title);
}

function describeNote(kind: string, x: unknown): string {
  if (typeof x !== 'object' || x === null) return `${kind}: ${String(x)}`;
  const o = x as Record<string, unknown>;
  const who = [o.layer_id ?? o.id, o.name]
    .filter((v) => v !== undefined)
    .map(noteText)
    .join(' ');
  const why = o.reason ?? o.message ?? o.error ?? '';
  return `${kind}: ${who}${why ? ` — ${why instanceof Error ? why.message : noteText(why)}` : ''}`;
}

/** A note's field as text: scalars as they are, anything else as JSON (not "[object Object]"). */
function noteText(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

// ------------------------------------------------------------------------------------ compare

/** compare --plot FILE.png|FILE.svg: the figure as `<FILE without extension>.<format>` for each format (default both). */
export async function writeComparePlot(
  file: string,
  spec: VlSpec,
  formats: readonly PlotFormat[] = ['svg', 'png'],
  png: PngOptions = {},
): Promise<string[]> {
  const ext = extname(file).toLowerCase();
  const base = file.slice(0, file.length - ext.length);
  await makeDirectory(dirname(resolve(file)));
  const { renderSvg, svgToPng } = await import('../report/plots/render.js');
  const svg = await renderSvg(spec);
  const written: string[] = [];
  if (formats.includes('svg')) {
    await writeFileAtomic(`${base}.svg`, svg);
    written.push(`${base}.svg`);
  }
  if (formats.includes('png')) {
    await writeFileAtomic(`${base}.png`, svgToPng(svg, png));
    written.push(`${base}.png`);
  }
  // The file named on the command line first.
  return written.sort((a, b) => Number(b.toLowerCase().endsWith(ext)) - Number(a.toLowerCase().endsWith(ext)));
}

async function renderSpecs(specs: Record<string, VlSpec | undefined>): Promise<Record<string, string>> {
  const { renderSvg } = await import('../report/plots/render.js');
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(specs)) if (s) out[k] = await renderSvg(s);
  return out;
}

/**
 * The layers' ESD figures of compare --report: analyze()'s onLayer builds the spec at once (the ESD
 * is then let go) and hands it to the render pool (SVG only); each figure is compressed when it
 * comes back. onLayer waits while the pool's queue is full, as the analyze --plot writer does.
 */
class EsdCollector {
  private readonly renderer: PlotRenderer = createPlotRenderer({ png: false });
  private readonly inflight = new Set<Promise<void>>();
  private error: unknown;

  onLayer(modelIndex: number, out: { id: string; row: Row; gzip: Uint8Array }[]): (layer: LayerResult) => Promise<void> {
    return async (layer) => {
      const spec = layerFigureSpecs(layer, { figures: ['esd'] }).esd;
      if (!spec) return;
      const id = layerPlotId(layer.row);
      const row = layer.row;
      await this.renderer.ready(2 * Math.max(1, this.renderer.workers) + 4);
      const job: Promise<void> = this.renderer
        .render(spec)
        .then((r) => {
          out.push({ id, row, gzip: compareLayerEsd(modelIndex, id, r.svg) });
        })
        .catch((e: unknown) => {
          this.error ??= e;
        })
        .finally(() => this.inflight.delete(job));
      this.inflight.add(job);
    };
  }

  /** Wait for every figure; throws the first render failure. */
  async finish(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first render failure exactly as it was caught
    if (this.error !== undefined) throw this.error;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await this.renderer.close();
  }
}

/** Layers in the order of the model's rows (the analysis finishes them in any order). */
function inRowOrder<T extends { id: string }>(layers: readonly T[], rows: readonly Row[]): T[] {
  const at = new Map(rows.map((r, i) => [layerPlotId(r), i]));
  return [...layers].sort((a, b) => (at.get(a.id) ?? Infinity) - (at.get(b.id) ?? Infinity));
}

/** The report anchor of a matched layer in model k (its id there, with `_<slice>` for slices). */
function diffAnchor(d: { name: string; layer_ids: (number | null)[] }, k: number): string {
  const slice = /:(\d+)$/.exec(d.name)?.[1];
  return `${String(d.layer_ids[k])}${slice === undefined ? '' : `_${slice}`}`;
}

/** The compare report's panels (SVG) and their interactive specs. */
async function comparePanelsForReport(
  series: Parameters<typeof compareFigurePanels>[0],
  opts: Parameters<typeof compareFigurePanels>[1],
): Promise<{ compareFigures: Record<string, string>; interactive: Record<string, unknown> }> {
  const panels: Record<string, VlSpec | undefined> = { ...compareFigurePanels(series, { ...opts, table: [] }) };
  return { compareFigures: await renderSpecs(panels), interactive: await interactiveSpecs(panels) };
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
export async function compareModels(args: CompareRequest, io: Io): Promise<number> {
  const names = args.names ?? defaultNames(args.inputs);
  const inputs: CompareInput[] = [];
  // With --report, each analysed layer's ESD figure (gzip markup), for the sections a click opens:
  // rendered in the worker pool while the models are analysed.
  const esds: { id: string; row: Row; gzip: Uint8Array }[][] = [];
  const collector = args.report === undefined ? undefined : new EsdCollector();
  try {
    for (let i = 0; i < args.inputs.length; i++) {
      const p = args.inputs[i]!;
      const t0 = Date.now();
      const mine: { id: string; row: Row; gzip: Uint8Array }[] = [];
      esds.push(mine);
      const input = await loadCompareInput(p, names[i]!, args.analyze, args.baseModel, collector?.onLayer(i, mine));
      io.stderr.write(
        `compare: ${names[i]} ← ${p} (${input.kind === 'json' ? 'saved result' : `analysed in ${((Date.now() - t0) / 1000).toFixed(1)} s`}, ${input.rows.length} layers)\n`,
      );
      inputs.push(input);
    }
    await collector?.finish();
  } finally {
    await collector?.close();
  }

  const res = compareResults(inputs);
  if (args.baseModel) io.stdout.write(`Fine-tune deltas: each model analysed as W − W_base against ${args.baseModel}\n\n`);
  io.stdout.write(formatCompareText(res));
  const series = inputs.map((m) => ({ name: m.name, rows: m.rows }));
  const figureOptions = {
    table: res.table,
    diffs: res.diffs.flatMap((d) =>
      d.deltas
        .map((delta, k) => ({ name: d.name, index: d.index, model: res.names[k + 1]!, delta, anchor: diffAnchor(d, k + 1) }))
        .filter((x): x is { name: string; index: number; model: string; delta: number; anchor: string } => x.delta !== null),
    ),
  };
  const spec = compareFigureSpec(series, figureOptions);
  if (args.plot) {
    const files = await writeComparePlot(args.plot, spec, args.formats, args.pngScale !== undefined ? { scale: args.pngScale } : {});
    io.stderr.write(`compare: wrote ${files.join(', ')}\n`);
  }
  if (args.report) {
    const html = compareReportHtml({
      title: `WeightWatcher compare: ${res.names.join(' vs ')}`,
      result: res,
      // The panels one by one, each at its own size; the summary panel is the page's own table.
      ...(await comparePanelsForReport(series, figureOptions)),
      models: await Promise.all(
        inputs.map(async (m) => {
          const specs = modelFigureSpecs(m.rows, { title: m.name });
          return {
            name: m.name,
            source: m.source,
            rows: m.rows,
            modelFigures: await renderSpecs(specs),
            interactive: await interactiveSpecs(specs),
            layerEsds: inRowOrder(esds[inputs.indexOf(m)] ?? [], m.rows),
          };
        }),
      ),
    });
    await writeFileAtomic(args.report, html);
    io.stderr.write(`compare: wrote ${args.report}\n`);
  }
  if (args.json) {
    await write(
      args.json,
      JSON.stringify({ ...(args.baseModel ? { base_model: args.baseModel } : {}), ...compareJson(res, inputs) }, null, 1) + '\n',
      io,
    );
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
async function loadCompareInput(
  path: string,
  name: string,
  analyze: AnalyzeOptions = {},
  baseModel?: string,
  onLayer?: (layer: LayerResult) => Promise<void>,
): Promise<CompareInput> {
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
  const rows = await ww.analyze(onLayer ? { ...analyze, onLayer } : analyze);
  const run = ww.lastRun;
  return {
    name,
    source: path,
    kind: 'model',
    rows,
    summary: ww.getSummary(),
    ...(run ? { format: run.format, elapsedMs: run.elapsedMs } : {}),
  };
}
