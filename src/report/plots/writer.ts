/**
 * Figures of an analysis, produced while it runs: `onLayer` (analyze()'s hook) builds a finished
 * layer's figure specs at once — after which the layer's ESD and fit arrays can be let go — and
 * hands them to the renderer (pool.ts); each rendered figure is written to the plot folder and/or
 * added to the HTML report (html-writer.ts). `finish(rows)` adds the model figures, which need
 * every row. The render queue is kept short: onLayer waits while it is full, or while too many
 * layers' figures are still being written, which holds the analysis back rather than piling up
 * figures.
 *
 *   const writer = await AnalyzePlotWriter.create({ dir: 'plots', renderer });
 *   await ww.analyze({ onLayer: writer.onLayer });
 *   const { files } = await writer.finish(ww.getDetails()!);
 *
 * File names: `DIR/layer<id>[_<slice>].<figure>.<svg|png>` and `DIR/model.<figure>.<svg|png>`.
 *
 * A run's figures are written into a staging folder inside DIR (`.ww-plots-XXXXXX`) and moved into
 * DIR only when every figure is done (finish()); the figure files of an earlier run that this run
 * did not write (same naming pattern, PLOT_FILE) are removed at that moment. So DIR holds the
 * figures of one run: an interrupted or failed run leaves the previous figures as they were (its
 * staging folder is removed, also on SIGINT/SIGTERM), and a finished run never mixes in figures of
 * an earlier one. Other files in DIR are left alone.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerResult } from '../../engine/layer.js';
import { WeightWatcherError, errorMessage } from '../../shared/errors.js';
import { makeDirectory, writeFileAtomic } from '../../shared/atomic-write.js';
import type { Row } from '../../shared/rows.js';
import type { AnalyzeReportWriter } from '../html-writer.js';
import { DEFAULT_FIGURES, type FigureSelection, type PlotFormat } from './figures.js';
import { layerFigureSpecs, layerPlotId } from './layer.js';
import { modelFigureSpecs } from './model.js';
import type { PlotRenderer } from './pool.js';
import type { PngOptions, VlSpec } from './render.js';

export interface PlotWriterOptions {
  renderer: PlotRenderer;
  /** Write figure files into this folder (created). */
  dir?: string;
  /** Formats written to `dir` (default both; the SVG is rendered either way, PNG only when asked). */
  formats?: readonly PlotFormat[];
  /** How PNGs are rasterised (default: svgToPng's, 2× the SVG size on white). */
  png?: PngOptions;
  /** Which figures (default DEFAULT_FIGURES: all layer figures the data allows, alpha-hist, alpha-depth, log_spectral_norm-depth). */
  figures?: FigureSelection;
  /** Collect the layer figures for this report. */
  report?: AnalyzeReportWriter;
}

/** The names of the figure files a plot writer writes: the only files it replaces or removes in DIR. */
export const PLOT_FILE = /^(?:layer\d+(?:_\d+)?|model)\.[A-Za-z0-9_-]+\.(?:svg|png)$/;

export interface PlotWriterResult {
  /** Files written to `dir`, sorted. */
  files: string[];
  /** Model figure name → SVG (for the report). */
  modelFigures: Record<string, string>;
  /** Model figure name → its Vega-Lite spec (the report makes these interactive). */
  modelSpecs: Record<string, VlSpec>;
  /** Layers whose figures were rendered. */
  layers: number;
}

export class AnalyzePlotWriter {
  private readonly renderer: PlotRenderer;
  private readonly dir: string | undefined;
  private readonly formats: readonly PlotFormat[];
  private readonly pngOptions: PngOptions | true;
  private readonly figures: FigureSelection;
  private readonly report: AnalyzeReportWriter | undefined;
  private readonly files: string[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private error: unknown;
  private layers = 0;
  /** The staging folder inside `dir` while the run writes (undefined without `dir`, and once moved or removed). */
  private stage: string | undefined;
  private readonly removeStageOnExit = (): void => {
    if (this.stage) rmSync(this.stage, { recursive: true, force: true });
  };

  private constructor(opts: PlotWriterOptions, stage?: string) {
    this.renderer = opts.renderer;
    this.dir = opts.dir;
    this.stage = stage;
    // The CLI's signal handlers end the process with process.exit(): 'exit' still runs.
    if (stage) process.once('exit', this.removeStageOnExit);
    this.formats = opts.formats?.length ? opts.formats : ['svg', 'png'];
    this.pngOptions = opts.png ?? true;
    this.figures = opts.figures ?? DEFAULT_FIGURES;
    this.report = opts.report;
  }

  static async create(opts: PlotWriterOptions): Promise<AnalyzePlotWriter> {
    let stage: string | undefined;
    if (opts.dir !== undefined) {
      const dir = opts.dir;
      const fail = (e: unknown) => {
        throw new WeightWatcherError('E_IO', `${dir}: cannot create the plot folder (${errorMessage(e)})`, { file: dir, cause: e });
      };
      await makeDirectory(dir).catch(fail);
      stage = await mkdtemp(join(dir, '.ww-plots-')).catch(fail);
    }
    return new AnalyzePlotWriter(opts, stage);
  }

  /** Whether any per-layer figure is wanted (else the analysis need not hand over its layers). */
  get wantsLayers(): boolean {
    return this.figures.layer.length > 0;
  }

  /** Figures queued before onLayer waits: enough to keep every worker busy. */
  private get queueLimit(): number {
    return 2 * Math.max(1, this.renderer.workers) + 4;
  }

  /** Layers whose figures are being rendered or written before onLayer waits (their SVG/PNG are in memory). */
  private get layerLimit(): number {
    return 2 * Math.max(1, this.renderer.workers) + 2;
  }

  /** analyze()'s onLayer hook (bound). A layer without eigenvalues has no figures. */
  readonly onLayer = async (layer: LayerResult): Promise<void> => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first render failure exactly as it was caught
    if (this.error !== undefined) throw this.error;
    const specs = Object.entries(layerFigureSpecs(layer, { figures: this.figures.layer })).filter(
      (e): e is [string, VlSpec] => e[1] !== undefined,
    );
    if (!specs.length) return;
    const id = layerPlotId(layer.row);
    const row = layer.row;
    this.layers++;
    await this.renderer.ready(this.queueLimit);
    while (this.inflight.size >= this.layerLimit) await Promise.race(this.inflight);
    this.track(
      this.renderAll(specs, `layer${id}`).then((figures) => {
        this.report?.addLayer({ id, row, figures });
      }),
    );
  };

