/**
 * Find and open the weights at a path: a file (format detected from its first bytes, then its
 * extension) or a folder (Hugging Face layouts). In a folder holding several formats the first of
 * MODEL_FORMATS wins: safetensors > bin > onnx > gguf > tfjs > keras > npz > npy.
 */
import { readdir, readFile, stat, open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeightWatcherError } from '../shared/errors.js';
import { MODEL_FORMATS, type ModelFormat, type ResolvedOptions } from '../shared/options.js';
import { SafetensorsFile, SafetensorsStore } from './safetensors.js';
import type { TensorStore } from './types.js';
import { openOnnx } from './onnx.js';
import { openGguf } from './gguf.js';
import { openTfjs } from './tfjs.js';
import { openKeras } from './keras.js';
import { DEFAULT_HDF5_LIMITS } from './hdf5.js';
import { openPyTorch, openPyTorchShards } from './pytorch.js';
import { openNpy, openNpz } from './npy.js';
import { isZipSignature } from './zip.js';
import { readShardIndex } from './shard-index.js';
import { fsError } from '../shared/fs-errors.js';

/** Reader choices that go beyond the reference's behaviour. */
export interface OpenOptions {
  /** ONNX: also list weights held in Constant nodes (incl. subgraphs), after the initializers. */
  readonly onnxConstants?: boolean;
  /** Inflate compressed entries beyond the decompression-bomb guard (zip.ts MAX_EXPANSION_RATIO). */
  readonly allowLarge?: boolean;
  /** Read a file with this format's reader, or use this format's files in a folder (default: detected). */
  readonly format?: ModelFormat;
}

/** The reader choices among resolved analyze options. */
export function openOptionsOf(o: Pick<ResolvedOptions, 'onnx_constants' | 'allow_large' | 'format'>): OpenOptions {
  return { onnxConstants: o.onnx_constants, allowLarge: o.allow_large, ...(o.format !== null && { format: o.format }) };
}

export interface FileFormatReader {
  /** Format name shown in messages. */
  readonly format: string;
  /** True when the first bytes / file name say this reader handles the file. */
  matches(head: Uint8Array, path: string): boolean;
  open(path: string, options: OpenOptions): Promise<TensorStore>;
}

export interface FolderReader {
  readonly format: string;
  /** Returns a store when the folder holds this kind of model, undefined otherwise. */
  tryOpen(dir: string, files: readonly string[], options: OpenOptions): Promise<TensorStore | undefined>;
}

export const SUPPORTED_FORMATS_HINT =
  'supported: safetensors (file, sharded folder with index), PyTorch .bin/.pt/.pth, ONNX .onnx, GGUF .gguf, TF.js model.json, Keras .keras/.h5, NumPy .npy/.npz, or a Hugging Face model folder';

function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9) return false;
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  return n >= 2 && n <= size - 8 && head[8] === 0x7b; // '{'
}

const SHARD_RE = /-\d+-of-\d+\./;

/** Pick the weight files of one prefix (model / adapter_model) the way a user expects. */
function pickFiles(files: readonly string[], re: RegExp, single: string): string[] {
  const all = files.filter((f) => re.test(f)).sort();
  const shards = all.filter((f) => SHARD_RE.test(f));
  if (shards.length) return shards;
  if (all.includes(single)) return [single]; // model.safetensors next to e.g. model.bf16.safetensors: take the canonical one
  return all;
}

