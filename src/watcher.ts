/**
 * The public WeightWatcher object, mirroring the Python API: analyze(), describe(), getSummary(),
 * getESD(), getWeights(). A model is a path (file or folder), an opened TensorStore, or in-memory
 * tensors. Files are opened for each call and closed after it.
 */
import { openModelDetailed, openOptionsOf, type OpenOptions } from './formats/open.js';
import { MemoryStore, type InMemoryTensor } from './formats/memory.js';
import type { TensorStore } from './formats/types.js';
import { LayerFailuresError, WeightWatcherError } from './shared/errors.js';
import { resolveOptions, type AnalyzeOptions } from './shared/options.js';
import { describeRows, runAnalysis, type LayerFailure } from './engine/analyze.js';
import type { DescribeRow, DetailsRow, Row } from './shared/rows.js';
import type { SkippedLayer, SkippedLayers } from './engine/plan.js';
import { readLayerMatrices, type LayerResult } from './engine/layer.js';
import { enumerateLayers } from './layers/enumerate.js';
import { layerGeometry } from './tensors/geometry.js';
import { computeEsd, type Matrix } from './spectra/esd.js';
import { normalizeRows } from './report/columns.js';
import { summarize, type Summary } from './report/summary.js';

export type ModelInput = string | TensorStore | readonly InMemoryTensor[] | AsyncIterable<InMemoryTensor>;

/**
 * How a run ended: 'ok' every planned layer gave rows; 'partial' some layers failed; 'failed' every
 * planned layer failed; 'empty' no layer qualified (see `explanation`).
 */
export type RunStatus = 'ok' | 'partial' | 'failed' | 'empty';

export interface RunInfo {
  readonly status: RunStatus;
  /** Layers that passed the filters and support rules (analysed or failed). */
  readonly planned: number;
  /** Layers that produced no row, and why (built on first access from `skips`). */
  readonly skipped: SkippedLayer[];
  /** The same, stored compactly: counts by reason kind, slices, iteration without a million objects. */
  readonly skips: SkippedLayers;
  /** Layers whose analysis failed (bad data, LAPACK failure); the run continued without them. */
  readonly failures: LayerFailure[];
  /** When no layer qualified: why, in one line, with the fix. */
  readonly explanation?: string;
  /** What the reader chose and why, e.g. the files of other formats a folder also holds. */
  readonly notes: readonly string[];
  readonly elapsedMs: number;
  readonly source: string;
  readonly format: string;
}

function isStore(m: unknown): m is TensorStore {
  return typeof m === 'object' && m !== null && typeof (m as TensorStore).list === 'function' && typeof (m as TensorStore).read === 'function';
}

