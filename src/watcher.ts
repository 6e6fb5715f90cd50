/**
 * The public WeightWatcher object, mirroring the Python API: analyze(), describe(), getSummary(),
 * getESD(), getWeights(). A model is a path (file or folder), an opened TensorStore, or in-memory
 * tensors. Files are opened for each call and closed after it.
 */
import { openModelDetailed, openOptionsOf, type OpenOptions } from './formats/open.js';
import { MemoryStore, type InMemoryTensor } from './formats/memory.js';
import type { TensorStore } from './formats/types.js';
import { SafetensorsStore } from './formats/safetensors.js';
import { LayerFailuresError, WeightWatcherError } from './shared/errors.js';
import { resolveOptions, type AnalyzeOptions, type ResolvedOptions } from './shared/options.js';
import { describeRows, runAnalysis, type LayerFailure } from './engine/analyze.js';
import type { DescribeRow, DetailsRow, Row } from './shared/rows.js';
import type { SkippedLayer, SkippedLayers } from './engine/plan.js';
import { readLayerMatrices, type LayerResult } from './engine/layer.js';
import type { SvdRoute } from './native/binding.js';
import { routeStats, type RouteStat } from './engine/route-stats.js';
import { enumerateLayers } from './layers/enumerate.js';
import { layerGeometry } from './tensors/geometry.js';
import { computeEsd, type Matrix } from './spectra/esd.js';
import { normalizeRows } from './report/columns.js';
import { readAdapterConfig } from './formats/adapter-config.js';
import type { SourceInputs } from './engine/source.js';
import { layerDistances, type DistanceMethod, type DistanceResult, type Pairing } from './engine/distances.js';
import { transformModel, type SmoothMethod, type TransformResult } from './engine/smoothing.js';
import { summarize, type Summary } from './report/summary.js';
import { abortError, blasThreadsFor, cancellable, withCall, type Call, type CancelOptions } from './engine/scheduler.js';
import { threadBudget } from './engine/thread-policy.js';
import { describeResolution, resolveModel, streamModel, type ModelResolution, type ModelSourceOptions } from './hub/resolve.js';
import { runRecipe, type RecipeName, type RecipeOptions, type RecipeResult } from './recipes/run.js';

export type ModelInput = string | TensorStore | readonly InMemoryTensor[] | AsyncIterable<InMemoryTensor>;

/** The models of one call: the model, and a base model for fine-tune deltas or W + BA. */
export interface ModelInputs {
  model?: ModelInput;
  /** Analyse W − W_base per layer (or, with peft: 'with_base', add B·A to the base weights). */
  baseModel?: ModelInput;
  /** Python spelling of baseModel. */
  base_model?: ModelInput;
}

/** `revision`, `token`, `offline`, `cacheDir`, `stream`, `file`: where a model given by name comes from (src/hub/resolve.ts). */
export interface WatcherOptions extends ModelSourceOptions {
  /** A base model used by every call that does not name one (as the reference's constructor). */
  baseModel?: ModelInput;
}

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
  /** Models given by name (org/name, hf://…, a cache folder): the snapshot and commit each was resolved to. */
  readonly resolved?: readonly ModelResolution[];
  readonly elapsedMs: number;
  readonly source: string;
  readonly format: string;
  /** analyze(): how many rows each spectrum route produced (svd_route column; docs/numerics.md). */
  readonly routes?: Partial<Record<SvdRoute, number>>;
  /** analyze(): per route, rows, native seconds and nominal GFLOP (engine/route-stats.ts). */
  readonly routeStats?: Partial<Record<SvdRoute, RouteStat>>;
  /** analyze() with svd_method 'fast': the rows that needed ?gesdd, and why. */
  readonly fallbacks?: RouteFallback[];
  /** analyze(): layers in flight, OpenBLAS threads each, read-ahead, and the notice when `threads` was capped. */
  readonly threads?: { budget: number; concurrency: number; blasThreads: number; prefetch: number; limitedBy: string; notice?: string };
}

