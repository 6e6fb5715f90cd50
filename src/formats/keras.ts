/**
 * Keras models: `.keras` archives (Keras 3 / TF-Keras ≥ 2.13: a zip holding `config.json` and
 * `model.weights.h5`) and legacy full-model `.h5` files (Keras 2: root attribute `model_config`,
 * weights under `model_weights/<layer>/<weight name>`), spec §6.3.
 *
 * The reference gives every entry of `model.layers` an id (InputLayer, Flatten, Dropout, … too) and
 * analyses `get_weights()[0]` of dense/conv/embedding layers. Neither is visible from the weights
 * alone, so the layer list comes from the model config and is exposed by `layers()`; `list()` holds
 * only the analysed kernels, in model order, in Keras layout (Dense [in,out], Conv2D [kh,kw,in,out]).
 *
 * The model-config rules live here and are shared with the TF.js reader, whose layers-models embed
 * the same Keras config.
 *
 * HDF5 is read with jsfive, which has no lazy API: the whole .h5 (or the archive's weights entry)
 * is held in memory as one ArrayBuffer for the store's lifetime (in the worker thread that runs
 * jsfive, see Hdf5Worker), and a dataset is decoded through a plain JS number array (8 bytes per
 * element) before becoming float32. Files above 2 GiB are refused.
 */
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { RandomAccessFile, isDirectory } from './file.js';
import { ZipArchive } from './zip.js';
import { shapeSize } from './decode.js';
import type { DType, TensorEntry } from './types.js';
import { flattenModelConfig, kerasLayer, type ConfigLayer, type KerasLayer, type KerasTensorStore } from './keras-config.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

// ---------------------------------------------------------------------------------------------
// HDF5 access

/** What the Keras layouts need from an HDF5 file; an interface so layouts can be tested with a fake. */
export interface Hdf5Access {
  /** Attributes of a group or dataset ('' = root), or undefined when the path does not exist. */
  attrs(path: string): Promise<Readonly<Record<string, unknown>> | undefined>;
  /** Member names of a group, or undefined when the path is not a group. */
  children(path: string): Promise<readonly string[] | undefined>;
  /** Shape and numpy-style dtype ('<f4') of a dataset, or undefined when the path is not a dataset. */
  dataset(path: string): Promise<{ readonly shape: readonly number[]; readonly dtype: string } | undefined>;
  /** Every value of a dataset; callers check the shape first, since this allocates all of it. */
  values(path: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface Hdf5Limits {
  /** Heap of the worker thread that parses the file. */
  readonly memoryMb: number;
  /** Longest wait for one answer from it. */
  readonly timeoutMs: number;
}

export const DEFAULT_HDF5_LIMITS: Hdf5Limits = { memoryMb: 4096, timeoutMs: 120_000 };

/*
 * jsfive trusts the file: a 2 MB file whose B-tree nodes fan out to the same children makes it
 * allocate until V8 aborts the process. It therefore runs in a worker thread with a heap limit, and
 * a request that does not come back in time ends the worker. The worker is CommonJS source so it
 * runs the same from src/ (tests) and dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const h5 = require(workerData.jsfive);
let file, openError;
try { file = new h5.File(workerData.buffer, workerData.name); } catch (e) { openError = e; }
const text = (e) => String(e && e.message ? e.message : e);
function get(path) {
  if (openError !== undefined) throw new Error('invalid HDF5 file: ' + text(openError));
  if (path === '') return file;
  try { return file.get(path); } catch (e) {
    if (typeof e === 'string' && e.endsWith('not found in group')) return undefined;
    throw e;
  }
}
const isObject = (o) => o instanceof h5.Group || o instanceof h5.Dataset;
const ops = {
  attrs: (o) => (isObject(o) ? o.attrs : undefined),
  children: (o) => (o instanceof h5.Group ? o.keys : undefined),
  // Compound and variable-length types come back as arrays or objects: report them by kind.
  dataset: (o) => (o instanceof h5.Dataset ? { shape: Array.from(o.shape), dtype: typeof o.dtype === 'string' ? o.dtype : 'compound' } : undefined),
  values: (o) => {
    if (!(o instanceof h5.Dataset)) throw new Error('not a dataset');
    const v = o.value;
    if (!Array.isArray(v)) throw new Error('dataset value is not an array');
    return Float32Array.from(v, Number);
  },
};
parentPort.on('message', ({ id, op, path }) => {
  try {
    const result = ops[op](get(path));
    parentPort.postMessage({ id, result }, result instanceof Float32Array ? [result.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id, error: text(e) });
  }
});
`;

interface Pending {
  readonly path: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** HDF5 access through jsfive in a worker; any failure of the worker fails the file with E_CORRUPT. */
export class Hdf5Worker implements Hdf5Access {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: WeightWatcherError | undefined;

  /** Takes ownership of `bytes` (its buffer is moved to the worker). */
  constructor(bytes: Uint8Array, private readonly what: string, private readonly limits: Hdf5Limits = DEFAULT_HDF5_LIMITS) {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer);
    const buffer = (whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jsfive: createRequire(import.meta.url).resolve('jsfive'), buffer, name: what },
      transferList: [buffer],
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb },
    });
    // Idle workers must not keep the process alive; pending requests do (see call()).
    this.worker.unref();
    this.worker.on('message', (m: { id: number; result?: unknown; error?: string }) => this.settle(m));
    this.worker.on('error', (e: Error & { code?: string }) => this.fail(e.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? `the HDF5 reader ran out of memory (limit ${limits.memoryMb} MB); the file is damaged or hostile`
      : `the HDF5 reader failed (${errorMessage(e)})`, e));
    this.worker.on('exit', () => this.fail('the HDF5 reader stopped'));
  }

  attrs(path: string) { return this.call<Record<string, unknown> | undefined>('attrs', path); }
  children(path: string) { return this.call<string[] | undefined>('children', path); }
  dataset(path: string) { return this.call<{ shape: number[]; dtype: string } | undefined>('dataset', path); }
  values(path: string) { return this.call<Float32Array>('values', path); }

  async close(): Promise<void> {
    this.failure ??= new WeightWatcherError('E_IO', `${this.what}: store already closed`, { file: this.what });
    this.fail('closed');
    await this.worker.terminate();
  }

  private call<T>(op: string, path: string): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => this.fail(`reading HDF5 object "${path}" took more than ${this.limits.timeoutMs} ms; the file is damaged or hostile`), this.limits.timeoutMs);
      this.pending.set(id, { path, resolve: resolve as (v: unknown) => void, reject, timer });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, op, path });
    });
  }

  private settle(m: { id: number; result?: unknown; error?: string }): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) this.worker.unref();
    if (m.error === undefined) p.resolve(m.result);
    else p.reject(new WeightWatcherError('E_CORRUPT', `${this.what}: invalid HDF5 object "${p.path}" (${m.error})`, { file: this.what, tensor: p.path }));
  }

  private fail(msg: string, cause?: unknown): void {
    this.failure ??= new WeightWatcherError('E_CORRUPT', `${this.what}: ${msg}`, { file: this.what, cause });
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    this.pending.clear();
    void this.worker.terminate();
  }
}

