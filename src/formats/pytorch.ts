/**
 * PyTorch state-dict files written by torch.save, read without torch and without running code.
 *
 * Since torch 1.6 a checkpoint is a ZIP archive: `<archive>/data.pkl` pickles the object, each
 * tensor storage is a stored entry `<archive>/data/<key>`, and `<archive>/byteorder` (optional,
 * absent means little-endian) says how the storages are encoded. Older torch wrote a "legacy"
 * stream: pickled magic number, protocol version, sys_info, the object, the sorted list of
 * storage keys, then each storage as an int64 element count followed by its bytes.
 *
 * The pickle is decoded by the restricted unpickler with an allow-list that only builds inert
 * descriptors (storage key, dtype, offset, shape, stride); tensor bytes are read lazily, one
 * tensor at a time, and strided views are gathered into row-major order.
 */
import { readdir, stat } from 'node:fs/promises';
import { readShardIndex } from './shard-index.js';
import { join } from 'node:path';
import { RandomAccessFile } from './file.js';
import { decodeToFloat32, dtypeSize, shapeSize, storedTensor } from './decode.js';
import { byteswapInPlace, gatherStrided, isRowMajor, stridedExtent } from '../shared/bytes.js';
import {
  PickleTruncatedError,
  PyCallable,
  PyDict,
  PyTuple,
  describeValue,
  unpickle,
  type PyOpaque,
  type PyValue,
  type UnpickleOptions,
} from './pickle.js';
import type { DType, StoredTensor, TensorEntry, TensorStore } from './types.js';
import { ZipArchive, isZipSignature, type ZipOptions } from './zip.js';
import { WeightWatcherError, type ErrorCode } from '../shared/errors.js';

/** Pickled metadata of even the largest models is a few MB; refuse absurd sizes before reading. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
const MAX_BROADCAST_ELEMENTS = 1 << 26;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function fail(code: ErrorCode, source: string, msg: string, tensor?: string): never {
  throw new WeightWatcherError(code, `${source}: ${msg}`, tensor === undefined ? { file: source } : { file: source, tensor });
}

// ---------------------------------------------------------------------------------------------
// Descriptors built by the allow-listed globals

class StorageType implements PyOpaque {
  constructor(
    readonly pyType: string,
    readonly dtype: DType | undefined,
  ) {}
}

class StorageRef implements PyOpaque {
  readonly pyType = 'torch storage';
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly elementSize: number,
    /** Elements visible through this storage (legacy storage views start `elementOffset` in). */
    readonly numel: number,
    readonly elementOffset: number,
  ) {}
}

