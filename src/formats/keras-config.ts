/**
 * The Keras model config (a `.keras` archive's config.json, a legacy `.h5`'s `model_config`, a TF.js
 * layers-model's topology): the ordered layer list the reference enumerates (R8), layer types
 * from class names (R10), and the Keras-layout store contract the engine's 'keras' convention reads.
 */
import type { TensorStore } from './types.js';
import { WeightWatcherError } from '../shared/errors.js';
import { isArray, isObject } from '../shared/json.js';

/** One entry of `model.layers` as the reference enumerates it (R8): each consumes an id. */
export interface KerasLayer {
  readonly name: string;
  /** Keras class name ('Dense', 'Conv2D', 'InputLayer', …); '' when the source has none. */
  readonly className: string;
  /** Name (as in `list()`) of the analysed weight, when the layer has one. */
  readonly kernel?: string;
  /** Dense bias, readable with `read()`. */
  readonly bias?: string;
  /** Why the layer has no matrix to analyse although it has weights (a depthwise kernel). */
  readonly unanalysable?: string;
}

/**
 * A TensorStore with the Keras convention. `layers()` is the full ordered layer list: the engine
 * gives ids by position in it (start_ids + index) so they match the reference's Keras ids; layers
 * without `kernel` produce no row but still consume their id.
 */
export interface KerasTensorStore extends TensorStore {
  layers(): readonly KerasLayer[];
}

export type KerasLayerType = 'dense' | 'conv1d' | 'conv2d' | 'embedding' | 'flattened' | 'norm' | 'unknown';

/** R10's substring rules, applied to the class name (the reference also sees the module path). */
export function kerasLayerType(className: string): KerasLayerType {
  const c = className.toLowerCase();
  if (c.includes('dense')) return 'dense';
  if (c.includes('conv1d')) return 'conv1d';
  if (c.includes('conv2d')) return 'conv2d';
  if (c.includes('flatten')) return 'flattened';
  if (c.includes('embedding')) return 'embedding';
  if (c === 'layernormalization' || c.includes('layernorn')) return 'norm';
  return 'unknown';
}

const ANALYSED: ReadonlySet<KerasLayerType> = new Set(['dense', 'conv1d', 'conv2d', 'embedding']);

/** A leaf of the model config in `model.layers` order, nested models replaced by their layers. */
export interface ConfigLayer {
  readonly name: string;
  readonly className: string;
  readonly useBias: boolean;
  /** Keras 3 weight-store group: snake-cased class name plus a per-container counter. */
  readonly storePath: string;
  /** The same group spelled with layer names. */
  readonly namePath: string;
  /** Entry of the top-level `model.layers` that contains this layer (its legacy .h5 group). */
  readonly top: string;
}

const MAX_NESTING = 64;

/**
 * `model.layers` of a container config, or undefined for a plain layer. Sequential models hide
 * their leading InputLayer, Functional ones list it (so VGG16's first conv is id 1).
 */
function containerLayers(entry: unknown): readonly unknown[] | undefined {
  if (!isObject(entry)) return undefined;
  const cfg = entry.config;
  // Keras ≤ 2.2 serialised a Sequential config as the bare layer list.
  const list = isArray(cfg) ? cfg : isObject(cfg) && isArray(cfg.layers) ? cfg.layers : undefined;
  if (!list) return undefined;
  const sequential = Array.isArray(cfg) || entry.class_name === 'Sequential';
  const first = list[0];
  return sequential && isObject(first) && first.class_name === 'InputLayer' ? list.slice(1) : list;
}

/** Keras' `naming.to_snake_case`, which names a layer's group in Keras 3 weight files. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Flatten a model config (`{class_name, config: {layers}}`) into its leaf layers. Nested models are
 * replaced by their own `model.layers`, depth first; the reference uses TF's `submodules` there,
 * whose order can differ for unusual nestings, and also expands built-in composite layers
 * (Bidirectional, MultiHeadAttention, …) that a config does not describe.
 */
export function flattenModelConfig(model: unknown, what: string): ConfigLayer[] {
  const corrupt = (msg: string) => new WeightWatcherError('E_CORRUPT', `${what}: invalid Keras model config: ${msg}`, { file: what });
  const root = containerLayers(model);
  if (!root) {
    const cls = isObject(model) && typeof model.class_name === 'string' ? ` (${model.class_name})` : '';
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${what}: the model config${cls} has no layer list; subclassed Keras models cannot be read without Python`,
      { file: what },
    );
  }
  const out: ConfigLayer[] = [];
  const walk = (layers: readonly unknown[], storePrefix: string, namePrefix: string, top: string | undefined, depth: number): void => {
    if (depth > MAX_NESTING) throw corrupt(`models nested more than ${MAX_NESTING} deep`);
    const counters = new Map<string, number>();
    for (const [i, entry] of layers.entries()) {
      if (!isObject(entry) || typeof entry.class_name !== 'string')
        throw corrupt(`layer #${i} under "${namePrefix || 'model'}" has no class_name`);
      const cfg = entry.config;
      const name = isObject(cfg) && typeof cfg.name === 'string' ? cfg.name : typeof entry.name === 'string' ? entry.name : undefined;
      if (name === undefined) throw corrupt(`layer #${i} (${entry.class_name}) under "${namePrefix || 'model'}" has no name`);
      const snake = kerasSnakeCase(entry.class_name);
      const seen = counters.get(snake);
      counters.set(snake, seen === undefined ? 0 : seen + 1);
      const storePath = `${storePrefix}layers/${seen === undefined ? snake : `${snake}_${seen + 1}`}`;
      const namePath = `${namePrefix}layers/${name}`;
      const inner = containerLayers(entry);
      if (inner) walk(inner, `${storePath}/`, `${namePath}/`, top ?? name, depth + 1);
      else
        out.push({
          name,
          className: entry.class_name,
          useBias: !(isObject(cfg) && cfg.use_bias === false),
          storePath,
          namePath,
          top: top ?? name,
        });
    }
  };
  walk(root, '', '', undefined, 0);
  return out;
}

/** The reference analyses get_weights()[0] of dense/conv/embedding layers, and reads [1] as a Dense bias. */
export function kerasLayer(layer: ConfigLayer, weights: readonly string[]): KerasLayer {
  const type = kerasLayerType(layer.className);
  const kernel = ANALYSED.has(type) ? weights[0] : undefined;
  const bias = type === 'dense' && layer.useBias ? weights[1] : undefined;
  return { name: layer.name, className: layer.className, ...(kernel !== undefined && { kernel }), ...(bias !== undefined && { bias }) };
}
