/**
 * The plot renderer: figures rendered in a small pool of worker threads (render-worker.ts), or in
 * this thread one at a time (`workers: 0`, the sequential path). Either way a figure comes out as
 * the same bytes (render.ts resets vega's id counters per figure), so the choice is only about
 * speed. Rendering is CPU-bound JavaScript (vega) and native rasterising (resvg); one worker per
 * core of the thread budget renders in parallel while this thread builds the specs and writes
 * files. A figure is two tasks, its SVG and then its PNG; when most figures are rasterised, some
 * workers only rasterise and never load vega (rasterWorkerCount). This module does not import vega.
 *
 *   const r = createPlotRenderer({ workers: 2 });
 *   try {
 *     const { svg, png } = await r.render(spec, { png: true });
 *   } finally {
 *     await r.close();
 *   }
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WeightWatcherError, errorMessage } from '../../shared/errors.js';
import { assertInstalled } from '../../shared/optional-import.js';
import type { PngOptions, VlSpec } from './render.js';

export interface RenderOptions {
  /** Also rasterise to PNG (true: default PNG options). The SVG is always returned. */
  png?: boolean | PngOptions;
}

export interface RenderedFigure {
  svg: string;
  png?: Uint8Array;
}

export interface PlotRendererOptions {
  /**
   * Worker threads (default: the thread budget — `threads`, else the machine's cores — at most 8;
   * the environment variable WW_PLOT_WORKERS overrides it). 0 renders in the calling thread, one
   * figure at a time.
   */
  workers?: number;
  /** Thread budget the default worker count is taken from (default: all cores). */
  threads?: number | null;
  /**
   * Most figures will be rasterised too (PNG): then some workers only rasterise and never load
   * vega (rasterWorkerCount). Default false: every worker renders SVG and PNG.
   */
  png?: boolean;
}

export interface PlotRenderer {
  /** Worker threads rendering (0: in this thread). */
  readonly workers: number;
  /** Figures queued or being rendered. */
  readonly pending: number;
  render(spec: VlSpec, opts?: RenderOptions): Promise<RenderedFigure>;
  /** Resolves once at most `max` figures are pending: lets a producer keep the queue short. */
  ready(max: number): Promise<void>;
  /** Stops the workers (after the figures in flight). Rendering after close() fails. */
  close(): Promise<void>;
}

/** What a worker is started for: it loads what it needs at once, before the first figure arrives. */
export interface RenderWorkerData {
  /** Renders specs (loads vega), besides rasterising. */
  vega: boolean;
}

/** Message to a worker: a spec to render as SVG, or an SVG to rasterise. */
export type RenderRequest =
  { id: number; spec: VlSpec; svg?: undefined } | { id: number; svg: string; png: true | PngOptions; spec?: undefined };

/** A worker's answer: the SVG or the PNG asked for, or the error message. */
export type RenderResponse =
  | { id: number; svg: string; png?: undefined; error?: undefined }
  | { id: number; png: Uint8Array; svg?: undefined; error?: undefined }
  | { id: number; error: string };

/** More workers than this only add memory (each loads vega, ≈ 60 MB) for little speed. */
export const MAX_RENDER_WORKERS = 8;

/**
 * Old-generation limit of a render worker: a bound on a runaway figure, not a working size (the
 * live heap is ≈ 20 MB). V8 sizes the heap's growth between full collections by this limit: 1.3×
 * the live size at 256 MB, rising linearly to 4× at 2 GB (heap-controller.cc, MaxGrowingFactor;
 * 64-bit heaps without pointer compression, as Node's). Each figure leaves a few MB of garbage, so a
 * small limit means a full collection every few figures. Measured on 2 cores with
 * `npm run bench:plots` (2026-11-27): 256 MB → 2 GB cut 24 full collections to 6 on minigpt
 * (`--plot`: 3.50 → 3.13 s, CPU 6.6 → 6.0 s) and made a 480-layer `--report` 18% faster (15.5 →
 * 12.7 s), for a higher peak RSS that still does not grow with the layers (312 → 406 MB at 480
 * layers, 410 MB at 960). 1 GB gave no measurable gain.
 */
const WORKER_HEAP_MB = 2048;

const WORKER_URL = new URL('./render-worker.js', import.meta.url);

/**
 * The worker script, when this module runs from the built package. Running from the TypeScript
 * sources (vitest, vite-node) there is no render-worker.js beside it, and rendering stays in-process.
 */
function workerScript(): URL | undefined {
  return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL)) ? WORKER_URL : undefined;
}

/** How many workers createPlotRenderer starts for these options. */
export function renderWorkerCount(opts: PlotRendererOptions = {}): number {
  let n = opts.workers;
  const env = process.env.WW_PLOT_WORKERS;
  if (n === undefined && env !== undefined && env.trim() !== '') {
    n = Number(env);
    if (!Number.isInteger(n) || n < 0)
      throw new WeightWatcherError('E_USAGE', `WW_PLOT_WORKERS must be a non-negative integer, got '${env}'`);
  }
  if (n === undefined) n = Math.min(MAX_RENDER_WORKERS, Math.max(1, opts.threads ?? availableParallelism()));
  if (!Number.isInteger(n) || n < 0) throw new WeightWatcherError('E_USAGE', `workers must be a non-negative integer, got ${String(n)}`);
  return n > 0 && workerScript() ? n : 0;
}

/**
 * Of n workers, how many only rasterise when figures are rasterised too. vega's part of a figure
 * (≈ 8 ms with a template) is about a third of resvg's at 2× (≈ 22 ms with the encoding), so
 * ⌈0.3·n⌉ vega workers keep the others fed, and they rasterise too whenever no spec is waiting.
 * A worker that never loads vega saves its start (≈ 0.2 s), its compiled templates and its JIT
 * warm-up.
 */