async function openSafetensorsFolder(
  dir: string,
  files: readonly string[],
  prefix: 'model' | 'adapter_model',
): Promise<TensorStore | undefined> {
  const layerMaps = files.filter((f) => f.startsWith(prefix) && f.endsWith('layer_map'));
  const indexes = files.filter((f) => f.startsWith(prefix) && f.endsWith('.safetensors.index.json'));
  if (layerMaps.length === 1) {
    const order = (await readFile(join(dir, layerMaps[0]!), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const names = pickFiles(files, new RegExp(`^${prefix}.*safetensors$`), `${prefix}.safetensors`);
    const opened = await Promise.all(names.map((f) => SafetensorsFile.open(join(dir, f))));
    const keys = order.some((k) => k.endsWith('.weight')) ? order : order.map((k) => `${k}.weight`);
    return new SafetensorsStore(opened, keys);
  }
  if (indexes.length === 1) {
    const plan = await readShardIndex(dir, indexes[0]!);
    const order = plan.flatMap((p) => p.keys);
    const opened: SafetensorsFile[] = [];
    try {
      for (const s of plan) opened.push(await SafetensorsFile.open(join(dir, s.file)));
    } catch (e) {
      await Promise.all(opened.map((f) => f.close()));
      throw e;
    }
    return new SafetensorsStore(opened, order);
  }
  const names = pickFiles(files, new RegExp(`^${prefix}.*\\.safetensors$`), `${prefix}.safetensors`);
  if (!names.length) return undefined;
  const opened = await Promise.all(names.map((f) => SafetensorsFile.open(join(dir, f))));
  return new SafetensorsStore(opened);
}

const startsWith = (head: Uint8Array, bytes: readonly number[]) => bytes.every((b, i) => head[i] === b);
const ext = (path: string, ...exts: string[]) => exts.some((e) => path.toLowerCase().endsWith(e));

const firstNonSpace = (head: Uint8Array) => head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);

/**
 * Every reader, in the order they are tried: for a file, the first whose `matches` accepts its
 * first bytes and name (earlier entries win for ambiguous files); for a folder, the first folder
 * reader that finds its kind of model, else a single recognisable weight file in it.
 */
export const READERS: { readonly files: readonly FileFormatReader[]; readonly folders: readonly FolderReader[] } = {
  files: [
    {
      format: 'safetensors',
      matches: (head, path) => looksLikeSafetensors(head, Number.MAX_SAFE_INTEGER) || path.endsWith('.safetensors'),
      open: async (path) => new SafetensorsStore([await SafetensorsFile.open(path)]),
    },
    { format: 'gguf', matches: (head) => startsWith(head, [0x47, 0x47, 0x55, 0x46]), open: (p) => openGguf(p) },
    // An .h5 may start with a user block (its HDF5 signature then comes later): openKeras looks for it.
    {
      format: 'keras',
      matches: (head, p) =>
        startsWith(head, [0x89, 0x48, 0x44, 0x46]) || ext(p, '.h5') || (ext(p, '.keras') && startsWith(head, [0x50, 0x4b])),
      open: (p, o) => openKeras(p, DEFAULT_HDF5_LIMITS, { allowLarge: o.allowLarge === true }),
    },
    { format: 'npy', matches: (head) => startsWith(head, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]), open: (p) => openNpy(p) },
    {
      format: 'npz',
      matches: (head, p) => ext(p, '.npz') && isZipSignature(head),
      open: (p, o) => openNpz(p, { allowLarge: o.allowLarge === true }),
    },
    // torch.save: a zip archive holding data.pkl, or the legacy format starting with a protocol-2 pickle.
    {
      format: 'pytorch',
      matches: (head, p) =>
        (isZipSignature(head) && !ext(p, '.keras', '.npz')) || (ext(p, '.bin', '.pt', '.pth', '.ckpt') && head[0] === 0x80),
      open: (p, o) => openPyTorch(p, { allowLarge: o.allowLarge === true }),
    },
    // ONNX has no magic number: a ModelProto starts with field 1 (ir_version, varint) = byte 0x08.
    {
      format: 'onnx',
      matches: (head, p) => ext(p, '.onnx') && head[0] === 0x08,
      open: (p, o) => openOnnx(p, { includeConstants: o.onnxConstants === true }),
    },
    // model.json is an object; a bare weights manifest (face-api style) is an array.
    { format: 'tfjs', matches: (head, p) => ext(p, '.json') && [0x7b, 0x5b].includes(firstNonSpace(head) ?? 0), open: (p) => openTfjs(p) },
  ],
  folders: [
    { format: 'safetensors', tryOpen: (dir, files) => openSafetensorsFolder(dir, files, 'model') },
    { format: 'safetensors (adapter)', tryOpen: (dir, files) => openSafetensorsFolder(dir, files, 'adapter_model') },
    {
      format: 'pytorch',
      tryOpen: async (dir, files, o) =>
        files.some((f) => /^(pytorch_model|adapter_model).*\.bin$/.test(f))
          ? openPyTorchShards(dir, { allowLarge: o.allowLarge === true })
          : undefined,
    },
    {
      format: 'tfjs',
      tryOpen: async (dir, files) =>
        files.includes('model.json') || files.some((f) => f.endsWith('weights_manifest.json')) ? openTfjs(dir) : undefined,
    },
  ],
};

async function readHead(path: string, n = 64): Promise<Uint8Array> {
  const h = await openFile(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await h.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await h.close();
  }
}