function isIterable(m: object): boolean {
  return typeof (m as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function' || typeof (m as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

/** A model argument is a path, a TensorStore, or an (async) iterable of in-memory tensors. */
function checkModelInput(m: unknown, where: string): asserts m is ModelInput | undefined {
  if (m === undefined) return;
  if (typeof m === 'string' && m !== '') return;
  if (typeof m === 'object' && m !== null && (isStore(m) || isIterable(m))) return;
  const got = m === null ? 'null' : typeof m === 'string' ? 'an empty string' : `${typeof m} ${typeof m === 'object' ? Object.prototype.toString.call(m) : JSON.stringify(m) ?? String(m)}`;
  throw new WeightWatcherError('E_USAGE', `${where}: expected a model path, a TensorStore, or an array or (async) iterable of { name, shape, data } tensors; got ${got}`);
}

/** A RunInfo whose `skipped` array is materialized from `skips` only when read. */
function runInfo(info: Omit<RunInfo, 'skipped'>): RunInfo {
  let materialized: SkippedLayer[] | undefined;
  return Object.defineProperty({ ...info }, 'skipped', { enumerable: true, get: () => (materialized ??= info.skips.toArray()) }) as RunInfo;
}

function runStatus(planned: number, failed: number): RunStatus {
  if (planned === 0) return 'empty';
  if (failed === 0) return 'ok';
  return failed >= planned ? 'failed' : 'partial';
}

/** analyze()'s error when layers failed: the first few failures in the message, all of them on the error. */
function layerFailuresError(info: RunInfo, rows: readonly DetailsRow[]): LayerFailuresError {
  const f = info.failures;
  const head = f.slice(0, 3).map((x) => `layer ${x.layer_id} ${x.name}: ${x.code} ${x.message}`).join('; ');
  const layers = info.planned === 1 ? 'layer' : 'layers';
  const what = info.status === 'failed' ? `all ${info.planned} ${layers} failed` : `${f.length} of ${info.planned} ${layers} failed`;
  return new LayerFailuresError(`${info.source}: ${what}: ${head}${f.length > 3 ? `; and ${f.length - 3} more (error.failures)` : ''}`, f, rows);
}

export class WeightWatcher {
  private model: ModelInput | undefined;
  /** The last analyze() result (getDetails()). */
  private details: DetailsRow[] | undefined;
  /** Skipped layers (with reasons), failures and timing of the last analyze() or describe(). */
  lastRun: RunInfo | undefined;
  private layerResults: LayerResult[] = [];

  /** Notes of the last open (what a folder reader chose). */
  private openNotes: readonly string[] = [];

  constructor(model?: ModelInput) {
    checkModelInput(model, 'new WeightWatcher(model)');
    this.model = model;
  }

  private async withStore<T>(model: ModelInput | undefined, fn: (s: TensorStore) => Promise<T>, open: OpenOptions = {}): Promise<T> {
    checkModelInput(model, 'options.model');
    const m = model ?? this.model;
    this.openNotes = [];
    if (m === undefined) throw new WeightWatcherError('E_USAGE', 'no model given: pass a path, a TensorStore or tensors to the constructor or the call');
    if (model !== undefined) this.model = model;
    if (isStore(m)) return fn(m); // caller owns it
    if (typeof m !== 'string') {
      // Tensors are gathered once, so an async iterable can be analysed more than once.
      const memory = await MemoryStore.fromAsync(m as AsyncIterable<InMemoryTensor>);
      this.model = memory;
      return fn(memory);
    }
    const { store, notes } = await openModelDetailed(m, open);
    this.openNotes = notes;
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  /**
   * Per-layer metrics with the reference's column names and order. Layers that fail are listed in
   * `lastRun.failures` (and `lastRun.status` is 'partial'); when every planned layer failed this
   * throws LayerFailuresError (E_LAYERS_FAILED) instead of returning [] — `throwOnFailure: true`
   * throws for any failed layer, `false` never. No qualifying layer at all returns [] with
   * `lastRun.status` 'empty' and `lastRun.explanation` saying why.
   */
  async analyze(options: AnalyzeOptions & { model?: ModelInput } = {}): Promise<DetailsRow[]> {
    const { model, ...rest } = options;
    const o = resolveOptions(rest);
    const rows = await this.withStore(model, async (store) => {
      const run = await runAnalysis(store, o);
      this.layerResults = run.results;
      this.details = normalizeRows(run.results.map((r) => r.row));
      this.lastRun = runInfo({
        status: runStatus(run.planned, run.failures.length),
        planned: run.planned,
        skips: run.skipped,
        failures: run.failures,
        ...(run.explanation !== undefined && { explanation: run.explanation }),
        notes: run.note === undefined ? this.openNotes : [...this.openNotes, run.note],
        elapsedMs: run.elapsedMs,
        source: store.source,
        format: store.format,
      });
      return this.details;
    }, openOptionsOf(o));
    const run = this.lastRun!;
    const fail = o.throwOnFailure === undefined ? run.status === 'failed' : o.throwOnFailure && run.failures.length > 0;
    if (fail) throw layerFailuresError(run, rows);
    return rows;
  }

  /** Rows analyze would produce (ids, names, shapes, num_evals), without computing spectra. */
  async describe(options: AnalyzeOptions & { model?: ModelInput } = {}): Promise<DescribeRow[]> {
    const { model, ...rest } = options;
    const o = resolveOptions(rest);
    return this.withStore(model, async (store) => {
      const started = performance.now();
      const { rows, skipped, explanation, note } = describeRows(store, o);
      this.lastRun = runInfo({
        status: rows.length ? 'ok' : 'empty',
        planned: rows.length,
        skips: skipped,
        failures: [],
        ...(explanation !== undefined && { explanation }),
        notes: note === undefined ? this.openNotes : [...this.openNotes, note],
        elapsedMs: performance.now() - started,
        source: store.source,
        format: store.format,
      });
      return normalizeRows(rows);
    }, openOptionsOf(o));
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
    let spec;
    for (const l of enumerateLayers(store)) {
      if (typeof layer === 'number' ? l.id === layer : l.name === layer) { spec = l; break; }
    }
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

