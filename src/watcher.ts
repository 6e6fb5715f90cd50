/**
 * The public WeightWatcher object, mirroring the Python API: analyze(), describe(), getSummary(),
 * getESD(), getWeights(). A model is a path (file or folder), an opened TensorStore, or in-memory
 * tensors. Files are opened for each call and closed after it.
 */
import { openModel, type OpenOptions } from './formats/open.js';
import { MemoryStore, type InMemoryTensor } from './formats/memory.js';
import type { TensorStore } from './formats/types.js';
import { WeightWatcherError } from './shared/errors.js';
import { resolveOptions, type AnalyzeOptions } from './shared/options.js';
import { describeRows, runAnalysis, type LayerFailure } from './engine/analyze.js';
import type { DescribeRow, DetailsRow, Row } from './shared/rows.js';
import type { SkippedLayer } from './engine/plan.js';
import { readLayerMatrices, type LayerResult } from './engine/layer.js';
import { enumerateLayers } from './layers/enumerate.js';
import { layerGeometry } from './tensors/geometry.js';
import { computeEsd, type Matrix } from './spectra/esd.js';
import { normalizeRows } from './report/columns.js';
import { summarize, type Summary } from './report/summary.js';

export type ModelInput = string | TensorStore | readonly InMemoryTensor[] | AsyncIterable<InMemoryTensor>;

export interface RunInfo {
  /** Layers that produced no row, and why. */
  readonly skipped: SkippedLayer[];
  /** Layers whose analysis failed (bad data, LAPACK failure); the run continued without them. */
  readonly failures: LayerFailure[];
  readonly elapsedMs: number;
  readonly source: string;
  readonly format: string;
}

function isStore(m: unknown): m is TensorStore {
  return typeof m === 'object' && m !== null && typeof (m as TensorStore).list === 'function' && typeof (m as TensorStore).read === 'function';
}

export class WeightWatcher {
  private model: ModelInput | undefined;
  /** The last analyze() result (getDetails()). */
  private details: DetailsRow[] | undefined;
  /** Skipped layers (with reasons), failures and timing of the last analyze() or describe(). */
  lastRun: RunInfo | undefined;
  private layerResults: LayerResult[] = [];

  constructor(model?: ModelInput) {
    this.model = model;
  }

  private async withStore<T>(model: ModelInput | undefined, fn: (s: TensorStore) => Promise<T>, open: OpenOptions = {}): Promise<T> {
    const m = model ?? this.model;
    if (m === undefined) throw new WeightWatcherError('E_USAGE', 'no model given: pass a path, a TensorStore or tensors to the constructor or the call');
    if (model !== undefined) this.model = model;
    if (isStore(m)) return fn(m); // caller owns it
    if (typeof m !== 'string') {
      // Tensors are gathered once, so an async iterable can be analysed more than once.
      const memory = await MemoryStore.fromAsync(m as AsyncIterable<InMemoryTensor>);
      this.model = memory;
      return fn(memory);
    }
    const store = await openModel(m, open);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  /**
   * Per-layer metrics with the reference's column names and order.
   *
   * `onLayer` receives each layer's full result (row, ESD, fit arrays) as soon as the layer is done,
   * in completion order, without keep_evals: a consumer such as the plot writer renders a layer and
   * lets its arrays go, so a big model's ESDs are never all in memory. The analysis waits for a
   * returned promise; an exception stops the run and rejects analyze().
   */
  async analyze(options: AnalyzeOptions & { model?: ModelInput; onLayer?: (layer: LayerResult) => void | Promise<void> } = {}): Promise<DetailsRow[]> {
    const { model, onLayer, ...rest } = options;
    const o = resolveOptions(rest);
    return this.withStore(model, async (store) => {
      const run = await runAnalysis(store, o, onLayer ? { onLayer } : {});
      this.layerResults = run.results;
      this.details = normalizeRows(run.results.map((r) => r.row));
      this.lastRun = { skipped: run.skipped, failures: run.failures, elapsedMs: run.elapsedMs, source: store.source, format: store.format };
      return this.details;
    }, { onnxConstants: o.onnx_constants });
  }

  /** Rows analyze would produce (ids, names, shapes, num_evals), without computing spectra. */
  async describe(options: AnalyzeOptions & { model?: ModelInput } = {}): Promise<DescribeRow[]> {
    const { model, ...rest } = options;
    const o = resolveOptions(rest);
    return this.withStore(model, async (store) => {
      const started = performance.now();
      const { rows, skipped } = describeRows(store, o);
      this.lastRun = { skipped, failures: [], elapsedMs: performance.now() - started, source: store.source, format: store.format };
      return normalizeRows(rows);
    }, { onnxConstants: o.onnx_constants });
  }

  /** The rows of the last analyze(), or undefined before the first. */
  getDetails(): DetailsRow[] | undefined {
    return this.details;
  }

  /** Means of the headline metrics over the layers (the given rows or the last analyze()). */
  getSummary(details?: readonly Row[]): Summary {
    const rows = details ?? this.details;
    return rows ? summarize(rows) : {};
  }

  /** Eigenvalues and fit kept by the last analyze({ keep_evals: true }) for a layer id. */
  getLayerResults(): readonly LayerResult[] {
    return this.layerResults;
  }

  private async findLayer(store: TensorStore, layer: number | string) {
    const spec = enumerateLayers(store).find((l) => (typeof layer === 'number' ? l.id === layer : l.name === layer));
    if (!spec) throw new WeightWatcherError('E_NOT_FOUND', `${store.source}: no layer with ${typeof layer === 'number' ? 'id' : 'name'} ${JSON.stringify(layer)}`);
    const geometry = spec.tensor ? layerGeometry(spec.type, spec.shape, spec.channels) : undefined;
    if (!geometry) throw new WeightWatcherError('E_SHAPE', `${store.source}: layer ${JSON.stringify(layer)} (${spec.type}, shape [${spec.shape.join(', ')}]) has no weight matrix to analyse`);
    return { spec, geometry };
  }

  /**
   * The layer's weight matrices as stored (unscaled; conv2d: one per kernel position). Unlike the
   * reference (Q46), any layer with a weight matrix can be fetched, not only those analyze keeps.
   */
  async getWeights(layer: number | string, options: { model?: ModelInput } = {}): Promise<Matrix[]> {
    return this.withStore(options.model, async (store) => readLayerMatrices(store, await this.findLayer(store, layer)));
  }

  /** The layer's ESD, ascending, without conv2d_norm scaling (as the reference's get_ESD, Q13). */
  async getESD(layer: number | string, options: { model?: ModelInput; precision?: 'float64' | 'float32' } = {}): Promise<Float64Array> {
    return this.withStore(options.model, async (store) => {
      const found = await this.findLayer(store, layer);
      const mats = await readLayerMatrices(store, found);
      return (await computeEsd(mats, { N: found.geometry.N, precision: options.precision ?? 'float64' })).evals;
    });
  }
}