/** Files a model folder holds that are never weights (Hugging Face and training layouts). */
const NOT_WEIGHTS = [
  /^(config|generation_config|preprocessor_config|special_tokens_map|added_tokens|adapter_config|quantize_config|trainer_state|feature_extractor_config|processor_config)\.json$/i,
  /^tokenizer.*$/i,
  /^vocab\b.*$/i,
  /^merges\.txt$/i,
  /\.(md|txt|rst|py|yaml|yml|cfg|ini|html|csv|log)$/i,
  /\.(png|jpe?g|gif|svg|webp|bmp|ico|tiff?)$/i,
  /^\./,
  /^(license|copying|notice)(\..*)?$/i,
  /^(training_args\.bin|optimizer\.(pt|bin)|scheduler\.(pt|bin)|scaler\.pt|rng_state.*\.pth)$/i,
  /\.(zip|tar|gz|tgz|bz2|xz|zst|7z)$/i,
];

/** TF.js weight shards (`group1-shard1of2.bin`, face-api's `…-shard1`): read through their model.json / manifest. */
const TFJS_SHARD = /^group\d+-shard\d+of\d+(\.bin)?$|-shard\d+$/i;

/** A weight file's format from its name; undefined for names that say nothing. */
function formatFromName(name: string): ModelFormat | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.safetensors')) return 'safetensors';
  if (/\.(bin|pt|pth|ckpt)$/.test(n)) return 'pytorch';
  if (n.endsWith('.onnx')) return 'onnx';
  if (n.endsWith('.gguf')) return 'gguf';
  if (n === 'model.json' || n.endsWith('weights_manifest.json')) return 'tfjs';
  if (/\.(keras|h5|hdf5)$/.test(n)) return 'keras';
  if (n.endsWith('.npz')) return 'npz';
  if (n.endsWith('.npy')) return 'npy';
  return undefined;
}

/** Readers whose file signature is unambiguous (used for files whose name says nothing). */
const SIGNATURE_FORMATS: ReadonlySet<string> = new Set(['safetensors', 'gguf', 'keras', 'npy', 'pytorch']);

/**
 * The weight files of a folder by format: recognised by name (`*.safetensors`, `*.bin`, `model.json`,
 * …) and, for names that say nothing, by their first bytes. Configs, tokenizers, docs, images and
 * training state are ignored, as is any other `.json`.
 */
async function folderWeightFiles(dir: string, files: readonly string[]): Promise<Map<ModelFormat, string[]>> {
  const byFormat = new Map<ModelFormat, string[]>();
  const add = (f: ModelFormat, file: string) => byFormat.set(f, [...(byFormat.get(f) ?? []), file]);
  for (const f of [...files].sort()) {
    if (NOT_WEIGHTS.some((re) => re.test(f)) || (/\.json$/i.test(f) && formatFromName(f) === undefined)) continue;
    if (TFJS_SHARD.test(f)) continue; // data of a TF.js model.json, not a PyTorch .bin
    const named = formatFromName(f);
    if (named) {
      add(named, f);
      continue;
    }
    const p = join(dir, f);
    const head = await readHead(p).catch(() => undefined);
    const reader =
      head &&
      READERS.files.find(
        (r) =>
          SIGNATURE_FORMATS.has(r.format) &&
          r.matches(head, p) &&
          (r.format !== 'safetensors' || looksLikeSafetensors(head, Number.MAX_SAFE_INTEGER)),
      );
    if (reader) add(reader.format as ModelFormat, f);
  }
  return byFormat;
}

const FORMAT_LABEL: Readonly<Record<ModelFormat, string>> = {
  safetensors: 'safetensors',
  pytorch: 'PyTorch',
  onnx: 'ONNX',
  gguf: 'GGUF',
  tfjs: 'TF.js',
  keras: 'Keras',
  npz: 'npz',
  npy: 'npy',
};

/** The store of one format's files in a folder: its folder layout when it has one, else its single file. */
async function openFolderFormat(
  dir: string,
  format: ModelFormat,
  files: readonly string[],
  all: readonly string[],
  options: OpenOptions,
): Promise<TensorStore> {
  for (const r of READERS.folders.filter((x) => x.format.split(' ')[0] === format)) {
    const store = await r.tryOpen(dir, all, options);
    if (store) return store;
  }
  if (files.length === 1) return openModelFile(join(dir, files[0]!), options);
  throw new WeightWatcherError(
    'E_FORMAT',
    `${dir}: several ${FORMAT_LABEL[format]} files and no index to combine them: ${files.join(', ')}; pass one file`,
    { file: dir },
  );
}

