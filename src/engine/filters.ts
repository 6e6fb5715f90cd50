/**
 * Layer filters (spec §1.8). Each non-empty category — types, ids, names — overwrites the previous
 * decision, in that order (Q5, reproduced: `[1, 'conv2d']` keeps only layer 1).
 */
import type { LayerSpec } from '../layers/types.js';
import type { LayerFilter } from '../shared/options.js';

const TYPE_NAMES = new Set(['conv2d', 'conv1d', 'dense', 'embedding', 'norm']);

export interface FilterDecision {
  readonly skipped: boolean;
  readonly reason?: string;
}

export function makeLayerFilter(filters: readonly LayerFilter[]): (layer: LayerSpec) => FilterDecision {
  const types = filters.filter((f): f is string => typeof f === 'string' && TYPE_NAMES.has(f));
  const ids = filters.filter((f): f is number => typeof f === 'number');
  const names = filters.filter((f): f is string => typeof f === 'string' && !TYPE_NAMES.has(f));
  const excludeIds = ids.some((i) => i < 0);
  const excludeNames = names.length > 0 && names.every((n) => n.includes('-'));
  const includeNames = names.length > 0 && names.every((n) => !n.includes('-'));

  return (layer) => {
    let skipped = false;
    let reason: string | undefined;
    if (types.length) {
      skipped = !types.includes(layer.type);
      reason = skipped ? `type ${layer.type} not in layers=[${types.join(', ')}]` : undefined;
    }
    if (ids.length) {
      skipped = excludeIds ? ids.includes(-layer.id) : !ids.includes(layer.id);
      reason = skipped ? `id ${layer.id} filtered by layers=[${ids.join(', ')}]` : undefined;
    }
    if (includeNames) {
      skipped = !names.includes(layer.name);
      reason = skipped ? `name not in layers=[${names.join(', ')}]` : undefined;
    } else if (excludeNames) {
      skipped = names.includes(`-${layer.name}`);
      reason = skipped ? 'name excluded by layers filter' : undefined;
    }
    return reason === undefined ? { skipped } : { skipped, reason };
  };
}
