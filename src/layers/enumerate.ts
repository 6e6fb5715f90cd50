/**
 * Enumerate layers from a tensor store the way the reference does for that kind of source
 * (R10): which items get an id, their names, and their types. Layers are generated one
 * at a time, so a header of a million tensors is walked without a million specs in memory.
 */
import { NON_FLOAT_DTYPES, type TensorEntry, type TensorStore } from '../formats/types.js';
import type { LayerSpec, LayerType } from './types.js';
import { kerasLayerType, type KerasTensorStore } from '../formats/keras-config.js';

const WEIGHT_SUFFIX = '.weight';

export interface EnumerateOptions {
  /** First id when not 0 (0: the store's default). */
  readonly startIds?: number;
  /** State dicts: every tensor is a candidate layer, ids over all tensors in order (see AnalyzeOptions.all_tensors). */
  readonly allTensors?: boolean;
}

function typeFromRank(shape: readonly number[]): LayerType {
  if (shape.length === 2) return 'dense';
  if (shape.length === 4) return 'conv2d';
  return 'unknown';
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Why a tensor of this shape is no weight matrix (the reference calls it UNKNOWN), or undefined if it is one. */
function shapeProblem(shape: readonly number[]): LayerSpec['unanalysable'] {
  if (shape.length !== 2 && shape.length !== 4) {
    return { kind: 'type', reason: `${shape.length}-D tensor ${shapeText(shape)}: not a weight matrix (bias, norm scale, buffer)` };
  }
  if ((shape[0] ?? 0) < 2) return { kind: 'shape', reason: `shape ${shapeText(shape)}: a weight matrix needs at least 2 rows` };
  return undefined;
}

/**
 * State dicts (safetensors, .bin, npz, gguf): ids over `.weight` keys, type from the tensor. With
 * `allTensors` every key gets an id (in store order) and integer tensors are skipped for their dtype.
 */
function* enumerateStateDict(entries: readonly TensorEntry[], startId: number, allTensors: boolean): Generator<LayerSpec> {
  // Only `.bias` keys can be a bias: a set of those, not of every key (a million-tensor header).
  let biases: Set<string> | undefined;
  const hasBias = (key: string) => (biases ??= new Set(entries.filter((e) => e.name.endsWith('.bias')).map((e) => e.name))).has(key);
  let id = startId;
  for (const e of entries) {
    const isWeight = e.name.endsWith(WEIGHT_SUFFIX);
    if (!isWeight && !allTensors) continue;
    const name = isWeight ? e.name.slice(0, -WEIGHT_SUFFIX.length) : e.name;
    const problem = shapeProblem(e.shape);
    const type: LayerType = problem ? 'unknown' : typeFromRank(e.shape);
    const biasKey = `${name}.bias`;
    const dtypeProblem =
      allTensors && NON_FLOAT_DTYPES.has(e.dtype) ? { kind: 'dtype' as const, reason: `dtype ${e.dtype}: not a float weight` } : undefined;
    const unanalysable = problem ?? dtypeProblem;
    yield {
      id: id++,
      name,
      longname: e.readableName?.replace(/\.weight$/, '') ?? name,
      type,
      tensor: e.name,
      shape: e.shape,
      channels: 'last',
      bias: isWeight && hasBias(biasKey) ? biasKey : undefined,
      ...(unanalysable && { unanalysable }),
    };
  }
}

/** ONNX: every initializer gets its index as id (start_ids is ignored by the reference). */
function* enumerateOnnx(entries: readonly TensorEntry[]): Generator<LayerSpec> {
  let id = 0;
  for (const e of entries) {
    const problem = e.shape.length === 2 || e.shape.length === 4 ? undefined : shapeProblem(e.shape);
    yield {
      id: id++,
      name: e.name,
      longname: e.name,
      type: typeFromRank(e.shape),
      tensor: e.name,
      shape: e.shape,
      channels: 'last' as const,
      bias: undefined,
      ...(problem && { unanalysable: problem }),
    };
  }
}

/** Keras-style stores list every layer (InputLayer, Flatten… consume ids); kernels are in Keras layout. */
function* enumerateKeras(store: KerasTensorStore, startId: number): Generator<LayerSpec> {
  const byName = new Map(store.list().map((e) => [e.name, e]));
  let id = startId;
  for (const l of store.layers()) {
    const entry = l.kernel !== undefined ? byName.get(l.kernel) : undefined;
    const shape = entry?.shape ?? [];
    // Bare weight manifests have no class names and graph-models give op names (MatMul):
    // then the kernel's rank decides, as for state dicts.
    let type: LayerType = kerasLayerType(l.className);
    if (type === 'unknown' && /^(|MatMul|_FusedMatMul|BatchMatMul\w*)$/.test(l.className)) type = typeFromRank(shape);
    if (type === 'conv2d' && shape.length !== 4) type = 'unknown';
    const unanalysable: LayerSpec['unanalysable'] =
      l.unanalysable !== undefined
        ? { kind: 'type', reason: l.unanalysable }
        : entry
          ? undefined
          : { kind: 'type', reason: `${l.className || 'layer'} without a weight matrix` };
    yield {
      id: id++,
      name: l.name,
      longname: l.name, // Q10 fixed: the reference leaves Keras longnames empty
      type: entry && !l.unanalysable ? type : 'unknown',
      tensor: entry?.name,
      shape,
      channels: 'first' as const,
      bias: l.bias,
      ...(unanalysable && { unanalysable }),
    };
  }
}

export function enumerateLayers(store: TensorStore, options: EnumerateOptions = {}): Iterable<LayerSpec> {
  const startIds = options.startIds ?? 0;
  const startId = startIds === 0 ? (store.defaultStartId ?? 0) : startIds;
  switch (store.convention) {
    case 'statedict':
      return enumerateStateDict(store.list(), startId, options.allTensors === true);
    case 'onnx':
      return enumerateOnnx(store.list());
    case 'keras':
      return enumerateKeras(store as KerasTensorStore, startId);
  }
}