/** The subfolders of `dir` (sorted, at most 1000 looked at) that hold model weights: a folder of checkpoints. */
async function subfoldersWithModels(dir: string): Promise<string[]> {
  const subs = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .slice(0, 1000);
  const found: string[] = [];
  for (const name of subs) {
    const files = await readdir(join(dir, name), { withFileTypes: true }).catch(() => []);
    const names = files.filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
    if ((await folderWeightFiles(join(dir, name), names)).size > 0) found.push(name);
  }
  return found;
}

async function openFolder(dir: string, options: OpenOptions): Promise<Opened> {
  const all = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
  const byFormat = await folderWeightFiles(dir, all);
  const present = MODEL_FORMATS.filter((f) => byFormat.has(f));
  if (options.format !== undefined) {
    const files = byFormat.get(options.format);
    if (!files) {
      throw new WeightWatcherError(
        'E_NOT_FOUND',
        `${dir}: no ${FORMAT_LABEL[options.format]} files in this folder${present.length ? ` (it holds ${present.map((f) => FORMAT_LABEL[f]).join(', ')})` : ''}`,
        { file: dir },
      );
    }
    return { store: await openFolderFormat(dir, options.format, files, all, options), notes: [] };
  }
  const chosen = present[0];
  if (chosen === undefined) {
    const models = await subfoldersWithModels(dir);
    if (models.length > 0) {
      const shown = models.slice(0, 3).join(', ') + (models.length > 3 ? ', …' : '');
      throw new WeightWatcherError(
        'E_FORMAT',
        `${dir}: no model weights in this folder itself, but ${models.length === 1 ? 'its subfolder' : `${models.length} subfolders`} ${shown} hold${models.length === 1 ? 's' : ''} a model: analyse one (weightwatcher analyze ${join(dir, models[0]!)}), or all of them as checkpoints with weightwatcher sweep ${join(dir, '*')} --db runs.sqlite`,
        { file: dir },
      );
    }
    throw new WeightWatcherError('E_FORMAT', `${dir}: no model weights found in this folder (${SUPPORTED_FORMATS_HINT})`, { file: dir });
  }
  const store = await openFolderFormat(dir, chosen, byFormat.get(chosen)!, all, options);
  const others = present.slice(1);
  const notes = others.length
    ? [
        `${dir} also holds ${others.map((f) => `${FORMAT_LABEL[f]} (${byFormat.get(f)!.join(', ')})`).join(', ')}; using ${FORMAT_LABEL[chosen]} (precedence ${MODEL_FORMATS.join(' > ')}; --format NAME to choose)`,
      ]
    : [];
  return { store, notes };
}

async function openModelFile(path: string, options: OpenOptions): Promise<TensorStore> {
  if (options.format !== undefined) {
    const forced = READERS.files.find((r) => r.format === options.format);
    if (!forced) throw new WeightWatcherError('E_USAGE', `format ${options.format} has no file reader`, { file: path });
    return forced.open(path, options);
  }
  const size = (await stat(path)).size;
  const head = await readHead(path);
  const byContent = READERS.files.find((r) => r.matches(head, path) && (r.format !== 'safetensors' || looksLikeSafetensors(head, size)));
  const reader = byContent ?? READERS.files.find((r) => r.matches(head, path));
  if (!reader) throw new WeightWatcherError('E_FORMAT', `${path}: unrecognised model file (${SUPPORTED_FORMATS_HINT})`, { file: path });
  return reader.open(path, options);
}

/**
 * The files a model path stands for: the path itself for a file; for a folder, every weight file it
 * holds (any format) plus shard indexes and layer maps. Outputs must never be written onto these.
 */
export async function modelFiles(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return [path];
  }
  if (!st.isDirectory()) return [path];
  const all = (await readdir(path, { withFileTypes: true })).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
  const weights = [...(await folderWeightFiles(path, all)).values()].flat();
  const indexes = all.filter((f) => /\.index\.json$|layer_map$/i.test(f));
  return [...weights, ...indexes].map((f) => join(path, f));
}

/** A store and what the reader chose on the way (a folder's other formats). */
export interface Opened {
  readonly store: TensorStore;
  readonly notes: readonly string[];
}

/** openModel, with the notes a folder reader leaves (e.g. the other formats it did not use). */
export async function openModelDetailed(path: string, options: OpenOptions = {}): Promise<Opened> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw fsError(path, e);
  }
  return st.isDirectory() ? openFolder(path, options) : { store: await openModelFile(path, options), notes: [] };
}

/** Open a model file or folder as a lazily-read tensor store. */
export async function openModel(path: string, options: OpenOptions = {}): Promise<TensorStore> {
  return (await openModelDetailed(path, options)).store;
}
