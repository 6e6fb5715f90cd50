/**
 * Keras models: `.keras` archives (Keras 3 / TF-Keras ≥ 2.13: a zip holding `config.json` and
 * `model.weights.h5`) and legacy full-model `.h5` files (Keras 2: root attribute `model_config`,
 * weights under `model_weights/<layer>/<weight name>`), R8.
 *
 * The reference gives every entry of `model.layers` an id (InputLayer, Flatten, Dropout, … too) and
 * analyses `get_weights()[0]` of dense/conv/embedding layers. Neither is visible from the weights
 * alone, so the layer list comes from the model config and is exposed by `layers()`; `list()` holds
 * only the analysed kernels, in model order, in Keras layout (Dense [in,out], Conv2D [kh,kw,in,out]).
 *
 * The model-config rules live here and are shared with the TF.js reader, whose layers-models embed
 * the same Keras config.
 *
 * HDF5 is read with libhdf5 in a sandboxed worker (hdf5.ts): opening a store reads the model
 * config and the weights' headers; `read()` reads one dataset from disk by offset. A `.keras`
 * archive's weights entry is first streamed to a private temporary file (libhdf5 needs a file),
 * which is unlinked as soon as libhdf5 holds it open, and otherwise removed on close() or exit.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RandomAccessFile, isDirectory } from './file.js';
import { ZipArchive, EXPANSION_FLOOR, MAX_EXPANSION_RATIO } from './zip.js';
import { dtypeSize, shapeSize } from './decode.js';
import { FLOAT_DTYPES, type TensorEntry } from './types.js';
import { DEFAULT_HDF5_LIMITS, Hdf5File, type Hdf5Access, type Hdf5Limits } from './hdf5.js';
import { createTempDir, removeTempDir } from './temp-files.js';
import { flattenModelConfig, kerasLayer, type ConfigLayer, type KerasLayer, type KerasTensorStore } from './keras-config.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

/** Attribute strings as h5py writes them (fixed-length byte strings may come back NUL-padded). */
function attrStrings(v: unknown): string[] {
  const items = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return items.map((s) => (s instanceof Uint8Array ? new TextDecoder().decode(s) : String(s)).replace(/\0+$/, ''));
}

// ---------------------------------------------------------------------------------------------
// Layouts: where each layer's weights live, in get_weights() order

interface WeightDataset extends TensorEntry {
  /** HDF5 path of the dataset (also the tensor's name). */
  readonly path: string;
  /** Compressed (filtered) data may decode to more bytes than the file holds. */
  readonly filtered: boolean;
}

interface Layout {
  readonly layers: KerasLayer[];
  readonly tensors: Map<string, WeightDataset>;
}

async function describeDataset(h5: Hdf5Access, path: string, what: string): Promise<WeightDataset> {
  const d = await h5.dataset(path);
  if (!d)
    throw new WeightWatcherError('E_CORRUPT', `${what}: weight "${path}" is listed but is not a dataset`, { file: what, tensor: path });
  return { name: path, path, shape: d.shape, dtype: d.dtype, filtered: d.filtered };
}

async function buildLayout(
  h5: Hdf5Access,
  layers: readonly ConfigLayer[],
  weightsOf: (l: ConfigLayer) => Promise<string[]>,
  what: string,
): Promise<Layout> {
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
    const names = attrStrings(await h5.attr(group, 'weight_names'));
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
  const legacyPrefix = (p: string) =>
    p
      .split('/')
      .map((s) => (s === 'layers' ? '_layer_checkpoint_dependencies' : s))
      .join('/');
  return buildLayout(
    h5,
    layers,
    async (l) => {
      for (const base of [l.storePath, l.namePath, legacyPrefix(l.storePath), legacyPrefix(l.namePath)]) {
        const vars = await h5.children(`${base}/vars`);
        if (vars) {
          return vars
            .filter((v) => /^\d+$/.test(v))
            .sort((a, b) => Number(a) - Number(b))
            .map((v) => `${base}/vars/${v}`);
        }
      }
      return [];
    },
    what,
  );
}

// ---------------------------------------------------------------------------------------------
// Store