/** Attribute strings as h5py writes them (fixed-length byte strings come back NUL-padded). */
function attrStrings(v: unknown): string[] {
  const items = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return items.map((s) => (s instanceof Uint8Array ? new TextDecoder().decode(s) : String(s)).replace(/\0+$/, ''));
}

// ---------------------------------------------------------------------------------------------
// Layouts: where each layer's weights live, in get_weights() order

interface WeightDataset extends TensorEntry {
  /** HDF5 path of the dataset (also the tensor's name). */
  readonly path: string;
}

interface Layout {
  readonly layers: KerasLayer[];
  readonly tensors: Map<string, WeightDataset>;
}

const H5_DTYPES: Readonly<Record<string, DType>> = {
  f2: 'F16', f4: 'F32', f8: 'F64', i1: 'I8', i2: 'I16', i4: 'I32', i8: 'I64', u1: 'U8', u2: 'U16', u4: 'U32', u8: 'U64',
};

async function describeDataset(h5: Hdf5Access, path: string, what: string): Promise<WeightDataset> {
  const d = await h5.dataset(path);
  if (!d) throw new WeightWatcherError('E_CORRUPT', `${what}: weight "${path}" is listed but is not a dataset`, { file: what, tensor: path });
  const m = /^[<>=|]?([fiu]\d)$/.exec(d.dtype);
  return { name: path, path, shape: d.shape, dtype: (m && H5_DTYPES[m[1]!]) ?? d.dtype };
}

async function buildLayout(h5: Hdf5Access, layers: readonly ConfigLayer[], weightsOf: (l: ConfigLayer) => Promise<string[]>, what: string): Promise<Layout> {
  const tensors = new Map<string, WeightDataset>();
  const out: KerasLayer[] = [];
  for (const l of layers) {
    const paths = await weightsOf(l);
    for (const p of paths) tensors.set(p, await describeDataset(h5, p, what));
    out.push(kerasLayer(l, paths));
  }
  return { layers: out, tensors };
}

/**
 * Keras 2 `.h5`: top-level layer groups list their weights in the `weight_names` attribute, in
 * get_weights() order. A nested model's group holds the weights of all its layers, named
 * `<inner layer>/<weight>`; a plain layer owns its whole group even when TF renamed its variables
 * (`dense_9_1/kernel:0` in group `predictions`).
 */
