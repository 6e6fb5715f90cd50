/**
 * Decide, from shapes alone, which layers produce a row and how their matrices are cut (spec §1.9).
 * The reference loads every weight before filtering (Q44); doing it from the headers gives the same
 * rows without reading skipped tensors.
 */
import type { TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { Channels, LayerSpec } from '../layers/types.js';
import { layerGeometry, type Geometry } from '../tensors/geometry.js';
import type { LayerMatrix, Matrix } from '../spectra/esd.js';
import { makeLayerFilter, type FilterDecision } from './filters.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { Row } from '../shared/rows.js';

const ANALYSED_TYPES = new Set(['dense', 'conv1d', 'conv2d', 'embedding']);

export interface PlannedLayer {
  readonly spec: LayerSpec;
  readonly geometry: Geometry;
  /** Identity columns added to the layer's rows (e.g. `peft`). */
  readonly columns?: Row;
}

/**
 * A planned layer that knows how to produce its matrices: the stored weight (plain), W − W_base
 * (fine-tune deltas) or a LoRA product. `read` returns them unscaled, one per conv2d kernel position.
 */
export interface SourceLayer extends PlannedLayer {
  read(): Promise<Matrix[]>;
  /**
   * Optional, for the analysis loop: the matrices with dense F32/F16/BF16 weights still as stored
   * bytes, converted to float64 natively off the main thread (engine/layer.ts readLayerForAnalysis).
   */
  readForAnalysis?(): Promise<LayerMatrix[]>;
}

export type SkipKind =
  | 'filter' | 'type' | 'shape' | 'min_evals' | 'max_evals' | 'max_N' | 'intra'
  /** baseModel: no partner layer in the base model (by name, or on the substring walk). */
  | 'base_unmatched'
  /** baseModel / peft with_base: the partner's shape does not fit (neither equal nor transposed). */
  | 'base_shape'
  /** peft: not a LoRA factor (peft: true), an unpaired factor, or factors that cannot be multiplied. */
  | 'peft';

export interface SkippedLayer {
  readonly layer_id: number;
  readonly name: string;
  readonly kind: SkipKind;
  readonly reason: string;
}

/** The layers that produce rows, in reference order, and every layer that does not, with why. */
export interface LayerSource {
  readonly layers: SourceLayer[];
  readonly skipped: SkippedLayer[];
}

export interface Plan {
  readonly layers: PlannedLayer[];
  readonly skipped: SkippedLayer[];
}

export function skipOf(spec: { id: number; name: string }, kind: SkipKind, reason: string): SkippedLayer {
  return { layer_id: spec.id, name: spec.name, kind, reason };
}

/** The support rules for one layer: a planned layer, or why it is skipped (R11). */
export function planLayer(spec: LayerSpec, o: ResolvedOptions, filter: (l: LayerSpec) => FilterDecision): PlannedLayer | SkippedLayer {
  const decision = filter(spec);
  if (decision.skipped) return skipOf(spec, 'filter', decision.reason ?? 'filtered');
  if (!spec.tensor || !ANALYSED_TYPES.has(spec.type)) return skipOf(spec, 'type', `type ${spec.type} is not analysed`);
  const expected: Channels = o.channels ?? spec.channels;
  const g = layerGeometry(spec.type, spec.shape, expected);
  if (!g) return skipOf(spec, 'shape', `shape [${spec.shape.join(', ')}] is not a ${spec.type} weight`);
  const count = o.pool ? g.M * g.rf : g.M;
  const what = o.pool ? 'M·rf' : 'M';
  if (o.min_evals && count < o.min_evals) return skipOf(spec, 'min_evals', `${what} = ${count} < min_evals = ${o.min_evals}`);
  if (o.max_evals && count > o.max_evals) return skipOf(spec, 'max_evals', `${what} = ${count} > max_evals = ${o.max_evals}`);
  if (g.N > o.max_N) return skipOf(spec, 'max_N', `N = ${g.N} > max_N = ${o.max_N}`);
  return { spec, geometry: g };
}

export function isSkipped(p: PlannedLayer | SkippedLayer): p is SkippedLayer {
  return 'kind' in p;
}

export function planLayers(store: TensorStore, o: ResolvedOptions): Plan {
  const filter = makeLayerFilter(o.layers);
  const layers: PlannedLayer[] = [];
  const skipped: SkippedLayer[] = [];
  for (const spec of enumerateLayers(store, o.start_ids)) {
    const p = planLayer(spec, o, filter);
    if (isSkipped(p)) skipped.push(p);
    else layers.push(p);
  }
  return { layers, skipped };
}
