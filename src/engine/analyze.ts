/**
 * The analyze and describe loops. A few layers are in flight at once (one per BLAS thread group),
 * each read, decomposed and released independently; rows come out in reference order. At most
 * `concurrency` layers are in memory.
 */
import type { TensorStore } from '../formats/types.js';
import { Random } from '../shared/random.js';
import { errorMessage, isWeightWatcherError, type LayerFailure } from '../shared/errors.js';
import { availableParallelism } from 'node:os';
import { withBlasThreads } from '../native/blas-threads.js';
import { analyzeLayer, type LayerResult } from './layer.js';
import type { DescribeRow } from '../shared/rows.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { SkippedLayers } from './plan.js';
import { layerSource, type SourceInputs } from './source.js';
import { analyzeStacked } from './stacked.js';
import { analyzeIntra } from './intra.js';

export type { LayerFailure };

export interface AnalysisRun {
  readonly results: LayerResult[];
  readonly skipped: SkippedLayers;
  readonly failures: LayerFailure[];
  /** Layers that were planned (analysed or failed). */
  readonly planned: number;
  /** When nothing was planned: why, with the fix. */
  readonly explanation?: string;
  /** Tensors the numbering left out (see Plan.note). */
  readonly note?: string;
  readonly elapsedMs: number;
}

/**
 * One thread budget (spec'd in the README): `c` layers are decomposed at once, each with
 * floor(budget / c) OpenBLAS threads, so BLAS threads never exceed the cores. On 2 cores two
 * single-threaded SVDs beat one two-threaded SVD by 1.4–1.9× for every GPT-2-sized matrix, and
 * 2×2 threads is 2× slower than either (measured). `c` also leaves a libuv thread for file reads.
 */
export function threadPlan(layerCount: number, budget = availableParallelism()): { concurrency: number; blasThreads: number } {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const concurrency = Math.max(1, Math.min(budget, pool - 1, layerCount));
  return { concurrency, blasThreads: Math.max(1, Math.floor(budget / concurrency)) };
}

/**
 * Per-layer generator: results do not depend on scheduling, and a seed reproduces every layer. The
 * stream is keyed by the layer id (not its position among the analysed layers), so a layer gets the
 * same numbers whichever subset is analysed — a big model split into layer-group jobs over several
 * machines equals the single-process run row for row. Unseeded runs draw fresh randomness.
 */
export function layerRandom(seed: number | null, layerId: number): Random {
  return seed === null ? new Random() : new Random(seed + 0x9e3779b9 * (layerId + 1));
}

export interface AnalysisHooks {
  /**
   * Called with each finished layer's full result (row, ESD, fit arrays, extension data), in
   * completion order, whether or not keep_evals is set; the run waits for a returned promise (so a
   * slow consumer holds the analysis back instead of piling up ESDs). Without keep_evals the run
   * keeps only the rows. An exception stops the run and rejects it.
   */
  onLayer?: (result: LayerResult) => void | Promise<void>;
}

/**
 * Analyse every layer of the store. With `inputs.base` the layers are fine-tune deltas W − W_base,
 * with `peft` LoRA products (engine/source.ts); stacked and intra then work on those matrices.
 */
export async function runAnalysis(store: TensorStore, o: ResolvedOptions, inputs: SourceInputs = {}, hooks: AnalysisHooks = {}): Promise<AnalysisRun> {
  const started = performance.now();
  const { onLayer } = hooks;
  // The layer pipeline keeps ESDs and fit arrays when the hook needs them; the run stores them only with keep_evals.
  const lo = onLayer && !o.keep_evals ? { ...o, keep_evals: true } : o;
  const kept = (rs: LayerResult[]) => (o.keep_evals ? rs : rs.map((r) => ({ row: r.row })));
  // Iterator variants, in the reference's priority order (spec §1.10); intra plans pooled layers.
  const variant = o.stacked ? analyzeStacked : o.intra ? analyzeIntra : undefined;
  const source = layerSource(store, o.intra && !o.stacked ? { ...o, pool: true } : o, inputs);
  const said = { ...(source.explanation !== undefined && { explanation: source.explanation }), ...(source.note !== undefined && { note: source.note }) };
  if (variant) {
    const { results, skipped } = await variant(source, lo, layerRandom(o.seed, 0));
    for (const r of results) await onLayer?.(r);
    return { results: kept(results), skipped, failures: [], planned: source.layers.length, ...said, elapsedMs: performance.now() - started };
  }
  const { layers, skipped } = source;
  const perLayer: LayerResult[][] = new Array(layers.length);
  const failures: (LayerFailure | undefined)[] = new Array(layers.length);
  const { concurrency, blasThreads } = threadPlan(layers.length, o.threads ?? undefined);
  let next = 0;
  let done = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < layers.length) {
      const i = next++;
      const layer = layers[i]!;
      let results: LayerResult[] | undefined;
      try {
        const mats = await layer.read();
        results = await analyzeLayer(layer, mats, lo, layerRandom(o.seed, layer.spec.id));
        perLayer[i] = kept(results);
      } catch (e) {
        // A bad layer fails that layer, not the run.
        failures[i] = { layer_id: layer.spec.id, name: layer.spec.name, code: isWeightWatcherError(e) ? e.code : 'E_INTERNAL', message: errorMessage(e) };
      }
      try {
        if (!stopped) for (const r of results ?? []) await onLayer?.(r);
      } catch (e) {
        stopped = true; // the consumer failed: stop taking layers
        throw e;
      }
      done++;
      o.onProgress?.({ done, total: layers.length, layerId: layer.spec.id, name: layer.spec.name, elapsedMs: performance.now() - started });
    }
  };
  await withBlasThreads(blasThreads, () => Promise.all(Array.from({ length: concurrency }, worker)));
  return {
    results: perLayer.flatMap((r) => r ?? []),
    skipped,
    failures: failures.filter((f): f is LayerFailure => f !== undefined),
    planned: layers.length,
    ...said,
    elapsedMs: performance.now() - started,
  };
}

/**
 * describe(): the rows analyze would produce, from shapes only (R28). num_evals is the count
 * analyze will compute: M·rf pooled, M per slice, the adapter rank r for LoRA products (the
 * reference's describe says M there).
 */
export function describeRows(store: TensorStore, o: ResolvedOptions, inputs: SourceInputs = {}): { rows: DescribeRow[]; skipped: SkippedLayers; explanation?: string; note?: string } {
  const { layers, skipped, explanation, note } = layerSource(store, o, inputs);
  const rows: DescribeRow[] = [];
  for (const { spec, geometry: g, columns } of layers) {
    const base: DescribeRow = {
      ...columns,
      layer_id: spec.id,
      name: spec.name,
      M: g.M,
      N: g.N,
      Q: g.M === 0 ? -1 : g.N / g.M,
      layer_type: spec.type,
      longname: spec.longname,
      num_evals: o.pool ? g.numComponents : Math.min(g.M, g.numComponents),
      rf: g.rf,
    };
    if (!o.pool && spec.type === 'conv2d') g.slices.forEach((_, i) => rows.push({ ...base, slice_id: i }));
    else rows.push(o.pool ? base : { ...base, slice_id: 0 });
  }
  return { rows, skipped, ...(explanation !== undefined && { explanation }), ...(note !== undefined && { note }) };
}
