/**
 * TensorFlow.js models: a `model.json` (layers-model or graph-model) or a bare
 * `*weights_manifest.json` (face-api style), plus binary shard files.
 *
 * The manifest is a list of groups `{paths, weights: [{name, shape, dtype, quantization?}]}`. A
 * group's data is the concatenation of its shards, and each weight's bytes follow the previous
 * one's, so every byte range is known from the manifest alone; a weight is read with positioned
 * reads (crossing shard boundaries when needed) only when asked for.
 *
 * Layers, in `layers()` order (see KerasTensorStore):
 * - layers-model: the embedded Keras config gives `model.layers` and classes (keras.ts rules); a
 *   weight belongs to the first segment of its name that is a layer name (`conv2d_1/kernel`).
 *   DepthwiseConv2D/SeparableConv2D keep the reference's choice (their depthwise kernel is
 *   get_weights()[0], a conv2d with one output channel).
 * - graph-model: one layer per weight fed as the filter/matrix of a Conv2D or MatMul node, in node
 *   order; depthwise convolutions are listed as layers without a matrix (skipped with that reason). MatMul with transpose_b is listed and read
 *   transposed, so every kernel is in Keras layout.
 * - bare manifest (or a model.json without topology): one layer per name prefix (`conv1/bias` → `conv1`), in manifest order; its
 *   kernel is the first rank-2 or rank-4 weight whose name does not say depthwise (depthwise
 *   filters [kh,kw,in,1] carry no matrix worth analysing, so such a layer counts as unknown).
 *
 * `list()` reports the model's dtype (float32 for a uint8-quantized weight): quantization is a
 * storage detail that `read()` undoes as TF.js does (v * scale + min, float16 widening).
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { RandomAccessFile, isDirectory } from './file.js';
import { decodeToFloat32, dtypeSize, shapeSize } from './decode.js';
import { flattenModelConfig, kerasLayer, type ConfigLayer, type KerasLayer, type KerasTensorStore } from './keras-config.js';
import type { DType, TensorEntry } from './types.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import { isArray, isObject, type Json } from '../shared/json.js';

const MAX_JSON_BYTES = 256 * 1024 * 1024;

// Maps, not object literals: names come from the file ("constructor" must not resolve).
const TFJS_DTYPES: ReadonlyMap<string, DType> = new Map([
  ['float32', 'F32'],
  ['float16', 'F16'],
  ['int32', 'I32'],
  ['int16', 'I16'],
  ['int8', 'I8'],
  ['uint8', 'U8'],
  ['uint16', 'U16'],
  ['bool', 'BOOL'],
]);
/** complex64 keeps the byte layout computable; reading one is refused by decodeToFloat32. */
const OPAQUE_SIZES: ReadonlyMap<string, number> = new Map([['complex64', 8]]);
const QUANTIZED: ReadonlyMap<string, DType> = new Map([
  ['uint8', 'U8'],
  ['uint16', 'U16'],
  ['float16', 'F16'],
]);

interface Weight extends TensorEntry {
  readonly group: number;
  /** Offset in the concatenation of the group's shards. */
  readonly offset: number;
  readonly byteLength: number;
  /** Shape as stored (differs from `shape` when transposed). */
  readonly storedShape: readonly number[];
  /** dtype of the stored bytes. */
  readonly storage: string;
  /** Affine dequantization v * scale + min (rounded for int32 weights, as TF.js does). */
  readonly affine?: { readonly scale: number; readonly min: number; readonly round: boolean };
  /** Stored [out, in] for a MatMul with transpose_b; read as [in, out]. */
  readonly transposed?: boolean;
}

interface Shard {
  readonly path: string;
  readonly start: number;
  readonly size: number;
}

const corruptError = (what: string, msg: string, tensor?: string) =>
  new WeightWatcherError('E_CORRUPT', `${what}: ${msg}`, { file: what, ...(tensor !== undefined && { tensor }) });

