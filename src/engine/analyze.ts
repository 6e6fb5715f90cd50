/**
 * The analyze and describe loops. Several layers are in flight at once (thread-policy.ts), each
 * read, decomposed and released independently, and the next layers' reads run ahead of the
 * decompositions; rows come out in reference order. At most concurrency + prefetch layers are in
 * memory. The decompositions run in slots of the process's one scheduler (scheduler.ts), shared
 * with every other call, each layer with the OpenBLAS thread count its place in the plan gives it;
 * the run's signal stops it between layers.
 */
import type { TensorEntry, TensorStore } from '../formats/types.js';
import { Random } from '../shared/random.js';
import { errorMessage, isWeightWatcherError, type LayerFailure } from '../shared/errors.js';
import { dtypeSize } from '../formats/decode.js';
import type { LayerMatrix } from '../spectra/esd.js';
import { analyzeLayer, type LayerResult } from './layer.js';
import { threadBudget, threadPlan, type LayerShape, type ThreadPlan } from './thread-policy.js';
import { blasThreadsFor, cancelSignal, scheduler, type CancelOptions } from './scheduler.js';
import type { DescribeRow } from '../shared/rows.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { SkippedLayers, SourceLayer } from './plan.js';
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
  /** How the layers were scheduled (undefined for stacked and intra, which run one layer at a time). */
  readonly plan?: ThreadPlan;
}

/** What the thread policy needs of a layer: its matrix shape and the bytes its tensor holds while in flight. */
function layerShape(entries: ReadonlyMap<string, TensorEntry>, layer: SourceLayer): LayerShape {
  const entry = layer.spec.tensor === undefined ? undefined : entries.get(layer.spec.tensor);
  const count = layer.spec.shape.reduce((a, b) => a * b, 1);
  const size = entry ? dtypeSize(entry.dtype) : undefined;
  // Dense F32/F16/BF16 weights are held as read; anything else is decoded to float32 as well.
  const stored =
    layer.readForAnalysis !== undefined &&
    layer.geometry.sliceAxes === 'dense' &&
    entry !== undefined &&
    ['F32', 'F16', 'BF16'].includes(entry.dtype);
  return {
    rows: layer.geometry.rows,
    cols: layer.geometry.cols,
    slices: layer.geometry.slices.length,
    tensorBytes: stored ? count * size! : count * (4 + (size ?? 4)),
  };
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
  /** Cancellation (engine/scheduler.ts): no layer starts after the abort; the run rejects with an AbortedError once the layers in flight end. */
  signal?: CancelOptions['signal'];
  timeoutMs?: CancelOptions['timeoutMs'];
  /**
   * The analysed layers are positions offset … offset + n − 1 of a run of `layerCount` layers (a
   * layer-group job of a sweep): each layer gets the OpenBLAS thread count it has in that whole run
   * (blasThreadsFor), so the split gives the single run's rows bit for bit.
   */
  placement?: { readonly layerCount: number; readonly offset: number };
}

/**
 * Analyse every layer of the store. With `inputs.base` the layers are fine-tune deltas W − W_base,
 * with `peft` LoRA products (engine/source.ts); stacked and intra then work on those matrices.
 */
