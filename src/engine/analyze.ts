/**
 * The analyze and describe loops. Layers are processed one at a time in reference order; the next
 * layer's tensor is read while the current one is being decomposed, so at most two layers are in
 * memory and disk reads overlap the SVDs.
 */
import type { TensorStore } from '../formats/types.js';
import { Random } from '../util/random.js';
import { errorMessage, isWeightWatcherError } from '../util/errors.js';
import type { Matrix } from '../spectra/esd.js';
import { analyzeLayer, readLayerMatrices, type LayerResult } from './layer.js';
import type { Row } from './extensions.js';
import type { ResolvedOptions } from './options.js';
import { planLayers, type PlannedLayer, type SkippedLayer } from './plan.js';

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
}

type Loaded = { ok: true; mats: Matrix[] } | { ok: false; error: unknown };

function load(store: TensorStore, layer: PlannedLayer): Promise<Loaded> {
  return readLayerMatrices(store, layer).then(
    (mats) => ({ ok: true as const, mats }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

export async function runAnalysis(store: TensorStore, o: ResolvedOptions): Promise<AnalysisRun> {
  const started = performance.now();
  const { layers, skipped } = planLayers(store, o);
  const random = new Random(o.seed ?? undefined);
  const results: LayerResult[] = [];
  const failures: LayerFailure[] = [];
  let pending: Promise<Loaded> | undefined = layers[0] ? load(store, layers[0]) : undefined;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const loaded = await pending!;
    pending = layers[i + 1] ? load(store, layers[i + 1]!) : undefined;
    try {
      if (!loaded.ok) throw loaded.error;
      results.push(...(await analyzeLayer(layer, loaded.mats, o, random)));
    } catch (e) {
      // A bad layer fails that layer, not the run.
      failures.push({ layer_id: layer.spec.id, name: layer.spec.name, code: isWeightWatcherError(e) ? e.code : 'E_INTERNAL', message: errorMessage(e) });
    }
    o.onProgress?.({ done: i + 1, total: layers.length, layerId: layer.spec.id, name: layer.spec.name, elapsedMs: performance.now() - started });
  }
  return { results, skipped, failures, elapsedMs: performance.now() - started };
}

/** describe(): the rows analyze would produce, from shapes only (spec §5.2). */
export function describeRows(store: TensorStore, o: ResolvedOptions): { rows: Row[]; skipped: SkippedLayer[] } {
  const { layers, skipped } = planLayers(store, o);
  const rows: Row[] = [];
  for (const { spec, geometry: g } of layers) {
    const base: Row = {
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