export async function legacyH5Layout(h5: Hdf5Access, layers: readonly ConfigLayer[], what: string): Promise<Layout> {
  const root = (await h5.children('model_weights')) ? 'model_weights' : '';
  const owned = new Map<ConfigLayer, string[]>(layers.map((l) => [l, []]));
  const byTop = new Map<string, ConfigLayer[]>();
  for (const l of layers) {
    const group = byTop.get(l.top);
    if (group) group.push(l);
    else byTop.set(l.top, [l]);
  }
  for (const [top, leaves] of byTop) {
    const group = root ? `${root}/${top}` : top;
    const names = attrStrings((await h5.attrs(group))?.weight_names);
    const only = leaves.length === 1 && leaves[0]!.name === top ? leaves[0] : undefined;
    for (const w of names) {
      const owner = only ?? leaves.find((l) => w.split('/').slice(0, -1).includes(l.name));
      if (owner) owned.get(owner)!.push(`${group}/${w}`);
    }
  }
  return buildLayout(h5, layers, async (l) => owned.get(l)!, what);
}

/**
 * Keras 3 weight files: `<container>/layers/<snake_class>[_n]/vars/<i>`. TF-Keras 2.13–2.15 archives
 * used `_layer_checkpoint_dependencies` for `layers`; layer-name paths are tried last.
 */
export function keras3Layout(h5: Hdf5Access, layers: readonly ConfigLayer[], what: string): Promise<Layout> {
  const legacyPrefix = (p: string) => p.split('/').map((s) => (s === 'layers' ? '_layer_checkpoint_dependencies' : s)).join('/');
  return buildLayout(h5, layers, async (l) => {
    for (const base of [l.storePath, l.namePath, legacyPrefix(l.storePath), legacyPrefix(l.namePath)]) {
      const vars = await h5.children(`${base}/vars`);
      if (vars) {
        return vars.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b)).map((v) => `${base}/vars/${v}`);
      }
    }
    return [];
  }, what);
}

// ---------------------------------------------------------------------------------------------
// Store

/** jsfive decodes into a JS array; past this many elements that is impractical (8 bytes each). */
const MAX_DATASET_ELEMENTS = 2 ** 27;
/** DEFLATE expands by at most ~1032:1, which bounds what a chunked dataset can decode to. */
const MAX_EXPANSION = 1032;

export class KerasStore implements KerasTensorStore {
  readonly format = 'keras';
  readonly convention = 'keras' as const;
  private readonly kernels: TensorEntry[];

  constructor(
    readonly source: string,
    private readonly h5: Hdf5Access,
    private readonly layout: Layout,
    /** Size of the HDF5 data, to bound what a dataset may claim to decode to. */
    private readonly h5Bytes: number,
  ) {
    this.kernels = layout.layers.flatMap((l) => (l.kernel === undefined ? [] : [layout.tensors.get(l.kernel)!]));
  }

  list(): readonly TensorEntry[] {
    return this.kernels;
  }

  layers(): readonly KerasLayer[] {
    return this.layout.layers;
  }

  /** Any weight of a listed layer (kernels and biases), by its HDF5 path. */
  async read(name: string): Promise<Float32Array> {
    const t = this.layout.tensors.get(name);
    const fail = (code: 'E_NOT_FOUND' | 'E_UNSUPPORTED' | 'E_CORRUPT', msg: string) =>
      new WeightWatcherError(code, `${this.source}: ${msg}`, { file: this.source, tensor: name });
    if (!t) throw fail('E_NOT_FOUND', `no Keras weight named "${name}"`);
    if (!/^[FIU]\d+$/.test(t.dtype)) throw fail('E_UNSUPPORTED', `weight "${name}" has HDF5 type ${t.dtype}; expected a float or integer dataset`);
    const count = shapeSize(t.shape, `${this.source}: weight "${name}"`);
    const itemBytes = Number(/\d+/.exec(t.dtype)![0]) / 8;
    if (count > MAX_DATASET_ELEMENTS) throw fail('E_UNSUPPORTED', `weight "${name}" has ${count} elements; at most ${MAX_DATASET_ELEMENTS} per dataset can be decoded from HDF5`);
    if (count * itemBytes > this.h5Bytes * MAX_EXPANSION) throw fail('E_CORRUPT', `weight "${name}" claims shape [${t.shape.join(', ')}], more data than a ${this.h5Bytes}-byte file can hold`);
    const values = await this.h5.values(t.path);
    if (values.length !== count) throw fail('E_CORRUPT', `weight "${name}" has ${values.length} values, expected ${count} for shape [${t.shape.join(', ')}]`);
    return values;
  }