export async function runAnalysis(
  store: TensorStore,
  o: ResolvedOptions,
  inputs: SourceInputs = {},
  hooks: AnalysisHooks = {},
): Promise<AnalysisRun> {
  const started = performance.now();
  const { onLayer } = hooks;
  // The layer pipeline keeps ESDs and fit arrays when the hook needs them; the run stores them only with keep_evals.
  const lo = onLayer && !o.keep_evals ? { ...o, keep_evals: true } : o;
  // Without keep_evals only the row and its route (run info) are kept.
  const kept = (rs: LayerResult[]) =>
    o.keep_evals ? rs : rs.map(({ row, route, fallback, seconds }) => ({ row, route, fallback, seconds }));
  // Iterator variants, in the reference's priority order (R12); intra plans pooled layers.
  const variant = o.stacked ? analyzeStacked : o.intra ? analyzeIntra : undefined;
  const source = layerSource(store, o.intra && !o.stacked ? { ...o, pool: true } : o, inputs);
  const said = {
    ...(source.explanation !== undefined && { explanation: source.explanation }),
    ...(source.note !== undefined && { note: source.note }),
  };
  const { signal, dispose } = cancelSignal(hooks);
  const call = scheduler.open(signal);
  try {
    if (variant) {
      // One synthetic layer (stacked) or pairs decomposed one after the other (intra): one slot, every thread.
      call.planned(1);
      const { results, skipped } = await call.run(blasThreadsFor(threadBudget(o.threads).budget, 1), () =>
        variant(source, lo, layerRandom(o.seed, 0)),
      );
      call.layerDone();
      call.throwIfAborted({ done: 1, total: 1 });
      for (const r of results) await onLayer?.(r);
      return {
        results: kept(results),
        skipped,
        failures: [],
        planned: source.layers.length,
        ...said,
        elapsedMs: performance.now() - started,
      };
    }
    const { layers, skipped } = source;
    const perLayer = new Array<LayerResult[]>(layers.length);
    const failures = new Array<LayerFailure | undefined>(layers.length);
    // Only the planned layers' entries: a hostile header lists a million tensors that plan no layer.
    const wanted = new Set(layers.map((l) => l.spec.tensor));
    const entries = new Map<string, TensorEntry>();
    for (const e of store.list()) if (wanted.has(e.name)) entries.set(e.name, e);
    const plan = threadPlan(
      layers.map((l) => layerShape(entries, l)),
      o.threads,
    );
    // Reads run ahead of the decompositions, bounded: at most concurrency + prefetch layers are held.
    const reads = new Map<number, Promise<LayerMatrix[] | { error: unknown }>>();
    let nextRead = 0;
    let done = 0;
    const readAhead = () => {
      while (nextRead < layers.length && nextRead < done + plan.concurrency + plan.prefetch) {
        const l = layers[nextRead]!;
        reads.set(
          nextRead++,
          (l.readForAnalysis ? l.readForAnalysis() : l.read()).catch((error: unknown) => ({ error })),
        );
      }
    };
    // Each layer's OpenBLAS thread count comes from the plan (blasThreadsFor: the budget, the layer
    // count, the layer's position), never from timing or from other calls in flight: multi-threaded
    // BLAS-2 reductions round differently, and results must not depend on load. The scheduler runs
    // the layer when a slot with that count is free.
    const whole = hooks.placement ?? { layerCount: layers.length, offset: 0 };
    call.planned(layers.length);
    let next = 0;
    let stopped = false;
    let consumerError: { error: unknown } | undefined;
    const worker = async () => {
      while (!stopped && !call.aborted && next < layers.length) {
        const i = next++;
        const layer = layers[i]!;
        let results: LayerResult[] | undefined;
        readAhead();
        try {
          const mats = await reads.get(i)!;
          reads.delete(i);
          if ('error' in mats) throw mats.error;
          const threads = blasThreadsFor(plan.budget, whole.layerCount);
          results = await call.run(threads, (slot) =>
            analyzeLayer(layer, mats, lo, layerRandom(o.seed, layer.spec.id), {
              blasThreads: threads,
              exclusive: slot.exclusive,
              ...(call.signal ? { signal: call.signal } : {}),
            }),
          );
          perLayer[i] = kept(results);
        } catch (e) {
          if (call.aborted) break; // not the layer's failure: the run stops
          // A bad layer fails that layer, not the run.
          failures[i] = {
            layer_id: layer.spec.id,
            name: layer.spec.name,
            code: isWeightWatcherError(e) ? e.code : 'E_INTERNAL',
            message: errorMessage(e),
          };
        }
        try {
          if (!stopped) for (const r of results ?? []) await onLayer?.(r);
        } catch (e) {
          stopped = true; // the consumer failed: stop taking layers
          consumerError ??= { error: e };
          return;
        }
        done++;
        call.layerDone();
        readAhead();
        o.onProgress?.({
          done,
          total: layers.length,
          layerId: layer.spec.id,
          name: layer.spec.name,
          elapsedMs: performance.now() - started,
        });
      }
    };
    // Settled, not raced: the layers in flight finish (and their reads) before the caller may close the store.
    await Promise.allSettled(Array.from({ length: plan.concurrency }, worker));
    await Promise.allSettled(reads.values());
    if (consumerError) throw consumerError.error;
    call.throwIfAborted({ done, total: layers.length });
    return {
      results: perLayer.flatMap((r) => r ?? []),
      skipped,
      failures: failures.filter((f): f is LayerFailure => f !== undefined),
      planned: layers.length,
      ...said,
      elapsedMs: performance.now() - started,
      plan,
    };
  } finally {
    call.close();
    dispose();
  }
}

/**
 * describe(): the rows analyze would produce, from shapes only (R28). num_evals is the count
 * analyze will compute: M·rf pooled, M per slice, the adapter rank r for LoRA products (the
 * reference's describe says M there).
 */
export function describeRows(
  store: TensorStore,
  o: ResolvedOptions,
  inputs: SourceInputs = {},
): { rows: DescribeRow[]; skipped: SkippedLayers; explanation?: string; note?: string } {
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
