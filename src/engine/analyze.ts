/**
 * The analyze and describe loops. Several layers are in flight at once (thread-policy.ts), each
 * read, decomposed and released independently, and the next layers' reads run ahead of the
 * decompositions; rows come out in reference order. At most concurrency + prefetch layers are in
 * memory.
 */
import type { TensorEntry, TensorStore } from '../formats/types.js';
import { Random } from '../shared/random.js';
import { errorMessage, isWeightWatcherError } from '../shared/errors.js';
import { withBlasThreads } from '../native/blas-threads.js';
import { dtypeSize } from '../formats/decode.js';
import type { LayerMatrix } from '../spectra/esd.js';
import { analyzeLayer, readLayerForAnalysis, type LayerResult } from './layer.js';
import { threadPlan, type LayerShape, type ThreadPlan } from './thread-policy.js';
import type { DescribeRow } from '../shared/rows.js';
import type { ResolvedOptions } from '../shared/options.js';
import { planLayers, type PlannedLayer, type SkippedLayer } from './plan.js';
import { analyzeStacked } from './stacked.js';
import { analyzeIntra } from './intra.js';

export interface LayerFailure {
  readonly layer_id: number;
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

export interface AnalysisRun {
  readonly results: LayerResult[];
  readonly skipped: SkippedLayer[];
  readonly failures: LayerFailure[];
  readonly elapsedMs: number;
  /** How the layers were scheduled (undefined for stacked and intra, which run one layer at a time). */
  readonly plan: ThreadPlan | undefined;
}

/**
 * Per-layer generator: results do not depend on scheduling, and a seed reproduces every layer. The
 * stream is keyed by the layer id (not its position among the analysed layers), so a layer gets the
 * same numbers whichever subset is analysed — a big model split into layer-group jobs over several
 * machines equals the single-process run row for row. Unseeded runs draw fresh randomness.
 */
function layerRandom(seed: number | null, layerId: number): Random {
  return seed === null ? new Random() : new Random(seed + 0x9e3779b9 * (layerId + 1));
}

function layerShape(entries: ReadonlyMap<string, TensorEntry>, layer: PlannedLayer): LayerShape {
  const entry = layer.spec.tensor === undefined ? undefined : entries.get(layer.spec.tensor);
  const count = layer.spec.shape.reduce((a, b) => a * b, 1);
  const size = entry ? dtypeSize(entry.dtype) : undefined;
  // Dense F32/F16/BF16 weights are held as read; anything else is decoded to float32 as well.
  const stored = layer.geometry.sliceAxes === 'dense' && entry !== undefined && ['F32', 'F16', 'BF16'].includes(entry.dtype);
  return { rows: layer.geometry.rows, cols: layer.geometry.cols, slices: layer.geometry.slices.length, tensorBytes: stored ? count * size! : count * (4 + (size ?? 4)) };
}

export async function runAnalysis(store: TensorStore, o: ResolvedOptions): Promise<AnalysisRun> {
  const started = performance.now();
  // Iterator variants, in the reference's priority order (spec §1.10).
  const variant = o.stacked ? analyzeStacked : o.intra ? analyzeIntra : undefined;
  if (variant) {
    const { results, skipped } = await variant(store, o, layerRandom(o.seed, 0));
    return { results, skipped, failures: [], elapsedMs: performance.now() - started, plan: undefined };
  }
  const { layers, skipped } = planLayers(store, o);
  const perLayer: LayerResult[][] = new Array(layers.length);
  const failures: (LayerFailure | undefined)[] = new Array(layers.length);
  const entries = new Map(store.list().map((e) => [e.name, e]));
  const plan = threadPlan(layers.map((l) => layerShape(entries, l)), o.threads);
  // Reads run ahead of the decompositions, bounded: at most concurrency + prefetch layers are held.
  const reads = new Map<number, Promise<LayerMatrix[] | { error: unknown }>>();
  let nextRead = 0;
  let finished = 0;
  const readAhead = () => {
    while (nextRead < layers.length && nextRead < finished + plan.concurrency + plan.prefetch) {
      const i = nextRead++;
      reads.set(i, readLayerForAnalysis(store, layers[i]!).catch((error: unknown) => ({ error })));
    }
  };
  // The BLAS thread count stays fixed for the whole run (no re-balancing when the last layers run
  // alone): multi-threaded BLAS-2 reductions round differently, and results must not depend on timing.
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      const i = next++;
      const layer = layers[i]!;
      readAhead();
      try {
        const mats = await reads.get(i)!;
        reads.delete(i);
        if ('error' in mats) throw mats.error;
        perLayer[i] = await analyzeLayer(layer, mats, o, layerRandom(o.seed, layer.spec.id));
      } catch (e) {
        // A bad layer fails that layer, not the run.
        failures[i] = { layer_id: layer.spec.id, name: layer.spec.name, code: isWeightWatcherError(e) ? e.code : 'E_INTERNAL', message: errorMessage(e) };
      }
      finished++;
      readAhead();
      o.onProgress?.({ done: finished, total: layers.length, layerId: layer.spec.id, name: layer.spec.name, elapsedMs: performance.now() - started });
    }
  };
  await withBlasThreads(plan.blasThreads, () => Promise.all(Array.from({ length: plan.concurrency }, worker)));
  return {
    results: perLayer.flatMap((r) => r ?? []),
    skipped,
    failures: failures.filter((f): f is LayerFailure => f !== undefined),
    elapsedMs: performance.now() - started,
    plan,
  };
}

/** describe(): the rows analyze would produce, from shapes only (spec §5.2). */
export function describeRows(store: TensorStore, o: ResolvedOptions): { rows: DescribeRow[]; skipped: SkippedLayer[] } {
  const { layers, skipped } = planLayers(store, o);
  const rows: DescribeRow[] = [];
  for (const { spec, geometry: g } of layers) {
    const base: DescribeRow = {
      layer_id: spec.id,
      name: spec.name,
      M: g.M,
      N: g.N,
      Q: g.M === 0 ? -1 : g.N / g.M,
      layer_type: spec.type,
      longname: spec.longname,
      num_evals: o.pool ? g.M * g.rf : g.M,
      rf: g.rf,
    };
    if (!o.pool && spec.type === 'conv2d') g.slices.forEach((_, i) => rows.push({ ...base, slice_id: i }));
    else rows.push(o.pool ? base : { ...base, slice_id: 0 });
  }
  return { rows, skipped };
}