/** Largest dataset decoded to one Float32Array (as for GGUF tensors). */
const MAX_DECODE_ELEMENTS = 2 ** 31 - 1;
/** DEFLATE expands by at most ~1032:1, which bounds what a compressed dataset can decode to. */
const MAX_EXPANSION = 1032;

/** Reader choices of openKeras. */
export interface KerasOptions {
  /** Decode compressed datasets (and inflate archive entries) beyond the decompression-bomb guard (zip.ts MAX_EXPANSION_RATIO). */
  readonly allowLarge?: boolean;
}

export class KerasStore implements KerasTensorStore {
  readonly format = 'keras';
  readonly convention = 'keras' as const;
  private readonly kernels: TensorEntry[];
  private closing: Promise<void> | undefined;

  constructor(
    readonly source: string,
    private readonly h5: Hdf5Access,
    private readonly layout: Layout,
    /** Size of the HDF5 file, to bound what a dataset may claim to hold. */
    private readonly h5Bytes: number,
    /** Run after the HDF5 file is closed (removes an extracted archive entry). */
    private readonly cleanup: () => Promise<void> = async () => {},
    private readonly options: KerasOptions = {},
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
    if (!FLOAT_DTYPES.has(t.dtype))
      throw fail(
        'E_UNSUPPORTED',
        `weight "${name}" is an HDF5 dataset of type ${t.dtype}; only float16, bfloat16, float32 and float64 weights can be analysed`,
      );
    const count = shapeSize(t.shape, `${this.source}: weight "${name}"`);
    if (count > MAX_DECODE_ELEMENTS)
      throw fail('E_UNSUPPORTED', `weight "${name}" has ${count} elements; at most ${MAX_DECODE_ELEMENTS} per dataset can be decoded`);
    const bytes = count * dtypeSize(t.dtype)!;
    if (bytes > this.h5Bytes * (t.filtered ? MAX_EXPANSION : 1)) {
      throw fail(
        'E_CORRUPT',
        `weight "${name}" claims shape [${t.shape.join(', ')}] (${bytes} bytes), more data than a ${this.h5Bytes}-byte file can hold`,
      );
    }
    // The same decompression-bomb guard as for zip entries: a small compressed file decoding to a huge (zero) dataset.
    if (t.filtered && !this.options.allowLarge && bytes > EXPANSION_FLOOR && bytes > this.h5Bytes * MAX_EXPANSION_RATIO) {
      throw fail(
        'E_UNSUPPORTED',
        `weight "${name}" decompresses to ${bytes} bytes, over ${MAX_EXPANSION_RATIO}× the ${this.h5Bytes}-byte HDF5 file (a likely decompression bomb); pass --allow-large (allow_large: true) to read it`,
      );
    }
    const values = await this.h5.values(t.path);
    if (values.length !== count)
      throw fail('E_CORRUPT', `weight "${name}" has ${values.length} values, expected ${count} for shape [${t.shape.join(', ')}]`);
    return values;
  }

  close(): Promise<void> {
    this.closing ??= this.h5.close().finally(this.cleanup);
    return this.closing;
  }
}

const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function parseConfig(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeightWatcherError('E_CORRUPT', `${what}: model config is not valid JSON (${errorMessage(e)})`, { file: what, cause: e });
  }
}

/** Open the HDF5 file and build the store, or release everything if the file turns out to be unusable. */
async function storeOver(
  source: string,
  h5Path: string,
  h5Bytes: number,
  what: string,
  limits: Hdf5Limits,
  layout: (h5: Hdf5Access) => Promise<Layout>,
  cleanup?: () => Promise<void>,
  options: KerasOptions = {},
): Promise<KerasStore> {
  let h5: Hdf5File | undefined;
  try {
    h5 = await Hdf5File.open(h5Path, what, limits);
    // libhdf5 now holds the file open: an extracted copy can leave the filesystem already, so
    // nothing is left behind even if the process is killed (where the OS allows unlinking open files).
    await cleanup?.();
    return new KerasStore(source, h5, await layout(h5), h5Bytes, cleanup, options);
  } catch (e) {
    await h5?.close();
    await cleanup?.();
    throw e;
  }
}

