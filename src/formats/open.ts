/**
 * Find and open the weights at a path: a file (format detected from its first bytes, then its
 * extension) or a folder (Hugging Face layouts; safetensors preferred over .bin).
 */
import { readdir, readFile, stat, open as openFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { WeightWatcherError } from '../shared/errors.js';
import { SafetensorsFile, SafetensorsStore } from './safetensors.js';
import type { TensorStore } from './types.js';
import { openOnnx } from './onnx.js';
import { openGguf } from './gguf.js';
import { openTfjs } from './tfjs.js';
import { openKeras } from './keras.js';
import { openPyTorch, openPyTorchShards } from './pytorch.js';
import { openNpy, openNpz } from './npy.js';
import { isZipSignature } from './zip.js';
import { readShardIndex } from './shard-index.js';

/** Reader choices that go beyond the reference's behaviour. */
export interface OpenOptions {
  /** ONNX: also list weights held in Constant nodes (incl. subgraphs), after the initializers. */
  readonly onnxConstants?: boolean;
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

async function openSafetensorsFolder(dir: string, files: readonly string[], prefix: 'model' | 'adapter_model'): Promise<TensorStore | undefined> {
  const layerMaps = files.filter((f) => f.startsWith(prefix) && f.endsWith('layer_map'));
  const indexes = files.filter((f) => f.startsWith(prefix) && f.endsWith('.safetensors.index.json'));
  if (layerMaps.length === 1) {
    const order = (await readFile(join(dir, layerMaps[0]!), 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
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
    { format: 'keras', matches: (head, p) => startsWith(head, [0x89, 0x48, 0x44, 0x46]) || ext(p, '.h5') || (ext(p, '.keras') && startsWith(head, [0x50, 0x4b])), open: (p) => openKeras(p) },
    { format: 'npy', matches: (head) => startsWith(head, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]), open: (p) => openNpy(p) },
    { format: 'npz', matches: (head, p) => ext(p, '.npz') && isZipSignature(head), open: (p) => openNpz(p) },
    // torch.save: a zip archive holding data.pkl, or the legacy format starting with a protocol-2 pickle.
    {
      format: 'pytorch',
      matches: (head, p) => (isZipSignature(head) && !ext(p, '.keras', '.npz')) || (ext(p, '.bin', '.pt', '.pth', '.ckpt') && head[0] === 0x80),
      open: (p) => openPyTorch(p),
    },
    // ONNX has no magic number: a ModelProto starts with field 1 (ir_version, varint) = byte 0x08.
    { format: 'onnx', matches: (head, p) => ext(p, '.onnx') && head[0] === 0x08, open: (p, o) => openOnnx(p, { includeConstants: o.onnxConstants === true }) },
    // model.json is an object; a bare weights manifest (face-api style) is an array.
    { format: 'tfjs', matches: (head, p) => ext(p, '.json') && [0x7b, 0x5b].includes(firstNonSpace(head) ?? 0), open: (p) => openTfjs(p) },
  ],
  folders: [
    { format: 'safetensors', tryOpen: (dir, files) => openSafetensorsFolder(dir, files, 'model') },
    { format: 'safetensors (adapter)', tryOpen: (dir, files) => openSafetensorsFolder(dir, files, 'adapter_model') },
    {
      format: 'pytorch',
      tryOpen: async (dir, files) => (files.some((f) => /^(pytorch_model|adapter_model).*\.bin$/.test(f)) ? openPyTorchShards(dir) : undefined),
    },
    {
      format: 'tfjs',
      tryOpen: async (dir, files) => (files.includes('model.json') || files.some((f) => f.endsWith('weights_manifest.json')) ? openTfjs(dir) : undefined),
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

async function openFolder(dir: string, options: OpenOptions): Promise<TensorStore> {
  const files = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  for (const r of READERS.folders) {
    const store = await r.tryOpen(dir, files, options);
    if (store) return store;
  }
  // Fall back to a single recognisable weight file in the folder.
  const candidates: string[] = [];
  for (const f of files.sort()) {
    const p = join(dir, f);
    const head = await readHead(p);
    if (READERS.files.some((r) => r.matches(head, p))) candidates.push(p);
  }
  if (candidates.length === 1) return openModelFile(candidates[0]!, options);
  if (candidates.length > 1) {
    throw new WeightWatcherError('E_FORMAT', `${dir}: several weight files and no index to combine them: ${candidates.map((c) => basename(c)).join(', ')}; pass one file`, { file: dir });
  }
  throw new WeightWatcherError('E_FORMAT', `${dir}: no model weights found in this folder (${SUPPORTED_FORMATS_HINT})`, { file: dir });
}

async function openModelFile(path: string, options: OpenOptions): Promise<TensorStore> {
  const size = (await stat(path)).size;
  const head = await readHead(path);
  const byContent = READERS.files.find((r) => r.matches(head, path) && (r.format !== 'safetensors' || looksLikeSafetensors(head, size)));
  const reader = byContent ?? READERS.files.find((r) => r.matches(head, path));
  if (!reader) throw new WeightWatcherError('E_FORMAT', `${path}: unrecognised model file (${SUPPORTED_FORMATS_HINT})`, { file: path });
  return reader.open(path, options);
}

/** Open a model file or folder as a lazily-read tensor store. */
export async function openModel(path: string, options: OpenOptions = {}): Promise<TensorStore> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new WeightWatcherError('E_NOT_FOUND', `${path}: no such file or folder`, { file: path, cause: e });
  }
  return st.isDirectory() ? openFolder(path, options) : openModelFile(path, options);
}