class TensorRef implements PyOpaque {
  readonly pyType = 'torch.Tensor';
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** Harmless named values (dtypes, tensor classes) that may appear as arguments. */
class TorchMarker implements PyOpaque {
  constructor(readonly pyType: string) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const TORCH_DTYPES = ['float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

function asInt(v: PyValue, source: string, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  return fail('E_CORRUPT', source, `${what} must be a non-negative integer, got ${describeValue(v)}`);
}

function asInts(v: PyValue, source: string, what: string): number[] {
  const items =
    v instanceof PyTuple ? v.items : Array.isArray(v) ? v : fail('E_CORRUPT', source, `${what} must be a tuple, got ${describeValue(v)}`);
  return items.map((x, i) => asInt(x, source, `${what}[${i}]`));
}

function asTensor(v: PyValue, source: string, what: string): TensorRef {
  return v instanceof TensorRef ? v : fail('E_UNSUPPORTED', source, `${what} must be a tensor, got ${describeValue(v)}`);
}

/**
 * The allow-list. Everything here either is an inert value or builds plain data from its
 * arguments; no entry can reach the file system, the network or an evaluator.
 */
function torchGlobals(source: string): Map<string, PyValue> {
  const g = new Map<string, PyValue>();
  const def = (qualname: string, fn: (args: readonly PyValue[]) => PyValue): void => {
    g.set(qualname, new PyCallable(qualname, fn));
  };
  const rebuildTensor = (qualname: string, minArgs: number): void =>
    def(qualname, (a) => {
      if (a.length < minArgs) fail('E_CORRUPT', source, `${qualname} called with ${a.length} arguments`);
      const storage = a[0];
      if (!(storage instanceof StorageRef))
        return fail('E_UNSUPPORTED', source, `${qualname} expects a storage, got ${describeValue(storage)}`);
      const shape = asInts(a[2]!, source, 'tensor size');
      const stride = asInts(a[3]!, source, 'tensor stride');
      if (shape.length !== stride.length)
        fail('E_CORRUPT', source, `tensor size [${shape.join(', ')}] and stride [${stride.join(', ')}] differ in rank`);
      return new TensorRef(storage, asInt(a[1]!, source, 'storage offset'), shape, stride);
    });
  rebuildTensor('torch._utils._rebuild_tensor_v2', 4);
  rebuildTensor('torch._utils._rebuild_tensor', 4);
  def('torch._utils._rebuild_parameter', (a) => asTensor(a[0] ?? null, source, 'parameter data'));
  def('torch._utils._rebuild_parameter_with_state', (a) => asTensor(a[0] ?? null, source, 'parameter data'));
  // Tensor subclasses: rebuild with the (allow-listed) inner function, ignore the Python type.
  def('torch._tensor._rebuild_from_type_v2', (a) => {
    const [fn, , args] = a;
    if (!(fn instanceof PyCallable) || !(args instanceof PyTuple))
      return fail('E_UNSUPPORTED', source, '_rebuild_from_type_v2 with unexpected arguments');
    return fn.call(args.items);
  });
  g.set('torch.Tensor', new TorchMarker('torch.Tensor'));
  g.set('torch.nn.parameter.Parameter', new TorchMarker('torch.nn.parameter.Parameter'));
  def('collections.OrderedDict', (a) => {
    const d = new PyDict();
    const init = a[0];
    if (init === undefined || init === null) return d;
    if (!Array.isArray(init)) return fail('E_UNSUPPORTED', source, `OrderedDict(${describeValue(init)})`);
    for (const kv of init) {
      if (!(kv instanceof PyTuple) || kv.items.length !== 2) return fail('E_CORRUPT', source, 'OrderedDict item is not a key/value pair');
      d.set(kv.items[0]!, kv.items[1]!);
    }
    return d;
  });
  def('torch.Size', (a) => new PyTuple(asInts(a[0] ?? new PyTuple([]), source, 'torch.Size')));
  // Protocol-2 pickles encode `bytes` as _codecs.encode(latin-1 text, 'latin1').
  def('_codecs.encode', (a) => {
    const [text, enc] = a;
    if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1'))
      return fail('E_UNSUPPORTED', source, `_codecs.encode with ${describeValue(enc ?? null)}`);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 255) fail('E_CORRUPT', source, '_codecs.encode: text is not latin-1');
      out[i] = c;
    }
    return out;
  });
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) g.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  for (const q of ['torch.UntypedStorage', 'torch.storage.UntypedStorage']) g.set(q, new StorageType(q, 'U8'));
  g.set('torch.storage.TypedStorage', new StorageType('torch.storage.TypedStorage', undefined));
  for (const t of TORCH_DTYPES) g.set(`torch.${t}`, new TorchMarker(`torch.${t}`));
  return g;
}

/** Python 2 era pickles may spell persistent-id strings as bytes. */
function pidString(v: PyValue): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder('latin1').decode(v);
  return undefined;
}

/**
 * Turns persistent ids `('storage', StorageType, key, location, numel[, view])` into storage
 * descriptors, remembering each root storage's dtype and size for validation.
 */
class StorageRegistry {
  readonly roots = new Map<string, { dtype: DType; elementSize: number; numel: number }>();

  constructor(private readonly source: string) {}

