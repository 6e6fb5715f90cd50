/**
 * Decide, from shapes alone, which layers produce a row and how their matrices are cut (spec §1.9).
 * The reference loads every weight before filtering (Q44); doing it from the headers gives the same
 * rows without reading skipped tensors.
 */
import type { TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { Channels, LayerSpec } from '../layers/types.js';
import { layerGeometry, type Geometry } from '../tensors/geometry.js';
import { makeLayerFilter } from './filters.js';
import type { ResolvedOptions } from '../shared/options.js';

const ANALYSED_TYPES = new Set(['dense', 'conv1d', 'conv2d', 'embedding']);

export interface PlannedLayer {
  readonly spec: LayerSpec;
  readonly geometry: Geometry;
}

export type SkipKind = 'filter' | 'type' | 'shape' | 'min_evals' | 'max_evals' | 'max_N' | 'intra';

export interface SkippedLayer {
  readonly layer_id: number;
  readonly name: string;
  readonly kind: SkipKind;
  readonly reason: string;
}

export interface Plan {
  readonly layers: PlannedLayer[];
  readonly skipped: SkippedLayer[];
}

export function planLayers(store: TensorStore, o: ResolvedOptions): Plan {
  const filter = makeLayerFilter(o.layers);
  const layers: PlannedLayer[] = [];
  const skipped: SkippedLayer[] = [];
  const skip = (spec: LayerSpec, kind: SkipKind, reason: string) => skipped.push({ layer_id: spec.id, name: spec.name, kind, reason });

  for (const spec of enumerateLayers(store, o.start_ids)) {
    const decision = filter(spec);
    if (decision.skipped) { skip(spec, 'filter', decision.reason ?? 'filtered'); continue; }
    if (!spec.tensor || !ANALYSED_TYPES.has(spec.type)) { skip(spec, 'type', `type ${spec.type} is not analysed`); continue; }
    const expected: Channels = o.channels ?? spec.channels;
    const g = layerGeometry(spec.type, spec.shape, expected);
    if (!g) { skip(spec, 'shape', `shape [${spec.shape.join(', ')}] is not a ${spec.type} weight`); continue; }
    const count = o.pool ? g.M * g.rf : g.M;
    const what = o.pool ? 'M·rf' : 'M';
    if (o.min_evals && count < o.min_evals) { skip(spec, 'min_evals', `${what} = ${count} < min_evals = ${o.min_evals}`); continue; }
    if (o.max_evals && count > o.max_evals) { skip(spec, 'max_evals', `${what} = ${count} > max_evals = ${o.max_evals}`); continue; }
    if (g.N > o.max_N) { skip(spec, 'max_N', `N = ${g.N} > max_N = ${o.max_N}`); continue; }
    layers.push({ spec, geometry: g });
  }
  return { layers, skipped };
}