/** Weights of all groups with their byte ranges, validated against the manifest's own arithmetic. */
function parseManifest(manifest: unknown, what: string): { weights: Weight[]; groups: { paths: string[]; bytes: number }[] } {
  if (!Array.isArray(manifest)) throw corruptError(what, 'weightsManifest is not a list of groups');
  const weights: Weight[] = [];
  const names = new Set<string>();
  const groups = manifest.map((g, gi) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights))
      throw corruptError(what, `weight group ${gi} needs "paths" and "weights" lists`);
    const paths = g.paths.map((p) => {
      if (typeof p !== 'string' || p === '')
        throw corruptError(what, `weight group ${gi} has a shard path that is not a file name: ${JSON.stringify(p)}`);
      return p;
    });
    let offset = 0;
    for (const raw of g.weights) {
      const w = parseWeight(raw, gi, offset, what);
      if (names.has(w.name)) throw corruptError(what, `weight "${w.name}" appears twice in the manifest`, w.name);
      names.add(w.name);
      weights.push(w);
      offset += w.byteLength;
      if (!Number.isSafeInteger(offset)) throw corruptError(what, `weight group ${gi} is too large`);
    }
    return { paths, bytes: offset };
  });
  return { weights, groups };
}

function parseWeight(raw: unknown, group: number, offset: number, what: string): Weight {
  if (!isObject(raw) || typeof raw.name !== 'string' || raw.name === '')
    throw corruptError(what, `weight group ${group} has an entry without a name`);
  const name = raw.name;
  const bad = (msg: string) => corruptError(what, `weight "${name}": ${msg}`, name);
  if (!Array.isArray(raw.shape)) throw bad(`shape ${JSON.stringify(raw.shape)} is not a list`);
  const shape = raw.shape as number[];
  const count = shapeSize(shape, `${what}: weight "${name}"`);
  const dtype = raw.dtype;
  if (typeof dtype !== 'string') throw bad(`dtype ${JSON.stringify(dtype)} is not a string`);
  if (dtype === 'string') {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${what}: weight "${name}" holds strings, whose byte length the manifest does not give; such models are not supported`,
      { file: what, tensor: name },
    );
  }
  const plain = TFJS_DTYPES.get(dtype);
  if (plain === undefined && !OPAQUE_SIZES.has(dtype)) throw bad(`unknown dtype "${dtype}"`);
  let storage: string = plain ?? dtype;
  let affine: Weight['affine'];
  const q = raw.quantization;
  if (q !== undefined && q !== null) {
    if (!isObject(q) || typeof q.dtype !== 'string' || !QUANTIZED.has(q.dtype))
      throw bad(`quantization ${JSON.stringify(q)} is not uint8, uint16 or float16`);
    if (q.original_dtype !== undefined && q.original_dtype !== dtype)
      throw bad(`quantization.original_dtype ${JSON.stringify(q.original_dtype)} differs from dtype "${dtype}"`);
    if (q.dtype === 'float16') {
      if (dtype !== 'float32') throw bad(`float16 quantization needs a float32 weight, not ${dtype}`);
    } else {
      if (dtype !== 'float32' && dtype !== 'int32') throw bad(`${q.dtype} quantization needs a float32 or int32 weight, not ${dtype}`);
      if (typeof q.scale !== 'number' || typeof q.min !== 'number' || !Number.isFinite(q.scale) || !Number.isFinite(q.min)) {
        throw bad(`${q.dtype} quantization needs finite "scale" and "min", got ${JSON.stringify(q)}`);
      }
      affine = { scale: q.scale, min: q.min, round: dtype === 'int32' };
    }
    storage = QUANTIZED.get(q.dtype)!;
  }
  const byteLength = count * (dtypeSize(storage) ?? OPAQUE_SIZES.get(storage)!);
  if (!Number.isSafeInteger(byteLength)) throw bad(`shape [${shape.join(', ')}] is too large`);
  return { name, shape, storedShape: shape, dtype: plain ?? dtype, group, offset, byteLength, storage, ...(affine && { affine }) };
}

/** Locate each group's shards next to the model file; a missing or mis-sized shard is corruption. */
async function locateShards(groups: readonly { paths: string[]; bytes: number }[], dir: string, what: string): Promise<Shard[][]> {
  return Promise.all(
    groups.map(async (g, gi) => {
      let start = 0;
      const shards: Shard[] = [];
      for (const p of g.paths) {
        if (isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.split(/[\\/]/).includes('..')) {
          throw new WeightWatcherError(
            'E_UNSUPPORTED',
            `${what}: weight group ${gi} shard "${p}" is not a file name relative to the model folder`,
            { file: what },
          );
        }
        const path = join(dir, p);
        let size: number;
        try {
          const st = await stat(path);
          if (!st.isFile()) throw new Error('not a regular file');
          size = st.size;
        } catch (e) {
          throw corruptError(
            what,
            `weight group ${gi} shard "${p}" cannot be read (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}): ${path}`,
          );
        }
        shards.push({ path, start, size });
        start += size;
      }
      if (start !== g.bytes) {
        throw corruptError(
          what,
          `weight group ${gi} needs ${g.bytes} bytes for the shapes and dtypes in the manifest, but its ${g.paths.length} shard(s) hold ${start} bytes (${g.paths.join(', ')})`,
        );
      }
      return shards;
    }),
  );
}

/** Positioned reads over a group's shards as if they were one file; shards are opened on first use. */
class ShardReader {
  private readonly open = new Map<string, Promise<RandomAccessFile>>();

  async read(shards: readonly Shard[], offset: number, length: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (const s of shards) {
      const from = Math.max(offset, s.start);
      const to = Math.min(offset + length, s.start + s.size);
      if (from >= to) continue;
      const file = await this.file(s.path);
      out.set(await file.read(from - s.start, to - from, what), from - offset);
    }
    return out;
  }

  private file(path: string): Promise<RandomAccessFile> {
    let f = this.open.get(path);
    if (!f) {
      f = RandomAccessFile.open(path);
      this.open.set(path, f);
    }
    return f;
  }

  async close(): Promise<void> {
    const files = [...this.open.values()];
    this.open.clear();
    await Promise.all(files.map(async (f) => (await f.catch(() => undefined))?.close()));
  }
}

const lastSegment = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/** Converters write a layer's weights sorted by name; get_weights() puts the kernel first. */
const KERNEL_FIRST = ['kernel', 'depthwise_kernel', 'embeddings'];
function getWeightsOrder(ws: readonly Weight[]): string[] {
  const rank = (w: Weight) => {
    const s = lastSegment(w.name);
    return KERNEL_FIRST.includes(s) ? 0 : s === 'bias' ? 1 : 2;
  };
  return [...ws].sort((a, b) => rank(a) - rank(b)).map((w) => w.name);
}

function layersModelLayers(topology: Json, weights: readonly Weight[], what: string): KerasLayer[] {
  let config: unknown = topology.model_config ?? topology;
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch (e) {
      throw corruptError(what, `modelTopology.model_config is not valid JSON (${errorMessage(e)})`);
    }
  }
  const leaves = flattenModelConfig(config, what);
  const byName = new Map<string, ConfigLayer>();
  for (const l of leaves) if (!byName.has(l.name)) byName.set(l.name, l);
  const owned = new Map<ConfigLayer, Weight[]>(leaves.map((l) => [l, []]));
  for (const w of weights) {
    const owner = w.name
      .split('/')
      .slice(0, -1)
      .find((s) => byName.has(s));
    if (owner !== undefined) owned.get(byName.get(owner)!)!.push(w);
  }
  return leaves.map((l) => kerasLayer(l, getWeightsOrder(owned.get(l)!)));
}

/** Input 1 of these ops is a kernel of the given rank; TF stores it in Keras layout. */
const GRAPH_KERNEL_RANK: ReadonlyMap<string, number> = new Map([
  ['MatMul', 2],
  ['_FusedMatMul', 2],
  ['Conv2D', 4],
  ['_FusedConv2D', 4],
  ['Conv2DBackpropInput', 4],
]);

/** Depthwise convolutions: their filter [kh, kw, in, multiplier] holds one small filter per channel, no matrix. */
const GRAPH_DEPTHWISE = new Set(['DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative']);

const depthwiseNote = (shape: readonly number[]) =>
  `depthwise kernel [${shape.join(', ')}]: one filter per input channel, no weight matrix to analyse`;

function graphModelLayers(topology: Json, weights: Map<string, Weight>): KerasLayer[] {
  const nodes = Array.isArray(topology.node) ? topology.node : [];
  const layers: KerasLayer[] = [];
  const seen = new Set<string>();
  for (const node of nodes) {
    if (!isObject(node) || typeof node.op !== 'string' || !isArray(node.input)) continue;
    const depthwise = GRAPH_DEPTHWISE.has(node.op);
    const rank = depthwise ? 4 : GRAPH_KERNEL_RANK.get(node.op);
    const input = node.input[1];
    if (rank === undefined || typeof input !== 'string') continue;
    const w = weights.get(input.replace(/:\d+$/, ''));
    if (!w || w.storedShape.length !== rank || seen.has(w.name)) continue;
    seen.add(w.name);
    if (depthwise) {
      // A layer without a kernel (list() holds matrices only), so describe() and meta.skipped say
      // why it has no row; it consumes an id like any layer.
      layers.push({ name: w.name, className: node.op, unanalysable: depthwiseNote(w.storedShape) });
      continue;
    }
    const attr = isObject(node.attr) ? node.attr : {};
    if (node.op.endsWith('MatMul') && isObject(attr.transpose_b) && attr.transpose_b.b === true) {
      weights.set(w.name, { ...w, shape: [w.storedShape[1]!, w.storedShape[0]!], transposed: true });
    }
    layers.push({ name: w.name, className: node.op, kernel: w.name });
  }
  return layers;
}

function namedWeightLayers(weights: readonly Weight[]): KerasLayer[] {
  const groups = new Map<string, Weight[]>();
  for (const w of weights) {
    const cut = w.name.lastIndexOf('/');
    const prefix = cut < 0 ? w.name : w.name.slice(0, cut);
    const group = groups.get(prefix);
    if (group) group.push(w);
    else groups.set(prefix, [w]);
  }
  return [...groups].map(([name, ws]) => {
    const kernel = ws.find((w) => (w.shape.length === 2 || w.shape.length === 4) && !/depthwise/i.test(lastSegment(w.name)));
    const bias = kernel?.shape.length === 2 ? ws.find((w) => w.shape.length === 1 && /^bias(es)?$/.test(lastSegment(w.name))) : undefined;
    const depthwise = kernel ? undefined : ws.find((w) => w.shape.length === 4 && /depthwise/i.test(lastSegment(w.name)));
    return {
      name,
      className: '',
      ...(kernel && { kernel: kernel.name }),
      ...(bias && { bias: bias.name }),
      ...(depthwise && { unanalysable: depthwiseNote(depthwise.shape) }),
    };
  });
}

export class TfjsStore implements KerasTensorStore {
  readonly format = 'tfjs';
  readonly convention = 'keras' as const;
  private readonly reader = new ShardReader();
  private readonly kernels: TensorEntry[];
  private closed = false;

  constructor(
    readonly source: string,
    /** 'layers-model', 'graph-model' or 'weights-manifest'. */
    readonly kind: string,
    private readonly weights: ReadonlyMap<string, Weight>,
    private readonly shards: readonly (readonly Shard[])[],
    private readonly layerList: readonly KerasLayer[],
  ) {
    this.kernels = layerList.flatMap((l) => {
      const w = l.kernel === undefined ? undefined : weights.get(l.kernel);
      return w ? [{ name: w.name, dtype: w.dtype, shape: w.shape }] : [];
    });
  }

  list(): readonly TensorEntry[] {
    return this.kernels;
  }

  layers(): readonly KerasLayer[] {
    return this.layerList;
  }

  /** Any weight of the manifest (not only listed kernels), dequantized to float32. */
  async read(name: string): Promise<Float32Array> {
    const w = this.weights.get(name);
    if (!w) throw new WeightWatcherError('E_NOT_FOUND', `${this.source}: no weight named "${name}"`, { file: this.source, tensor: name });
    if (this.closed) throw new WeightWatcherError('E_IO', `${this.source}: store already closed`, { file: this.source, tensor: name });
    const what = `${this.source}: weight "${name}"`;
    try {
      const bytes = await this.reader.read(this.shards[w.group]!, w.offset, w.byteLength, `weight "${name}"`);
      const values = decodeToFloat32(bytes, w.storage, shapeSize(w.storedShape), what);
      if (w.affine) {
        const { scale, min, round } = w.affine;
        for (let i = 0; i < values.length; i++) values[i] = round ? Math.round(values[i]! * scale + min) : values[i]! * scale + min;
      }
      return w.transposed ? transpose(values, w.storedShape[0]!, w.storedShape[1]!) : values;
    } catch (e) {
      if (e instanceof WeightWatcherError && e.tensor === undefined)
        throw new WeightWatcherError(e.code, `${what}: ${e.message}`, { file: this.source, tensor: name, cause: e });
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader.close();
  }
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}

async function readJson(path: string): Promise<unknown> {
  const file = await RandomAccessFile.open(path);
  try {
    if (file.size > MAX_JSON_BYTES)
      throw new WeightWatcherError('E_UNSUPPORTED', `${path}: ${file.size} bytes of JSON, more than the ${MAX_JSON_BYTES} allowed`, {
        file: path,
      });
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await file.read(0, file.size, 'JSON'));
    return JSON.parse(text);
  } catch (e) {
    if (e instanceof WeightWatcherError) throw e;
    throw new WeightWatcherError('E_FORMAT', `${path}: not a TF.js model file (invalid UTF-8 JSON: ${errorMessage(e)})`, {
      file: path,
      cause: e,
    });
  } finally {
    await file.close();
  }
}

const MANIFEST_SUFFIX = 'weights_manifest.json';

/**
 * TF.js models in a folder: its `model.json`, else each `*weights_manifest.json` (face-api keeps
 * several models side by side).
 */
export async function listTfjsModels(dir: string): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (e) {
    throw new WeightWatcherError('E_NOT_FOUND', `${dir}: cannot list folder (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`, {
      file: dir,
      cause: e,
    });
  }
  if (files.includes('model.json')) return [join(dir, 'model.json')];
  return files
    .filter((f) => f.endsWith(MANIFEST_SUFFIX))
    .sort()
    .map((f) => join(dir, f));
}

async function resolveModelFile(path: string): Promise<string> {
  if (!(await isDirectory(path))) return path;
  const models = await listTfjsModels(path);
  if (models.length === 1) return models[0]!;
  if (models.length === 0)
    throw new WeightWatcherError('E_NOT_FOUND', `${path}: no model.json or *${MANIFEST_SUFFIX} in the folder`, { file: path });
  throw new WeightWatcherError('E_USAGE', `${path}: the folder holds ${models.length} TF.js models; open one of ${models.join(', ')}`, {
    file: path,
  });
}

/** Open a TF.js model: a model.json, a *weights_manifest.json, or a folder holding one of them. */
export async function openTfjs(path: string): Promise<TfjsStore> {
  const file = await resolveModelFile(path);
  const json = await readJson(file);
  const model = Array.isArray(json) ? { weightsManifest: json } : json;
  if (!isObject(model) || !('weightsManifest' in model)) {
    throw new WeightWatcherError('E_FORMAT', `${file}: not a TF.js model (no weightsManifest)`, { file });
  }
  const { weights, groups } = parseManifest(model.weightsManifest, file);
  const shards = await locateShards(groups, dirname(file), file);
  const byName = new Map(weights.map((w) => [w.name, w]));
  const topology = isObject(model.modelTopology) ? model.modelTopology : undefined;
  let kind: string;
  let layers: KerasLayer[];
  if (topology && (model.format === 'graph-model' || Array.isArray(topology.node))) {
    kind = 'graph-model';
    layers = graphModelLayers(topology, byName);
  } else if (topology && (topology.model_config !== undefined || topology.class_name !== undefined)) {
    kind = 'layers-model';
    layers = layersModelLayers(topology, weights, file);
  } else {
    kind = 'weights-manifest';
    layers = namedWeightLayers(weights);
  }
  return new TfjsStore(file, kind, byName, shards, layers);
}