export function rasterWorkerCount(n: number, png: boolean): number {
  return png && n >= 2 ? n - Math.ceil(0.3 * n) : 0;
}

export function createPlotRenderer(opts: PlotRendererOptions = {}): PlotRenderer {
  // Workers load vega and resvg later; a missing one is said here, with its install command.
  assertInstalled('plots');
  const n = renderWorkerCount(opts);
  return n > 0 ? new WorkerPool(n, rasterWorkerCount(n, opts.png === true), workerScript()!) : new InlineRenderer();
}

function failure(message: string, cause?: unknown): WeightWatcherError {
  return new WeightWatcherError('E_INTERNAL', `rendering a figure failed: ${message}`, cause === undefined ? {} : { cause });
}

/** Bookkeeping shared by both renderers: the pending count and ready() waiters. */
abstract class Base {
  protected count = 0;
  protected closed = false;
  private waiters: { max: number; resolve: () => void }[] = [];

  get pending(): number {
    return this.count;
  }

  ready(max: number): Promise<void> {
    if (this.count <= max) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ max, resolve }));
  }

  protected settled(): void {
    this.count--;
    this.waiters = this.waiters.filter((w) => (this.count <= w.max ? (w.resolve(), false) : true));
  }

  protected releaseWaiters(): void {
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}

/** Renders in this thread, one figure at a time (vega's id counters are process-wide). */
class InlineRenderer extends Base implements PlotRenderer {
  readonly workers = 0;
  private chain: Promise<unknown> = Promise.resolve();

  render(spec: VlSpec, opts: RenderOptions = {}): Promise<RenderedFigure> {
    if (this.closed) return Promise.reject(failure('the renderer is closed'));
    this.count++;
    const job = this.chain.then(async () => {
      const { renderSvg, svgToPng } = await import('./render.js');
      const svg = await renderSvg(spec);
      return opts.png ? { svg, png: svgToPng(svg, opts.png === true ? {} : opts.png) } : { svg };
    });
    this.chain = job.catch(() => undefined);
    return job.finally(() => this.settled());
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    this.releaseWaiters();
  }
}

type RenderResult = Extract<RenderResponse, { error?: undefined }>;

/** One step of a figure in a worker: its SVG from the spec, or its PNG from the SVG. */
interface Task {
  request: RenderRequest;
  resolve: (r: RenderResult) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Loads vega and takes specs (else it only rasterises). */
  vega: boolean;
  task: Task | undefined;
}

/**
 * A figure is two tasks: its SVG (vega, in a vega worker) and then, when asked, its PNG (resvg, in
 * any worker). Vega workers take waiting specs first, so the rasterising ones stay fed.
 */
class WorkerPool extends Base implements PlotRenderer {
  readonly workers: number;
  private readonly slots: Slot[];
  private readonly specs: Task[] = [];
  private readonly rasters: Task[] = [];
  private nextId = 0;
  private broken: WeightWatcherError | undefined;

  constructor(n: number, rasterOnly: number, script: URL) {
    super();
    this.workers = n;
    this.slots = Array.from({ length: n }, (_, i) => {
      // No inherited node flags: the worker runs this package's own module, however the main script
      // was started (`node --input-type=module -e …` would make it refuse a file; V8 flags such as
      // --max-old-space-size are refused for workers when passed on).
      const vega = i < n - rasterOnly;
      const workerData: RenderWorkerData = { vega };
      const slot: Slot = {
        worker: new Worker(script, { execArgv: [], workerData, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } }),
        vega,
        task: undefined,
      };
      slot.worker.unref(); // an idle pool does not keep the process alive
      slot.worker.on('message', (res: RenderResponse) => this.onMessage(slot, res));
      slot.worker.on('error', (e) => this.fail(failure(`worker error: ${errorMessage(e)}`, e)));
      slot.worker.on('exit', (code) => {
        if (!this.closed) this.fail(failure(`a render worker exited (code ${code})`));
      });
      return slot;
    });
  }

  render(spec: VlSpec, opts: RenderOptions = {}): Promise<RenderedFigure> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(failure('the renderer is closed'));
    this.count++;
    return (async (): Promise<RenderedFigure> => {
      const { svg } = await this.run(this.specs, { id: this.nextId++, spec });
      if (svg === undefined) throw failure('a render worker sent no SVG');
      if (!opts.png) return { svg };
      const { png } = await this.run(this.rasters, { id: this.nextId++, svg, png: opts.png });
      if (png === undefined) throw failure('a render worker sent no PNG');
      return { svg, png };
    })().finally(() => this.settled());
  }

  private run(queue: Task[], request: RenderRequest): Promise<RenderResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<RenderResult>((resolve, reject) => {
      queue.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.task) continue;
      const task = (slot.vega ? this.specs.shift() : undefined) ?? this.rasters.shift();
      if (!task) continue;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage(task.request);
    }
  }

  private onMessage(slot: Slot, res: RenderResponse): void {
    const task = slot.task;
    if (!task || task.request.id !== res.id) return;
    slot.task = undefined;
    slot.worker.unref();
    if (res.error !== undefined) task.reject(failure(res.error));
    else task.resolve(res);
    this.dispatch();
  }

  private fail(e: WeightWatcherError): void {
    if (this.broken) return;
    this.broken = e;
    for (const slot of this.slots) {
      slot.task?.reject(e);
      slot.task = undefined;
    }
    for (const t of [...this.specs.splice(0), ...this.rasters.splice(0)]) t.reject(e);
    void this.terminate();
  }

  private async terminate(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.releaseWaiters();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued and in-flight figures finish, then stop the workers.
    while (this.count > 0 && !this.broken) await this.ready(0);
    await this.terminate();
  }
}