  load = (pid: PyValue): PyValue => {
    const src = this.source;
    if (!(pid instanceof PyTuple)) return fail('E_CORRUPT', src, `persistent id is ${describeValue(pid)}, expected a tuple`);
    const [kind, type, rawKey, , rawNumel, view] = pid.items;
    const k = pidString(kind ?? null);
    if (k === 'module') fail('E_UNSAFE', src, 'refusing a pickled module with embedded source code (save the state_dict instead)');
    if (k !== 'storage' || pid.items.length < 5) return fail('E_CORRUPT', src, `unknown persistent id ${describeValue(kind ?? null)}`);
    if (!(type instanceof StorageType)) return fail('E_UNSUPPORTED', src, `storage type ${describeValue(type ?? null)} is not supported`);
    if (type.dtype === undefined) return fail('E_UNSUPPORTED', src, `storage type ${type.pyType} carries no dtype`);
    const key =
      pidString(rawKey ?? null) ?? (typeof rawKey === 'number' ? String(rawKey) : fail('E_CORRUPT', src, 'storage key is not a string'));
    const numel = asInt(rawNumel ?? null, src, `size of storage ${key}`);
    const elementSize = dtypeSize(type.dtype)!;
    const known = this.roots.get(key);
    if (known && (known.elementSize !== elementSize || known.numel !== numel)) {
      fail('E_CORRUPT', src, `storage ${key} is described inconsistently (${known.dtype}×${known.numel} vs ${type.dtype}×${numel})`);
    }
    this.roots.set(key, { dtype: type.dtype, elementSize, numel });
    if (view === undefined || view === null) return new StorageRef(key, type.dtype, elementSize, numel, 0);
    // Legacy storage view: (view_key, element offset, element count) inside the root storage.
    if (!(view instanceof PyTuple) || view.items.length !== 3) return fail('E_CORRUPT', src, `storage ${key} has malformed view metadata`);
    const offset = asInt(view.items[1]!, src, 'storage view offset');
    const size = asInt(view.items[2]!, src, 'storage view size');
    if (offset + size > numel)
      fail('E_CORRUPT', src, `storage view [${offset}, ${offset + size}) exceeds storage ${key} of ${numel} elements`);
    return new StorageRef(key, type.dtype, elementSize, size, offset);
  };
}

// ---------------------------------------------------------------------------------------------
// From the unpickled object to an ordered list of tensors

function hasTensor(d: PyDict): boolean {
  for (const [, v] of d.entries()) if (v instanceof TensorRef) return true;
  return false;
}

/**
 * The reference uses `obj['state_dict']` when present. Beyond the reference, a top-level dict
 * without tensors whose 'model' entry is a dict of tensors (a common training checkpoint layout)
 * is unwrapped too.
 */
function selectStateDict(top: PyValue, source: string): PyDict {
  if (!(top instanceof PyDict)) return fail('E_FORMAT', source, `the pickled object is ${describeValue(top)}, not a state dict`);
  const sd = top.get('state_dict');
  if (sd instanceof PyDict) return sd;
  const model = top.get('model');
  if (!hasTensor(top) && model instanceof PyDict && hasTensor(model)) return model;
  return top;
}

/** String-keyed tensors in dict order; other values (step counters, configs, nested dicts) are skipped. */
function collectTensors(top: PyValue, source: string): Map<string, TensorRef> {
  const dict = selectStateDict(top, source);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of dict.entries()) if (typeof k === 'string' && v instanceof TensorRef) out.set(k, v);
  if (out.size === 0) {
    const keys = [...dict.entries()]
      .slice(0, 10)
      .map(([k]) => describeValue(k))
      .join(', ');
    fail('E_FORMAT', source, `contains no tensors in its state dict (keys: ${keys || 'none'})`);
  }
  return out;
}