  private track(p: Promise<void>): void {
    const tracked = p
      .catch((e: unknown) => {
        this.error ??= e;
      })
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  /** Render specs (in parallel), write the files asked for, return the SVGs by figure name in spec order. */
  private async renderAll(specs: [string, VlSpec][], base: string): Promise<Record<string, string>> {
    const png = this.dir !== undefined && this.formats.includes('png');
    const svgFile = this.dir !== undefined && this.formats.includes('svg');
    const rendered = await Promise.all(
      specs.map(async ([fig, spec]) => {
        const out = await this.renderer.render(spec, { png: png && this.pngOptions });
        const stem = `${base}.${fig}`;
        if (svgFile) await this.write(`${stem}.svg`, out.svg);
        if (out.png) await this.write(`${stem}.png`, out.png);
        return [fig, out.svg] as const;
      }),
    );
    return Object.fromEntries(rendered);
  }

  /** Write a figure file (by its name in `dir`) into the staging folder. */
  private async write(name: string, data: string | Uint8Array): Promise<void> {
    const stage = this.stage;
    if (stage === undefined) throw new WeightWatcherError('E_INTERNAL', `plot writer: ${name} written after the run ended`);
    try {
      // Flushed to disk like every file the package writes; the rename into DIR comes at publish().
      await writeFileAtomic(join(stage, name), data);
    } catch (e) {
      if (e instanceof WeightWatcherError) throw e;
      throw new WeightWatcherError('E_IO', `${join(this.dir!, name)}: cannot write (${errorMessage(e)})`, {
        file: join(this.dir!, name),
        cause: e,
      });
    }
    this.files.push(name);
  }

  /**
   * Move the staged figures into `dir`, after removing the figure files of an earlier run that this
   * run did not write. Each figure replaces its old file by a rename: a reader sees the old file or
   * the new one.
   */
  private async publish(): Promise<string[]> {
    const dir = this.dir!;
    const stage = this.stage!;
    const mine = new Set(this.files);
    for (const name of await readdir(dir)) if (PLOT_FILE.test(name) && !mine.has(name)) await rm(join(dir, name), { force: true });
    for (const name of this.files) await rename(join(stage, name), join(dir, name));
    await this.dispose();
    return this.files.map((n) => join(dir, n));
  }

  /** Remove the staging folder (figures not yet moved into `dir` are dropped; `dir` keeps what it had). */
  async dispose(): Promise<void> {
    // Figures still being rendered would write into the folder while it is removed.
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    const stage = this.stage;
    this.stage = undefined;
    process.removeListener('exit', this.removeStageOnExit);
    if (stage) await rm(stage, { recursive: true, force: true });
  }

  /** Render the model figures from all rows and wait for every figure. Throws the first failure. */
  async finish(rows: readonly Row[]): Promise<PlotWriterResult> {
    const specs = Object.entries(modelFigureSpecs(rows, { histogram: this.figures.histogram, columns: this.figures.depthColumns }));
    let modelFigures: Record<string, string> = {};
    if (specs.length && this.error === undefined) {
      const model = this.renderAll(specs, 'model');
      this.track(
        model.then((figs) => {
          modelFigures = figs;
        }),
      );
    }
    while (this.inflight.size) await Promise.all([...this.inflight]);
    if (this.error !== undefined) {
      await this.dispose();
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first render failure exactly as it was caught
      throw this.error;
    }
    const written = this.dir !== undefined ? await this.publish() : [];
    const files = written.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return { files, modelFigures, modelSpecs: Object.fromEntries(specs), layers: this.layers };
  }
}
