/**
 * Enumerate layers from a tensor store the way the reference does for that kind of source
 * (spec §1.4–§1.5): which items get an id, their names, and their types.
 */
import type { TensorEntry, TensorStore } from '../formats/types.js';
import type { LayerSpec, LayerType } from './types.js';
import { kerasLayerType, type KerasTensorStore } from '../formats/keras-config.js';

const WEIGHT_SUFFIX = '.weight';

function typeFromRank(shape: readonly number[]): LayerType {
  if (shape.length === 2) return 'dense';
  if (shape.length === 4) return 'conv2d';
  return 'unknown';
}

/** State dicts (safetensors, .bin, npz, gguf): ids over `.weight` keys, type from the tensor. */
function enumerateStateDict(entries: readonly TensorEntry[], startId: number): LayerSpec[] {
  const names = new Set(entries.map((e) => e.name));
  const layers: LayerSpec[] = [];
  for (const e of entries) {
    if (!e.name.endsWith(WEIGHT_SUFFIX)) continue;
    const name = e.name.slice(0, -WEIGHT_SUFFIX.length);
    const first = e.shape[0];
    const type: LayerType = e.shape.length === 0 || first === undefined || first < 2 ? 'unknown' : typeFromRank(e.shape);
    const biasKey = `${name}.bias`;
    layers.push({
      id: startId + layers.length,
      name,
      longname: e.readableName?.replace(/\.weight$/, '') ?? name,
      type,
      tensor: e.name,
      shape: e.shape,
      channels: 'last',
      bias: names.has(biasKey) ? biasKey : undefined,
    });
  }
  return layers;
}

/** ONNX: every initializer gets its index as id (start_ids is ignored by the reference). */
function enumerateOnnx(entries: readonly TensorEntry[]): LayerSpec[] {
  return entries.map((e, i) => ({
    id: i,
    name: e.name,
    longname: e.name,
    type: typeFromRank(e.shape),
    tensor: e.name,
    shape: e.shape,
    channels: 'last' as const,
    bias: undefined,
  }));
}

/** Keras-style stores list every layer (InputLayer, Flatten… consume ids); kernels are in Keras layout. */
function enumerateKeras(store: KerasTensorStore, startId: number): LayerSpec[] {
  const byName = new Map(store.list().map((e) => [e.name, e]));
  return store.layers().map((l, i) => {
    const entry = l.kernel !== undefined ? byName.get(l.kernel) : undefined;
    const shape = entry?.shape ?? [];
    // Bare weight manifests have no class names and graph-models give op names (MatMul):
    // then the kernel's rank decides, as for state dicts.
    let type: LayerType = kerasLayerType(l.className);
    if (type === 'unknown' && /^(|MatMul|_FusedMatMul|BatchMatMul\w*)$/.test(l.className)) type = typeFromRank(shape);
    if (type === 'conv2d' && shape.length !== 4) type = 'unknown';
    return {
      id: startId + i,
      name: l.name,
      longname: l.name, // Q10 fixed: the reference leaves Keras longnames empty
      type: entry ? type : 'unknown',
      tensor: entry?.name,
      shape,
      channels: 'first' as const,
      bias: l.bias,
    };
  });
}

export function enumerateLayers(store: TensorStore, startIds = 0): LayerSpec[] {
  const startId = startIds === 0 ? (store.defaultStartId ?? 0) : startIds;
  switch (store.convention) {
    case 'statedict': return enumerateStateDict(store.list(), startId);
    case 'onnx': return enumerateOnnx(store.list());
    case 'keras': return enumerateKeras(store as KerasTensorStore, startId);
  }
}