/** Check a view against the bytes its storage really has, so read() can trust it. */
function validateTensor(name: string, t: TensorRef, storageBytes: number, source: string): void {
  const s = t.storage;
  const count = shapeSize(t.shape, `${source}: tensor ${name}`);
  const extent = count === 0 ? 0 : t.offset + stridedExtent(t.shape, t.stride);
  if (extent > s.numel) {
    fail(
      'E_CORRUPT',
      source,
      `tensor ${name} (offset ${t.offset}, size [${t.shape.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${extent} of a ${s.numel}-element storage ${s.key}`,
      name,
    );
  }
  if (count > s.numel && count > MAX_BROADCAST_ELEMENTS) {
    // Only stride-0 (expanded) views hold more elements than their storage; don't let a tiny
    // storage make read() allocate an unbounded output.
    fail('E_UNSUPPORTED', source, `tensor ${name} is a broadcast view of ${count} elements over a ${s.numel}-element storage`, name);
  }
  if ((s.elementOffset + s.numel) * s.elementSize > storageBytes) {
    fail(
      'E_CORRUPT',
      source,
      `storage ${s.key} needs ${(s.elementOffset + s.numel) * s.elementSize} bytes but the file holds ${storageBytes}`,
      name,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Storage access

interface StorageReader {
  read(key: string, byteOffset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Checkpoint {
  readonly source: string;
  readonly tensors: ReadonlyMap<string, TensorRef>;
  readonly bigEndian: boolean;
  /** Reopens the file for reading storages (the store may release it between reads). */
  readonly connect: () => Promise<StorageReader>;
}

function zipReader(zip: ZipArchive, prefix: string): StorageReader {
  return {
    read: (key, offset, length) => zip.readEntryRange(`${prefix}/data/${key}`, offset, length),
    close: () => zip.close(),
  };
}

/** The `<archive>` directory that holds data.pkl; torch names it after the file, but any name is valid. */
function archivePrefix(zip: ZipArchive): string {
  const names = zip.entries().map((e) => e.name);
  const pkl = names.find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) {
    return fail('E_FORMAT', zip.path, 'ZIP archive has no <archive>/data.pkl: not a torch.save checkpoint');
  }
  const prefix = pkl.slice(0, -'/data.pkl'.length);
  if (names.includes(`${prefix}/constants.pkl`) || names.some((n) => n.startsWith(`${prefix}/code/`))) {
    fail('E_UNSUPPORTED', zip.path, 'this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead');
  }
  return prefix;
}

async function readByteOrder(zip: ZipArchive, prefix: string): Promise<boolean> {
  const name = `${prefix}/byteorder`;
  if (!zip.entry(name)) return false;
  const text = new TextDecoder().decode(await zip.readEntry(name, 16)).trim();
  if (text === 'little') return false;
  if (text === 'big') return true;
  return fail('E_CORRUPT', zip.path, `${name} says ${JSON.stringify(text)}, expected "little" or "big"`);
}

/** Parse a checkpoint archive; the caller closes `file` if this throws. */
async function parseZipCheckpoint(file: RandomAccessFile, options: ZipOptions): Promise<{ checkpoint: Checkpoint; reader: StorageReader }> {
  const path = file.path;
  const zip = await ZipArchive.fromFile(file, options);
  const prefix = archivePrefix(zip);
  const bigEndian = await readByteOrder(zip, prefix);
  const pklName = `${prefix}/data.pkl`;
  const registry = new StorageRegistry(path);
  const { value } = unpickle(await zip.readEntry(pklName, MAX_PICKLE_BYTES), {
    globals: torchGlobals(path),
    persistentLoad: registry.load,
    source: `${path}:${pklName}`,
  });
  const tensors = collectTensors(value, path);
  for (const [name, t] of tensors) {
    const entry = zip.entry(`${prefix}/data/${t.storage.key}`);
    if (!entry)
      fail('E_CORRUPT', path, `tensor ${name} refers to storage ${t.storage.key}, but ${prefix}/data/${t.storage.key} is missing`, name);
    validateTensor(name, t, entry.uncompressedSize, path);
  }
  const connect = async (): Promise<StorageReader> => zipReader(await ZipArchive.open(path, options), prefix);
  return { checkpoint: { source: path, tensors, bigEndian, connect }, reader: zipReader(zip, prefix) };
}

/** Successive pickles of a legacy stream, read in growing windows (their sizes are not stored). */
class PickleStream {
  position = 0;
  constructor(private readonly file: RandomAccessFile) {}

  async next(options: Omit<UnpickleOptions, 'offset' | 'source'>, what: string): Promise<PyValue> {
    const remaining = this.file.size - this.position;
    for (let window = 1 << 16; ; window *= 4) {
      const len = Math.min(window, remaining, MAX_PICKLE_BYTES);
      const bytes = await this.file.read(this.position, len, what);
      try {
        const r = unpickle(bytes, { ...options, source: `${this.file.path} (${what})` });
        this.position += r.end;
        return r.value;
      } catch (e) {
        if (!(e instanceof PickleTruncatedError) || len === remaining) throw e;
        if (len === MAX_PICKLE_BYTES) fail('E_UNSUPPORTED', this.file.path, `${what} is larger than ${MAX_PICKLE_BYTES} bytes`);
      }
    }
  }
}

function legacyReader(file: RandomAccessFile, offsets: ReadonlyMap<string, number>): StorageReader {
  return {
    read: (key, offset, length) => file.read(offsets.get(key)! + offset, length, `storage ${key}`),
    close: () => file.close(),
  };
}

async function parseLegacyCheckpoint(file: RandomAccessFile): Promise<{ checkpoint: Checkpoint; reader: StorageReader }> {
  const path = file.path;
  const globals = torchGlobals(path);
  const stream = new PickleStream(file);
  let magic: PyValue;
  try {
    magic = await stream.next({ globals }, 'magic number');
  } catch (e) {
    // Anything that is not even a pickle is simply another format; refusals stay refusals.
    if (e instanceof WeightWatcherError && e.code === 'E_UNSAFE') throw e;
    return fail('E_FORMAT', path, `neither a torch.save ZIP archive nor a legacy torch pickle (${(e as Error).message})`);
  }
  if (magic !== LEGACY_MAGIC)
    fail('E_FORMAT', path, `a bare pickle of ${describeValue(magic)}, not a torch.save file (no torch magic number)`);
  const protocol = await stream.next({ globals }, 'protocol version');
  if (protocol !== LEGACY_PROTOCOL)
    fail('E_UNSUPPORTED', path, `legacy torch protocol version ${describeValue(protocol)} is not supported (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = await stream.next({ globals }, 'sys_info');
  if (sysInfo instanceof PyDict && sysInfo.get('little_endian') === false) {
    fail('E_UNSUPPORTED', path, 'legacy torch file written on a big-endian machine');
  }
  const registry = new StorageRegistry(path);
  const value = await stream.next({ globals, persistentLoad: registry.load }, 'object pickle');
  const keys = await stream.next({ globals }, 'storage key list');
  if (!Array.isArray(keys)) fail('E_CORRUPT', path, `storage key list is ${describeValue(keys)}`);
  const tensors = collectTensors(value, path);

  // Storages follow back to back: int64 element count, then the elements (little-endian).
  const offsets = new Map<string, number>();
  const sizes = new Map<string, number>();
  let at = stream.position;
  for (const rawKey of keys) {
    const key = pidString(rawKey) ?? fail('E_CORRUPT', path, 'storage key is not a string');
    const root = registry.roots.get(key) ?? fail('E_CORRUPT', path, `storage ${key} in the key list is not referenced by the pickle`);
    const dv = new DataView((await file.read(at, 8, `size of storage ${key}`)).buffer);
    const numel = dv.getBigInt64(0, true);
    if (numel !== BigInt(root.numel)) fail('E_CORRUPT', path, `storage ${key} holds ${numel} elements, the pickle says ${root.numel}`);
    const bytes = root.numel * root.elementSize;
    if (at + 8 + bytes > file.size) fail('E_CORRUPT', path, `storage ${key} (${bytes} bytes at ${at + 8}) runs past the end of the file`);
    offsets.set(key, at + 8);
    sizes.set(key, bytes);
    at += 8 + bytes;
  }
  for (const [name, t] of tensors) {
    const size = sizes.get(t.storage.key);
    if (size === undefined)
      fail('E_CORRUPT', path, `tensor ${name} refers to storage ${t.storage.key}, which the file does not contain`, name);
    validateTensor(name, t, size, path);
  }
  const connect = async (): Promise<StorageReader> => legacyReader(await RandomAccessFile.open(path), offsets);
  return { checkpoint: { source: path, tensors, bigEndian: false, connect }, reader: legacyReader(file, offsets) };
}

// ---------------------------------------------------------------------------------------------
// Stores

class PyTorchStore implements TensorStore {
  readonly format = 'pytorch';
  readonly convention = 'statedict' as const;
  readonly source: string;
  private readonly entries: readonly TensorEntry[];
  private reader: Promise<StorageReader> | undefined;

  constructor(
    private readonly cp: Checkpoint,
    reader: StorageReader | undefined,
  ) {
    this.source = cp.source;
    this.entries = [...cp.tensors].map(([name, t]) => ({ name, dtype: t.storage.dtype, shape: t.shape }));
    this.reader = reader && Promise.resolve(reader);
  }

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  async read(name: string): Promise<Float32Array> {
    const { bytes, dtype, count } = await this.readBytes(name);
    return decodeToFloat32(bytes, dtype, count, `${this.source}: tensor ${name}`);
  }

  /** The tensor's row-major little-endian bytes for the addon (F32/F16/BF16 storages), else undefined. */
  async readStored(name: string): Promise<StoredTensor | undefined> {
    const t = this.cp.tensors.get(name);
    if (t && !['F32', 'F16', 'BF16'].includes(t.storage.dtype)) return undefined;
    const { bytes, dtype, count } = await this.readBytes(name);
    return storedTensor(bytes, dtype, count, `${this.source}: tensor ${name}`);
  }

  private async readBytes(name: string): Promise<{ bytes: Uint8Array; dtype: string; count: number }> {
    const t = this.cp.tensors.get(name);
    if (!t) return fail('E_NOT_FOUND', this.source, `no tensor named ${name}`, name);
    const { storage: s, shape, stride } = t;
    const count = shapeSize(shape);
    if (count === 0) return { bytes: new Uint8Array(0), dtype: s.dtype, count };
    const contiguous = isRowMajor(shape, stride);
    const span = contiguous ? count : stridedExtent(shape, stride);
    const reader = await this.connect();
    let bytes = await reader.read(s.key, (s.elementOffset + t.offset) * s.elementSize, span * s.elementSize);
    if (!contiguous) bytes = gatherStrided(bytes, s.elementSize, shape, stride);
    if (this.cp.bigEndian) byteswapInPlace(bytes, s.elementSize);
    return { bytes, dtype: s.dtype, count };
  }

  /** Close the file until the next read (sharded stores keep one shard open at a time). */
  async release(): Promise<void> {
    const r = this.reader;
    this.reader = undefined;
    if (r) await (await r.catch(() => undefined))?.close();
  }

  close(): Promise<void> {
    return this.release();
  }

  private connect(): Promise<StorageReader> {
    if (!this.reader) {
      const p = this.cp.connect();
      this.reader = p;
      p.catch(() => {
        if (this.reader === p) this.reader = undefined;
      });
    }
    return this.reader;
  }
}

/**
 * Open a torch.save checkpoint (`.bin`/`.pt`/`.pth`; ZIP or legacy format) as a lazy store of its
 * state dict. A directory is opened as a shard set (see openPyTorchShards).
 */
export async function openPyTorch(path: string, options: ZipOptions = {}): Promise<TensorStore> {
  if ((await statOrNull(path))?.isDirectory()) return openPyTorchShards(path, options);
  return openPyTorchFile(path, options);
}

async function openPyTorchFile(path: string, options: ZipOptions): Promise<PyTorchStore> {
  const file = await RandomAccessFile.open(path);
  let head: Uint8Array;
  try {
    head = await file.read(0, Math.min(file.size, 512), 'file header');
  } catch (e) {
    await file.close();
    throw e;
  }
  try {
    if (isZipSignature(head)) {
      const { checkpoint, reader } = await parseZipCheckpoint(file, options);
      return new PyTorchStore(checkpoint, reader);
    }
    if (head.length >= 262 && new TextDecoder('latin1').decode(head.subarray(257, 262)) === 'ustar') {
      fail('E_UNSUPPORTED', path, 'tar-based torch checkpoints (torch < 0.4) are not supported; re-save with a current torch');
    }
    if (head.length === 0) fail('E_FORMAT', path, 'file is empty');
    const { checkpoint, reader } = await parseLegacyCheckpoint(file);
    return new PyTorchStore(checkpoint, reader);
  } catch (e) {
    await file.close();
    throw e;
  }
}

async function statOrNull(path: string): Promise<Awaited<ReturnType<typeof stat>> | null> {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Shard sets

interface ShardPlan {
  readonly file: string;
  /** Keys to take from this shard in order, or undefined for all of them in dict order. */
  readonly keys: readonly string[] | undefined;
}

const INDEX_NAME = 'pytorch_model.bin.index.json';

async function planShards(dir: string): Promise<ShardPlan[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${dir}: cannot list directory (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
      { file: dir, cause },
    );
  }
  const indexes = names.includes(INDEX_NAME) ? [INDEX_NAME] : names.filter((n) => n.endsWith('.bin.index.json'));
  if (indexes.length > 1) fail('E_FORMAT', dir, `several shard indexes (${indexes.join(', ')}); keep one`);
  if (indexes[0] !== undefined) return readShardIndex(dir, indexes[0]);
  // No index: the reference's directory mode, files matching *model*bin in sorted order.
  return names
    .filter((n) => /model.*bin$/.test(n))
    .sort()
    .map((file) => ({ file, keys: undefined }));
}

class ShardedStore implements TensorStore {
  readonly format = 'pytorch';
  readonly convention = 'statedict' as const;
  private active: PyTorchStore | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly source: string,
    private readonly entries: readonly TensorEntry[],
    private readonly owners: ReadonlyMap<string, PyTorchStore>,
    private readonly shards: readonly PyTorchStore[],
  ) {}

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  read(name: string): Promise<Float32Array> {
    return this.serialized(() => this.ownerOf(name).then((o) => o.read(name)));
  }

  readStored(name: string): Promise<StoredTensor | undefined> {
    return this.serialized(() => this.ownerOf(name).then((o) => o.readStored(name)));
  }

  /** Serialized, so releasing the previous shard never pulls a file from under a pending read. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    this.active = undefined;
    await Promise.all(this.shards.map((s) => s.release()));
  }

  private async ownerOf(name: string): Promise<PyTorchStore> {
    const owner = this.owners.get(name);
    if (!owner) return fail('E_NOT_FOUND', this.source, `no tensor named ${name}`, name);
    if (this.active !== owner) await this.active?.release();
    this.active = owner;
    return owner;
  }
}

/**
 * Open a directory of `pytorch_model-0000x-of-0000y.bin` shards as one store. With
 * `pytorch_model.bin.index.json` the order follows its weight_map (shards in sorted file-name
 * order, keys in JSON order within a shard); without it, every `*model*bin` file in sorted order
 * with its keys in dict order. Shards are parsed up front (pickles only) and opened for reading
 * one at a time.
 */
export async function openPyTorchShards(dir: string, options: ZipOptions = {}): Promise<TensorStore> {
  const plan = await planShards(dir);
  if (plan.length === 0) fail('E_NOT_FOUND', dir, `no ${INDEX_NAME} and no *model*.bin files`);
  const shards: PyTorchStore[] = [];
  try {
    const owners = new Map<string, PyTorchStore>();
    const entries: TensorEntry[] = [];
    for (const { file, keys } of plan) {
      const store = await openPyTorchFile(join(dir, file), options);
      shards.push(store);
      await store.release();
      const available = new Map(store.list().map((e) => [e.name, e]));
      for (const key of keys ?? available.keys()) {
        const entry = available.get(key);
        if (!entry) fail('E_CORRUPT', store.source, `the shard index lists tensor ${key} in this shard, but it is not there`, key);
        if (owners.has(key)) fail('E_CORRUPT', store.source, `tensor ${key} appears in more than one shard`, key);
        owners.set(key, store);
        entries.push(entry);
      }
    }
    return new ShardedStore(dir, entries, owners, shards);
  } catch (e) {
    await Promise.all(shards.map((s) => s.release()));
    throw e;
  }
}