  close(): Promise<void> {
    return this.h5.close();
  }
}

const MAX_H5_BYTES = 2 ** 31;
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function parseConfig(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeightWatcherError('E_CORRUPT', `${what}: model config is not valid JSON (${errorMessage(e)})`, { file: what, cause: e });
  }
}

function tooBig(what: string, bytes: number): WeightWatcherError {
  return new WeightWatcherError('E_UNSUPPORTED', `${what}: ${bytes} bytes of HDF5 data; at most ${MAX_H5_BYTES} (2 GiB) can be read, since the HDF5 reader needs it all in memory`, { file: what });
}

/** Build the store, or release the HDF5 worker if the file turns out to be unusable. */
async function storeOver(source: string, bytes: Uint8Array, what: string, limits: Hdf5Limits, layout: (h5: Hdf5Access) => Promise<Layout>): Promise<KerasStore> {
  const size = bytes.byteLength;
  const h5 = new Hdf5Worker(bytes, what, limits);
  try {
    return new KerasStore(source, h5, await layout(h5), size);
  } catch (e) {
    await h5.close();
    throw e;
  }
}

async function openArchive(path: string, limits: Hdf5Limits): Promise<KerasStore> {
  const zip = await ZipArchive.open(path);
  let config: string;
  let weights: Uint8Array;
  try {
    const weightsEntry = zip.entry('model.weights.h5');
    if (!zip.entry('config.json') || !weightsEntry) {
      const npz = zip.entry('model.weights.npz') ? ' (NumPy-format weights are not supported)' : '';
      throw new WeightWatcherError('E_CORRUPT', `${path}: a .keras archive needs config.json and model.weights.h5${npz}; found ${zip.entries().map((e) => e.name).join(', ') || 'no entries'}`, { file: path });
    }
    if (weightsEntry.uncompressedSize > MAX_H5_BYTES) throw tooBig(`${path}: model.weights.h5`, weightsEntry.uncompressedSize);
    config = new TextDecoder().decode(await zip.readEntry('config.json', MAX_CONFIG_BYTES));
    weights = await zip.readEntry('model.weights.h5', MAX_H5_BYTES);
  } finally {
    await zip.close();
  }
  const layers = flattenModelConfig(parseConfig(config, `${path}: config.json`), path);
  const what = `${path}: model.weights.h5`;
  return storeOver(path, weights, what, limits, (h5) => keras3Layout(h5, layers, what));
}

async function openLegacyH5(file: RandomAccessFile, limits: Hdf5Limits): Promise<KerasStore> {
  const path = file.path;
  if (file.size > MAX_H5_BYTES) throw tooBig(path, file.size);
  return storeOver(path, await file.read(0, file.size, 'HDF5 file'), path, limits, async (h5) => {
    const raw = (await h5.attrs(''))?.model_config;
    if (raw === undefined) {
      throw new WeightWatcherError('E_UNSUPPORTED', `${path}: HDF5 file has no model_config attribute (a weights-only save_weights file); layer order and classes need the full model (model.save)`, { file: path });
    }
    const [text] = attrStrings(raw);
    return legacyH5Layout(h5, flattenModelConfig(parseConfig(text ?? '', path), path), path);
  });
}

/** The one `.keras`/`.h5` in a folder (the reference's folder mode globs `*h5`). */
async function resolveModelPath(path: string): Promise<string> {
  if (!(await isDirectory(path))) return path;
  const found = (await readdir(path)).filter((f) => /\.(keras|h5)$/i.test(f)).sort();
  if (found.length !== 1) {
    throw new WeightWatcherError(found.length ? 'E_USAGE' : 'E_NOT_FOUND', `${path}: expected one .keras or .h5 model in the folder, found ${found.length ? found.join(', ') : 'none'}`, { file: path });
  }
  return join(path, found[0]!);
}

/** Open a Keras `.keras` archive or legacy full-model `.h5` (or a folder holding exactly one). */
export async function openKeras(path: string, limits: Hdf5Limits = DEFAULT_HDF5_LIMITS): Promise<KerasStore> {
  const modelPath = await resolveModelPath(path);
  const file = await RandomAccessFile.open(modelPath);
  try {
    const head = await file.read(0, Math.min(8, file.size), 'file signature');
    if (head[0] === 0x50 && head[1] === 0x4b) {
      await file.close();
      return await openArchive(modelPath, limits);
    }
    if (head.length === 8 && HDF5_MAGIC.every((b, i) => head[i] === b)) return await openLegacyH5(file, limits);
    throw new WeightWatcherError('E_FORMAT', `${modelPath}: not a Keras model (expected a .keras zip archive or an HDF5 .h5 file)`, { file: modelPath });
  } finally {
    await file.close();
  }
}
