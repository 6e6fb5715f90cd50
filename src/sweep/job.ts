/**
 * The unit of work of a sweep: analyse one model, or one group of its layers, and return the raw
 * rows. Local sweeps call it in-process; queue workers call it for each job. Also the split of a
 * big model into layer-group jobs, which must give the same rows as one whole run: the groups are
 * planned with the run's own options (so skip rules and ids are the single run's), each job keeps
 * only its ids through the `layers` filter, and per-layer random streams are keyed by layer id.
 */
import { openModel, openOptionsOf } from '../formats/open.js';
import { planLayers, type SkippedLayer } from '../engine/plan.js';
import { resolveOptions, type AnalyzeOptions, type Progress, type ResolvedOptions } from '../shared/options.js';
import type { TensorStore } from '../formats/types.js';
import { runAnalysis, type LayerFailure } from '../engine/analyze.js';
import type { Row } from '../shared/rows.js';
import { WeightWatcherError } from '../shared/errors.js';
import { sortSpectra, spectrumOf, type LayerSpectrum } from './spectra.js';

/** Analysis options as they travel in a job: JSON-safe, without callbacks or the thread budget. */
export type JobAnalyzeOptions = Omit<AnalyzeOptions, 'onProgress' | 'threads' | 'keep_evals'>;

export interface PartResult {
  /** Raw rows in reference order (not column-normalised: the merge of several parts normalises once). */
  readonly rows: Row[];
  readonly failures: LayerFailure[];
  readonly skipped: SkippedLayer[];
  readonly source: string;
  readonly format: string;
  readonly elapsedMs: number;
  /** With `spectra`: each row's eigenvalues as float32, in reference order (spectra.ts). */
  readonly spectra?: LayerSpectrum[];
}

/** Analyse the model at `path` (only `layerIds` when given). */
export async function analyzePart(
  path: string,
  options: JobAnalyzeOptions,
  layerIds: readonly number[] | null,
  run: { threads?: number | null; onProgress?: (p: Progress) => void; signal?: AbortSignal; spectra?: boolean } = {},
): Promise<PartResult> {
  const o = resolveOptions({
    ...options,
    ...(layerIds ? { layers: [...layerIds] } : {}),
    ...(run.threads ? { threads: run.threads } : {}),
    ...(run.onProgress ? { onProgress: run.onProgress } : {}),
  });
  const store = await openModel(path, openOptionsOf(o));
  try {
    // A layer-group job: its layers' positions in the whole run give each the OpenBLAS thread count
    // it has there (engine/scheduler.ts blasThreadsFor), so the split equals one whole run.
    const placement = layerIds ? wholeRunPlacement(store, resolveOptions(options), layerIds) : undefined;
    // Spectra come from the per-layer hook, which sees each layer's eigenvalues without keep_evals
    // holding them all; the rows do not depend on it.
    const spectra: LayerSpectrum[] | undefined = run.spectra ? [] : undefined;
    const onLayer = spectra
      ? (r: Parameters<typeof spectrumOf>[0]) => {
          const s = spectrumOf(r);
          if (s) spectra.push(s);
        }
      : undefined;
    const result = await runAnalysis(
      store,
      o,
      {},
      { ...(placement ? { placement } : {}), ...(run.signal ? { signal: run.signal } : {}), ...(onLayer ? { onLayer } : {}) },
    );
    return {
      rows: result.results.map((l) => l.row),
      failures: result.failures,
      skipped: result.skipped.toArray(),
      source: store.source,
      format: store.format,
      elapsedMs: result.elapsedMs,
      ...(spectra ? { spectra: sortSpectra(spectra) } : {}),
    };
  } finally {
    await store.close();
  }
}

/** Where a job's layers (contiguous in reference order, planGroups) sit in the whole run's plan. */
function wholeRunPlacement(
  store: TensorStore,
  whole: ResolvedOptions,
  layerIds: readonly number[],
): { layerCount: number; offset: number } {
  const { layers } = planLayers(store, whole);
  const first = layers.findIndex((l) => l.spec.id === layerIds[0]);
  return { layerCount: layers.length, offset: Math.max(0, first) };
}

export interface LayerGroup {
  /** 'all' for a whole-model job, else '<first id>-<last id>'. */
  readonly id: string;
  /** null: the whole model. */
  readonly layerIds: readonly number[] | null;
}

export interface GroupPlan {
  readonly groups: LayerGroup[];
  /** Layers the whole run skips (from the plan, so layer-group jobs need not report them). */
  readonly skipped: SkippedLayer[];
  readonly layers: number;
  readonly source: string;
  readonly format: string;
}

/**
 * Split a model into jobs of at most `layersPerJob` analysed layers, contiguous in reference order.
 * Stacked and intra runs combine layers and are never split. `layersPerJob` ≤ 0 means one job.
 */
export async function planGroups(path: string, options: JobAnalyzeOptions, layersPerJob: number): Promise<GroupPlan> {
  const o = resolveOptions(options);
  const store = await openModel(path, openOptionsOf(o));
  try {
    const { layers, skipped } = planLayers(store, o);
    if (layersPerJob <= 0 || o.stacked || o.intra || layers.length <= layersPerJob) {
      return {
        groups: [{ id: 'all', layerIds: null }],
        skipped: skipped.toArray(),
        layers: layers.length,
        source: store.source,
        format: store.format,
      };
    }
    const ids = layers.map((l) => l.spec.id);
    if (new Set(ids).size !== ids.length)
      throw new WeightWatcherError('E_INTERNAL', `${path}: duplicate layer ids in the plan; cannot split into layer groups`);
    const groups: LayerGroup[] = [];
    for (let i = 0; i < ids.length; i += layersPerJob) {
      const g = ids.slice(i, i + layersPerJob);
      groups.push({ id: `${g[0]}-${g[g.length - 1]}`, layerIds: g });
    }
    return { groups, skipped: skipped.toArray(), layers: layers.length, source: store.source, format: store.format };
  } finally {
    await store.close();
  }
}