export interface RouteFallback {
  readonly layer_id: number;
  readonly name: string;
  readonly slice_id?: number;
  readonly reason: string;
}

function routeSummary(results: readonly LayerResult[]): Pick<RunInfo, 'routes' | 'fallbacks' | 'routeStats'> {
  const routes: Partial<Record<SvdRoute, number>> = {};
  const fallbacks: RouteFallback[] = [];
  for (const r of results) {
    if (r.route) routes[r.route] = (routes[r.route] ?? 0) + 1;
    if (r.fallback) {
      const sliceId = r.row.slice_id;
      fallbacks.push({
        layer_id: r.row.layer_id,
        name: r.row.name,
        ...(typeof sliceId === 'number' ? { slice_id: sliceId } : {}),
        reason: r.fallback,
      });
    }
  }
  return { routes, fallbacks, routeStats: routeStats(results) };
}

function isStore(m: unknown): m is TensorStore {
  return (
    typeof m === 'object' && m !== null && typeof (m as TensorStore).list === 'function' && typeof (m as TensorStore).read === 'function'
  );
}

function isIterable(m: object): boolean {
  return (
    typeof (m as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function' ||
    typeof (m as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}

/** A model argument is a path, a TensorStore, or an (async) iterable of in-memory tensors. */
function checkModelInput(m: unknown, where: string): asserts m is ModelInput | undefined {
  if (m === undefined) return;
  if (typeof m === 'string' && m !== '') return;
  if (typeof m === 'object' && m !== null && (isStore(m) || isIterable(m))) return;
  // Not JSON.stringify: it throws on a bigint and prints NaN as null.
  const got =
    m === null
      ? 'null'
      : typeof m === 'string'
        ? 'an empty string'
        : typeof m === 'object'
          ? `object ${Object.prototype.toString.call(m)}`
          : typeof m === 'function'
            ? 'a function'
            : typeof m === 'number' || typeof m === 'bigint' || typeof m === 'boolean' || typeof m === 'symbol'
              ? `${typeof m} ${String(m)}`
              : typeof m;
  throw new WeightWatcherError(
    'E_USAGE',
    `${where}: expected a model path, a TensorStore, or an array or (async) iterable of { name, shape, data } tensors; got ${got}`,
  );
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
  const head = f
    .slice(0, 3)
    .map((x) => `layer ${x.layer_id} ${x.name}: ${x.code} ${x.message}`)
    .join('; ');
  const layers = info.planned === 1 ? 'layer' : 'layers';
  const what = info.status === 'failed' ? `all ${info.planned} ${layers} failed` : `${f.length} of ${info.planned} ${layers} failed`;
  return new LayerFailuresError(
    `${info.source}: ${what}: ${head}${f.length > 3 ? `; and ${f.length - 3} more (error.failures)` : ''}`,
    f,
    rows,
  );
}

/** An opened model and how to release it (files are closed; caller-owned stores are left open). */
interface Opened {
  store: TensorStore;
  close(): Promise<void>;
  /** The path it came from, when it is a path. */
  path?: string;
  /** What a folder reader chose (the formats it left aside). */
  notes: readonly string[];
  /** A model given by name: what it was resolved to. */
  resolution?: ModelResolution;
}

async function openInput(m: ModelInput, open: OpenOptions, source: ModelSourceOptions & { peft?: boolean } = {}): Promise<Opened> {
  if (isStore(m)) return { store: m, close: async () => {}, notes: [] }; // caller owns it
  if (typeof m !== 'string') {
    // Tensors are gathered once, so an async iterable can be analysed more than once.
    return { store: await MemoryStore.fromAsync(m as AsyncIterable<InMemoryTensor>), close: async () => {}, notes: [] };
  }
  // An https:// URL, or a name with `stream`, is read with HTTP range requests; a local path always wins.
  const streamed = await streamModel(m, source);
  if (streamed) {
    const said = describeResolution(streamed.resolution);
    return {
      store: streamed.store,
      close: () => streamed.store.close(),
      notes: said === undefined ? [] : [said],
      resolution: streamed.resolution,
    };
  }
  // A name (org/name, hf://…) becomes a cached snapshot, downloaded when missing; a local path stays as it is.
  const r = await resolveModel(m, source);
  const { store, notes } = await openModelDetailed(r.path, open);
  const said = describeResolution(r);
  return {
    store,
    close: () => store.close(),
    path: r.path,
    notes: said === undefined ? notes : [said, ...notes],
    ...(r.from !== 'local' && { resolution: r }),
  };
}

export class WeightWatcher {
  private model: ModelInput | undefined;
  private baseModel: ModelInput | undefined;
  /** The last analyze() result (getDetails()). */
  private details: DetailsRow[] | undefined;
  /** Skipped layers (with reasons), failures and timing of the last analyze() or describe(). */
  lastRun: RunInfo | undefined;
  private layerResults: LayerResult[] = [];
  /** Notes of the last open (what a folder reader chose). */
  private openNotes: readonly string[] = [];
  /** Where models given by name come from (constructor options). */
  private readonly source: ModelSourceOptions;
  /** What the last call's models given by name were resolved to. */
  private resolutions: ModelResolution[] = [];

  constructor(model?: ModelInput, options: WatcherOptions = {}) {
    checkModelInput(model, 'new WeightWatcher(model)');
    checkModelInput(options.baseModel, 'new WeightWatcher(model, { baseModel })');
    this.model = model;
    this.baseModel = options.baseModel;
    const { baseModel: _base, ...source } = options;
    this.source = source;
  }

  private async withStore<T>(
    model: ModelInput | undefined,
    fn: (s: TensorStore, path: string | undefined) => Promise<T>,
    open: OpenOptions = {},
    peft = false,
  ): Promise<T> {
    checkModelInput(model, 'options.model');
    const m = model ?? this.model;
    this.openNotes = [];
    this.resolutions = [];
    if (m === undefined)
      throw new WeightWatcherError('E_USAGE', 'no model given: pass a path, a TensorStore or tensors to the constructor or the call');
    if (model !== undefined) this.model = model;
    const opened = await openInput(m, open, { ...this.source, peft });
    this.openNotes = opened.notes;
    if (opened.resolution) this.resolutions.push(opened.resolution);
    if (opened.store instanceof MemoryStore && !isStore(m)) this.model = opened.store;
    try {
      return await fn(opened.store, opened.path);
    } finally {
      await opened.close();
    }
  }

  /**
   * Open the model (and the base model, when one is given to the call or the constructor) and
   * gather what the layer source needs: the base store and the adapter's settings for peft.
   */
  private async withInputs<T>(
    inputs: ModelInputs,
    o: ResolvedOptions,
    fn: (store: TensorStore, sources: SourceInputs) => Promise<T>,
  ): Promise<T> {
    if (inputs.baseModel !== undefined && inputs.base_model !== undefined)
      throw new WeightWatcherError('E_USAGE', 'give baseModel or base_model, not both');
    const baseInput = inputs.baseModel ?? inputs.base_model ?? this.baseModel;
    checkModelInput(baseInput, 'baseModel');
    const open = openOptionsOf(o);
    return this.withStore(
      inputs.model,
      async (store, path) => {
        const adapterConfig = o.peft && path !== undefined ? await readAdapterConfig(path) : undefined;
        const config = adapterConfig?.fanInFanOut !== undefined ? { adapterConfig: { fanInFanOut: adapterConfig.fanInFanOut } } : {};
        if (baseInput === undefined) return fn(store, config);
        const base = await openInput(baseInput, open, this.source);
        if (base.resolution) {
          this.resolutions.push(base.resolution);
          this.openNotes = [...this.openNotes, ...base.notes.slice(0, 1)];
        }
        try {
          return await fn(store, { ...config, base: base.store });
        } finally {
          await base.close();
        }
      },
      open,
      o.peft !== false,
    );
  }

  /**
   * Per-layer metrics with the reference's column names and order. Layers that fail are listed in
   * `lastRun.failures` (and `lastRun.status` is 'partial'); when every planned layer failed this
   * throws LayerFailuresError (E_LAYERS_FAILED) instead of returning [] — `throwOnFailure: true`
   * throws for any failed layer, `false` never. No qualifying layer at all returns [] with
   * `lastRun.status` 'empty' and `lastRun.explanation` saying why.
   *
   * `onLayer` receives each layer's full result (row, ESD, fit arrays) as soon as the layer is done,
   * in completion order, without keep_evals: a consumer such as the plot writer renders a layer and
   * lets its arrays go, so a big model's ESDs are never all in memory. The analysis waits for a
   * returned promise; an exception stops the run and rejects analyze().
   */
  async analyze(
    options: AnalyzeOptions & ModelInputs & CancelOptions & { onLayer?: (layer: LayerResult) => void | Promise<void> } = {},
  ): Promise<DetailsRow[]> {
    const { model, baseModel, base_model, onLayer, signal: callerSignal, timeoutMs, ...rest } = options;
    const o = resolveOptions(rest);
    const rows = await cancellable({ signal: callerSignal, timeoutMs }, (signal) =>
      this.withInputs({ model, baseModel, base_model }, o, async (store, inputs) => {
        const run = await runAnalysis(store, o, inputs, { ...(onLayer ? { onLayer } : {}), ...(signal ? { signal } : {}) });
        this.layerResults = run.results;
        this.details = normalizeRows(run.results.map((r) => r.row));
        const p = run.plan;
        this.lastRun = runInfo({
          status: runStatus(run.planned, run.failures.length),
          planned: run.planned,
          skips: run.skipped,
          failures: run.failures,
          ...(run.explanation !== undefined && { explanation: run.explanation }),
          notes: run.note === undefined ? this.openNotes : [...this.openNotes, run.note],
          ...(this.resolutions.length && { resolved: this.resolutions }),
          elapsedMs: run.elapsedMs,
          source: store.source,
          format: store.format,
          ...routeSummary(run.results),
          ...(p
            ? {
                threads: {
                  budget: p.budget,
                  concurrency: p.concurrency,
                  blasThreads: p.blasThreads,
                  prefetch: p.prefetch,
                  limitedBy: p.limitedBy,
                  ...(p.notice ? { notice: p.notice } : {}),
                },
              }
            : {}),
        });
        return this.details;
      }),
    );
    const run = this.lastRun!;
    const fail = o.throwOnFailure === undefined ? run.status === 'failed' : o.throwOnFailure && run.failures.length > 0;
    if (fail) throw layerFailuresError(run, rows);
    return rows;
  }

  /** Rows analyze would produce (ids, names, shapes, num_evals), without computing spectra. */
  async describe(options: AnalyzeOptions & ModelInputs & CancelOptions = {}): Promise<DescribeRow[]> {
    const { model, baseModel, base_model, signal: callerSignal, timeoutMs, ...rest } = options;
    const o = resolveOptions(rest);
    return cancellable({ signal: callerSignal, timeoutMs }, (signal) =>
      this.withInputs({ model, baseModel, base_model }, o, async (store, inputs) => {
        if (signal?.aborted) throw abortError(signal);
        const started = performance.now();
        const { rows, skipped, explanation, note } = describeRows(store, o, inputs);
        this.lastRun = runInfo({
          status: rows.length ? 'ok' : 'empty',
          planned: rows.length,
          skips: skipped,
          failures: [],
          ...(explanation !== undefined && { explanation }),
          notes: note === undefined ? this.openNotes : [...this.openNotes, note],
          ...(this.resolutions.length && { resolved: this.resolutions }),
          elapsedMs: performance.now() - started,
          source: store.source,
          format: store.format,
        });
        return normalizeRows(rows);
      }),
    );
  }

  /**
   * Per-layer distances between this model and `other` (the reference's distances(model_1, model_2)):
   * 'raw' ‖W1 − W2‖ of the stored tensors and ‖b1 − b2‖ of the biases, 'euclidean' over the layer's
   * matrices, 'cka' the reference's uncentered CKA. Layers pair by name (pairing: 'position' = the
   * reference's zip); the selection options (layers, min_evals, pool, …) apply to both models.
   */
  async distances(
    other: ModelInput,
    options: AnalyzeOptions & CancelOptions & { model?: ModelInput; method?: DistanceMethod; pairing?: Pairing } = {},
  ): Promise<DistanceResult> {
    const { model, method = 'raw', pairing = 'name', signal, timeoutMs, ...rest } = options;
    const o = resolveOptions(rest);
    const m = typeof method === 'string' ? (method.toLowerCase() as DistanceMethod) : method;
    const open = openOptionsOf(o);
    checkModelInput(other, 'distances(other)');
    return withCall({ signal, timeoutMs }, (call) =>
      this.withStore(
        model,
        async (store) => {
          const b = await openInput(other, open, this.source);
          try {
            return await layerDistances(store, b.store, o, m, pairing, call);
          } finally {
            await b.close();
          }
        },
        open,
      ),
    );
  }

  /** The model as a path: smoothing and sharpening read safetensors files by path. */
  private async modelPath(model: ModelInput | undefined): Promise<string> {
    const m = model ?? this.model;
    if (typeof m === 'string') return (await resolveModel(m, this.source)).path;
    if (m instanceof SafetensorsStore && m.files.length === 1) return m.files[0]!.path;
    throw new WeightWatcherError('E_USAGE', 'smoothing and sharpening need the model as a path to a safetensors file or folder');
  }

  /**
   * SVD smoothing (the reference's SVDSmoothing): write to `output` a copy of the model in which
   * every selected layer is replaced by its best rank-k approximation, k from `method` ('detX'
   * default, 'svd' with `percent` of M·rf, 'rmt', 'alpha_min'). The model is not modified; other
   * tensors, metadata and dtypes are kept. Layer selection as analyze (layers, min_evals, …).
   */
  async smooth(
    output: string,
    options: AnalyzeOptions & CancelOptions & { model?: string; method?: SmoothMethod; percent?: number } = {},
  ): Promise<TransformResult> {
    const { model, method = 'detX', percent = 0.8, signal, timeoutMs, ...rest } = options;
    const o = resolveOptions(rest);
    return transformModel(await this.modelPath(model), output, { kind: 'smooth', method, percent }, o, { signal, timeoutMs });
  }

  /**
   * SVD sharpening (the reference's SVDSharpness): write to `output` a copy of the model in which
   * every selected layer loses as many of its top singular components as its randomly permuted
   * matrix has Marchenko–Pastur spikes (correlation traps). `seed` makes the permutations
   * reproducible (the reference is unseeded).
   */
  async sharpen(output: string, options: AnalyzeOptions & CancelOptions & { model?: string } = {}): Promise<TransformResult> {
    const { model, signal, timeoutMs, ...rest } = options;
    const o = resolveOptions(rest);
    return transformModel(await this.modelPath(model), output, { kind: 'sharpen' }, o, { signal, timeoutMs });
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
      if (typeof layer === 'number' ? l.id === layer : l.name === layer) {
        spec = l;
        break;
      }
    }
    if (!spec)
      throw new WeightWatcherError(
        'E_NOT_FOUND',
        `${store.source}: no layer with ${typeof layer === 'number' ? 'id' : 'name'} ${JSON.stringify(layer)}`,
      );
    const geometry = spec.tensor ? layerGeometry(spec.type, spec.shape, spec.channels) : undefined;
    if (!geometry) {
      // Say which tensor that is and which layers nearby do have a matrix (GPT-2's id 3 is a norm).
      const id = spec.id;
      const withMatrix = [...enumerateLayers(store)]
        .filter((l) => l.tensor && layerGeometry(l.type, l.shape, l.channels))
        .sort((a, b) => Math.abs(a.id - id) - Math.abs(b.id - id) || a.id - b.id)
        .slice(0, 4)
        .sort((a, b) => a.id - b.id)
        .map((l) => `${l.id} (${l.name})`);
      throw new WeightWatcherError(
        'E_SHAPE',
        `${store.source}: layer ${JSON.stringify(layer)} is '${spec.tensor ?? spec.name}' (${spec.type}, shape [${spec.shape.join(', ')}]), which has no weight matrix to analyse` +
          (withMatrix.length ? `; layers with one nearby: ${withMatrix.join(', ')} (weightwatcher describe lists them all)` : ''),
        { file: store.source, tensor: spec.tensor ?? spec.name },
      );
    }
    return { spec, geometry };
  }

  /**
   * The layer's weight matrices as stored (unscaled; conv2d: one per kernel position). Unlike the
   * reference (Q46), any layer with a weight matrix can be fetched, not only those analyze keeps.
   */
  async getWeights(layer: number | string, options: { model?: ModelInput } = {}): Promise<Matrix[]> {
    return this.withStore(options.model, async (store) => readLayerMatrices(store, await this.findLayer(store, layer)));
  }

  /**
   * The layer's ESD, ascending, without conv2d_norm scaling (as the reference's get_ESD, Q13). With
   * svd_method 'fast' (the default, as analyze) the values are the guarded Gram eigenvalues: each
   * within the route's error bound of ?gesdd's, the smallest one as accurate as ?gesdd's
   * (docs/numerics.md); 'accurate' runs ?gesdd.
   */
  async getESD(
    layer: number | string,
    options: CancelOptions & { model?: ModelInput; precision?: 'float64' | 'float32'; svd_method?: 'fast' | 'accurate' } = {},
  ): Promise<Float64Array> {
    return withCall(options, (call) =>
      this.withStore(options.model, async (store) => {
        const found = await this.findLayer(store, layer);
        const mats = await readLayerMatrices(store, found);
        call.throwIfAborted();
        // One layer: the scheduler gives it every thread of the budget (issue 23).
        const threads = blasThreadsFor(threadBudget(null).budget, 1);
        const esd = await call.run(threads, (slot) =>
          computeEsd(mats, {
            N: found.geometry.N,
            precision: options.precision ?? 'float64',
            method: options.svd_method ?? 'fast',
            threads,
            exclusive: slot.exclusive,
          }),
        );
        return esd.evals;
      }),
    );
  }

  /**
   * A research recipe built on WeightWatcher (docs/recipes.md): AlphaPruning's alpha_peak and
   * sparsities, TempBalance's alphas and learning rates, FARMS alphas, Adaptive-Rank-LoRA ranks —
   * the papers' per-layer columns under their names, computed on the spectrum routes.
   */
  async recipe(name: RecipeName, options: RecipeOptions & CancelOptions & { model?: ModelInput } = {}): Promise<RecipeResult> {
    const { model, signal: _signal, timeoutMs: _timeout, ...o } = options;
    // Layers go through the process scheduler, as analyze's do (engine/scheduler.ts).
    const exec = (call: Call) => ({
      budget: threadBudget(null).budget,
      run: <T>(threads: number, fn: () => Promise<T>) => call.run(threads, fn),
    });
    return withCall(options, (call) =>
      this.withStore(model, (store) =>
        runRecipe(
          store,
          name,
          {
            ...o,
            onLayer: (...a) => {
              call.throwIfAborted();
              o.onLayer?.(...a);
            },
          },
          exec(call),
        ),
      ),
    );
  }
}