async function openArchive(path: string, limits: Hdf5Limits, options: KerasOptions): Promise<KerasStore> {
  const zip = await ZipArchive.open(path, options);
  let config: string;
  let tempDir: string | undefined;
  let h5Path: string;
  let h5Bytes: number;
  try {
    const weightsEntry = zip.entry('model.weights.h5');
    if (!zip.entry('config.json') || !weightsEntry) {
      const npz = zip.entry('model.weights.npz') ? ' (NumPy-format weights are not supported)' : '';
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${path}: a .keras archive needs config.json and model.weights.h5${npz}; found ${
          zip
            .entries()
            .map((e) => e.name)
            .join(', ') || 'no entries'
        }`,
        { file: path },
      );
    }
    config = new TextDecoder().decode(await zip.readEntry('config.json', MAX_CONFIG_BYTES));
    tempDir = await createTempDir('weightwatcher-keras-');
    h5Path = join(tempDir, 'model.weights.h5');
    h5Bytes = await zip.extractEntry('model.weights.h5', h5Path);
  } catch (e) {
    if (tempDir) await removeTempDir(tempDir);
    throw e;
  } finally {
    await zip.close();
  }
  const dir = tempDir;
  const cleanup = () => removeTempDir(dir);
  try {
    const layers = flattenModelConfig(parseConfig(config, `${path}: config.json`), path);
    const what = `${path}: model.weights.h5`;
    return await storeOver(path, h5Path, h5Bytes, what, limits, (h5) => keras3Layout(h5, layers, what), cleanup, options);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function openLegacyH5(path: string, size: number, limits: Hdf5Limits, options: KerasOptions): Promise<KerasStore> {
  return storeOver(
    path,
    resolve(path),
    size,
    path,
    limits,
    async (h5) => {
      const raw = await h5.attr('', 'model_config');
      if (raw === undefined) {
        throw new WeightWatcherError(
          'E_UNSUPPORTED',
          `${path}: HDF5 file has no model_config attribute (a weights-only save_weights file); layer order and classes need the full model (model.save)`,
          { file: path },
        );
      }
      const [text] = attrStrings(raw);
      return legacyH5Layout(h5, flattenModelConfig(parseConfig(text ?? '', path), path), path);
    },
    undefined,
    options,
  );
}

/** libhdf5 looks for the superblock at byte 0 and after a user block, at powers of two from 512 (h5jam). */
async function hasHdf5Signature(file: RandomAccessFile): Promise<boolean> {
  for (let at = 0; at + HDF5_MAGIC.length <= file.size; at = at === 0 ? 512 : at * 2) {
    const b = await file.read(at, HDF5_MAGIC.length, 'HDF5 signature');
    if (HDF5_MAGIC.every((x, i) => b[i] === x)) return true;
  }
  return false;
}

/** The one `.keras`/`.h5` in a folder (the reference's folder mode globs `*h5`). */
async function resolveModelPath(path: string): Promise<string> {
  if (!(await isDirectory(path))) return path;
  const found = (await readdir(path)).filter((f) => /\.(keras|h5)$/i.test(f)).sort();
  if (found.length !== 1) {
    throw new WeightWatcherError(
      found.length ? 'E_USAGE' : 'E_NOT_FOUND',
      `${path}: expected one .keras or .h5 model in the folder, found ${found.length ? found.join(', ') : 'none'}`,
      { file: path },
    );
  }
  return join(path, found[0]!);
}

/** Open a Keras `.keras` archive or legacy full-model `.h5` (or a folder holding exactly one). */
export async function openKeras(path: string, limits: Hdf5Limits = DEFAULT_HDF5_LIMITS, options: KerasOptions = {}): Promise<KerasStore> {
  const modelPath = await resolveModelPath(path);
  const file = await RandomAccessFile.open(modelPath);
  let zip: boolean;
  let hdf5: boolean;
  try {
    const head = await file.read(0, Math.min(2, file.size), 'file signature');
    zip = head[0] === 0x50 && head[1] === 0x4b;
    hdf5 = !zip && (await hasHdf5Signature(file));
  } finally {
    await file.close();
  }
  if (zip) return openArchive(modelPath, limits, options);
  if (hdf5) return openLegacyH5(modelPath, file.size, limits, options);
  throw new WeightWatcherError('E_FORMAT', `${modelPath}: not a Keras model (expected a .keras zip archive or an HDF5 .h5 file)`, {
    file: modelPath,
  });
}
