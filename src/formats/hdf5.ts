/**
 * HDF5 files read with libhdf5 (the h5wasm package: HDF5 compiled to WebAssembly) in a worker
 * thread, one worker per open file, answering one request at a time until close().
 *
 * HDF5 files come from strangers, so the worker is a sandbox:
 * - Filesystem: h5wasm's Node build reaches the host filesystem directly (Emscripten NODERAWFS).
 *   The worker wraps every path operation of the Emscripten FS: the one file may be opened
 *   read-only and stat'ed, any other path is refused (EACCES) and reported. HDF5 features that
 *   read other files (external links, external raw-data storage, virtual datasets, filter
 *   plugins) therefore cannot reach them; each is also refused by name, with E_UNSAFE: external
 *   and soft links while walking a path (links are inspected without being followed), virtual
 *   datasets from their metadata, external storage when the read tries to open its file.
 * - Memory: the worker's JS heap is capped with resourceLimits and libhdf5's WebAssembly heap by
 *   refusing to grow it past the same limit (libhdf5 then fails the allocation cleanly).
 * - Time: a request that does not come back within the timeout ends the worker.
 * - Crashes: a WebAssembly trap or abort ends the worker; every failure becomes a
 *   WeightWatcherError naming the file (and the object, when there is one).
 *
 * Datasets are read by hyperslab into a bounded WebAssembly buffer, converted to little-endian
 * float32 (float64 is narrowed in the worker; float16 and bfloat16 travel as 16-bit values and are
 * widened with the shared decoder) and copied into one ArrayBuffer that is transferred, not
 * copied, to the caller.
 */
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeToFloat32 } from './decode.js';
import type { DType } from './types.js';
import { WeightWatcherError, errorMessage, type ErrorCode } from '../shared/errors.js';
import { assertInstalled, missingDependency } from '../shared/optional-import.js';

export interface Hdf5Limits {
  /** Memory of the worker that parses the file: its JS heap and libhdf5's WebAssembly heap, each. */
  readonly memoryMb: number;
  /** Longest wait for one answer from it (opening the file, reading one object). */
  readonly timeoutMs: number;
}

export const DEFAULT_HDF5_LIMITS: Hdf5Limits = { memoryMb: 4096, timeoutMs: 120_000 };

export interface Hdf5Dataset {
  /** Row-major shape. */
  readonly shape: readonly number[];
  /** 'F16' | 'F32' | 'F64' | 'BF16' (Keras' opaque bfloat16) for readable floats; I8…U64 or an HDF5 class name otherwise. */
  readonly dtype: DType;
  /** Whether the data passes through filters (compression): it may then be larger than the file. */
  readonly filtered: boolean;
}

/** What the Keras layouts need from an HDF5 file; an interface so layouts can be tested with a fake. */
export interface Hdf5Access {
  /** One attribute of a group or dataset ('' = root): strings decoded, numbers as numbers; undefined when absent. */
  attr(path: string, name: string): Promise<unknown>;
  /** Member names of a group, or undefined when the path is not a group. */
  children(path: string): Promise<readonly string[] | undefined>;
  /** Shape and dtype of a dataset, or undefined when the path is not a dataset. */
  dataset(path: string): Promise<Hdf5Dataset | undefined>;
  /** Every value of a float dataset as float32; callers check dtype and shape first. */
  values(path: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Where h5wasm's Node entry is (its package.json `exports['./node']`); it has no CommonJS entry to resolve. */
function h5wasmNodeEntry(): string {
  assertInstalled('keras');
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('h5wasm') ?? []) {
    const pkgFile = join(dir, 'h5wasm', 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: string }> };
    const entry = pkg.exports?.['./node']?.import;
    if (entry) return pathToFileURL(join(dir, 'h5wasm', entry)).href;
  }
  throw missingDependency('keras', 'h5wasm');
}

let entryUrl: string | undefined;

/** Largest block read through the WebAssembly heap at a time. */
const SLAB_BYTES = 8 * 1024 * 1024;
/** Attributes are metadata (model configs are a few MB); larger ones are refused. */
const MAX_ATTRIBUTE_BYTES = 256 * 1024 * 1024;
/** Descriptor slots the worker fills with the file descriptors it holds, so they can be closed if it is killed. */
const FD_SLOTS = 8;

/*
 * The worker is CommonJS source evaluated by worker_threads, so it runs the same from src/ (tests)
 * and dist/. It loads h5wasm's ES module with import().
 */
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { entry, file, wasmHeapLimit, slabBytes, maxAttributeBytes } = workerData;
const fdSlots = new Int32Array(workerData.fdSlots);

// libhdf5 prints its error stack and Emscripten its warnings: keep the latest for messages instead.
let diagnostics = '';
let hdf5Error = false;
function capture(text) {
  if (text.includes('HDF5-DIAG')) hdf5Error = true;
  diagnostics = (diagnostics + text).slice(-65536);
}
for (const k of ['log', 'info', 'warn', 'error', 'debug']) console[k] = (...a) => capture(a.join(' ') + '\n');

// Cap the WebAssembly heap: refuse to grow it past the limit, so libhdf5's malloc returns NULL.
let heapRefused = false;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = function (binary, imports) {
  const env = imports && imports.env;
  if (env && typeof env.emscripten_resize_heap === 'function') {
    const grow = env.emscripten_resize_heap;
    env.emscripten_resize_heap = (requested) => {
      if ((requested >>> 0) > wasmHeapLimit) { heapRefused = true; return 0; }
      return grow(requested);
    };
  }
  return instantiate.apply(this, arguments);
};

class Refusal extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

let M;
let fid;
const denied = [];
const O_ACCMODE = 3, O_CREAT = 64, O_TRUNC = 512;

/** Only the model file, read-only; everything else the FS is asked for is refused and noted. */
function sandbox(FS) {
  const write = FS.write;
  FS.write = function (stream, buffer, offset, length) {
    if (stream && (stream.fd === 1 || stream.fd === 2)) {
      capture(Buffer.from(buffer.subarray(offset, offset + length)).toString('utf8'));
      return length;
    }
    return write.apply(this, arguments);
  };
  const close = FS.close;
  FS.close = function (stream) {
    // Forget the descriptor before closing it: if the worker is killed in between, the owner
    // leaks it rather than closing a descriptor number that may have been reused.
    for (let i = 0; i < fdSlots.length; i++) if (stream && fdSlots[i] === stream.nfd) Atomics.store(fdSlots, i, -1);
    return close.apply(this, arguments);
  };
  const open = FS.open;
  FS.open = function (path, flags) {
    const stream = open.apply(this, arguments);
    const slot = fdSlots.indexOf(-1);
    if (slot >= 0 && typeof stream.nfd === 'number') Atomics.store(fdSlots, slot, stream.nfd);
    return stream;
  };
  const readOnly = (flags) => typeof flags === 'number' ? (flags & O_ACCMODE) === 0 && (flags & (O_CREAT | O_TRUNC)) === 0 : flags === 'r';
  for (const name of Object.keys(FS)) {
    const fn = FS[name];
    if (typeof fn !== 'function' || /^[A-Z]/.test(name) || /^class\b/.test(Function.prototype.toString.call(fn))) continue;
    FS[name] = function (...args) {
      const path = args[0];
      if (typeof path === 'string') {
        const allowed = path === file && (name === 'stat' || name === 'lstat' || (name === 'open' && readOnly(args[1])));
        if (!allowed) {
          denied.push(path);
          throw new FS.ErrnoError(2); // EACCES
        }
      }
      return fn.apply(this, args);
    };
  }
}

/** The innermost messages of libhdf5's error stack (the cause), e.g. "addr overflow, addr = …". */
function hdf5Reason() {
  const text = diagnostics;
  diagnostics = '';
  const frames = [...text.matchAll(/#\d+: .*? in (\w+\(\)): (.*)/g)].map((m) => m[2].trim());
  const reason = frames.length ? frames.slice(-2).reverse().join('; ') : text.trim().split('\n').slice(-3).join(' ');
  return reason.slice(0, 500) || 'no details';
}

function failure(what) {
  if (denied.length) {
    const paths = [...new Set(denied.splice(0))].join(', ');
    return new Refusal('unsafe', what + ': the file refers to another file (' + paths + '); external links, external storage and virtual datasets are refused');
  }
  if (heapRefused) {
    heapRefused = false;
    diagnostics = '';
    return new Refusal('memory', what + ': it needs more memory than the HDF5 reader may use');
  }
  return new Refusal('hdf5', what + ' (HDF5: ' + hdf5Reason() + ')');
}

/**
 * Run a libhdf5 call. A failure is a JS exception (h5wasm throws on failed opens), a negative
 * status, or an error stack printed by libhdf5: some h5wasm helpers ignore statuses (a damaged
 * group B-tree would otherwise list as an empty group).
 */
function h5(what, call) {
  let r;
  diagnostics = '';
  hdf5Error = false;
  try {
    r = call();
  } catch (e) {
    // h5wasm reports failed libhdf5 calls with plain Errors; anything else (a WebAssembly trap,
    // an abort, a binding error) is fatal.
    if (e instanceof Refusal || !e || e.constructor !== Error) throw e;
    throw failure(what);
  }
  if (denied.length || heapRefused || (typeof r === 'number' && r < 0) || (typeof r === 'bigint' && r < 0n) || hdf5Error) {
    throw failure(what);
  }
  return r;
}

// Path resolution, one link at a time, without following a link before knowing its kind.
const kinds = new Map([['', 'group']]);
const members = new Map();

function membersOf(group) {
  let m = members.get(group);
  if (!m) {
    m = new Set(h5('cannot list group "' + (group || '/') + '"', () => M.get_names(fid, group || '/', false)));
    members.set(group, m);
  }
  return m;
}

function classify(path) {
  const ext = h5('cannot inspect link "' + path + '"', () => M.get_external_link(fid, path));
  if (ext && ext.filename !== undefined) {
    throw new Refusal('unsafe', '"' + path + '" is an external link to ' + ext.filename + ':' + ext.obj_path + '; links to other files are refused');
  }
  const soft = h5('cannot inspect link "' + path + '"', () => M.get_symbolic_link(fid, path));
  if (soft !== null && soft !== undefined) throw new Refusal('unsupported', '"' + path + '" is a soft link to "' + soft + '"; soft links are not followed');
  const t = h5('cannot open "' + path + '"', () => M.get_type(fid, path));
  if (t === M.H5G_GROUP) return 'group';
  if (t === M.H5G_DATASET) return 'dataset';
  if (t === M.H5G_UDLINK || t === M.H5G_LINK) throw new Refusal('unsupported', '"' + path + '" is a user-defined link; only hard links are followed');
  return 'other';
}

/** 'group' | 'dataset' | 'other' | 'missing'. */
function kindOf(path) {
  const known = kinds.get(path);
  if (known) return known;
  if (path.startsWith('/') || path.endsWith('/') || path.includes('//')) return 'missing';
  const cut = path.lastIndexOf('/');
  const parent = cut < 0 ? '' : path.slice(0, cut);
  let kind = 'missing';
  if (kindOf(parent) === 'group' && membersOf(parent).has(path.slice(cut + 1))) kind = classify(path);
  kinds.set(path, kind);
  return kind;
}

const CLASSES = ['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'vlen', 'array'];

function readAttr(path, name) {
  const loc = path || '/';
  const names = h5('cannot list attributes of "' + loc + '"', () => M.get_attribute_names(fid, loc));
  if (!names.includes(name)) return undefined;
  const what = 'cannot read attribute "' + name + '" of "' + loc + '"';
  const meta = h5(what, () => M.get_attribute_metadata(fid, loc, name));
  if (!meta.shape) return undefined;
  const cls = CLASSES[meta.type];
  if (cls !== 'string' && cls !== 'integer' && cls !== 'float') return undefined;
  const nbytes = meta.size * meta.total_size;
  if (nbytes > maxAttributeBytes) throw new Refusal('unsupported', 'attribute "' + name + '" of "' + loc + '" holds ' + nbytes + ' bytes, more than the ' + maxAttributeBytes + ' read');
  const ptr = M._malloc(Math.max(1, nbytes));
  if (!ptr) throw failure(what);
  let values;
  try {
    h5(what, () => M.get_attribute_data(fid, loc, name, BigInt(ptr)));
    const bytes = M.HEAPU8.slice(ptr, ptr + nbytes);
    if (cls === 'string' && meta.vlen) {
      const ptrs = new Uint32Array(bytes.buffer);
      values = Array.from(ptrs, (p) => (p ? M.UTF8ToString(p) : ''));
      M.reclaim_vlen_memory(fid, loc, name, BigInt(ptr));
    } else if (cls === 'string') {
      // h5py stores Python bytes (UTF-8 JSON from older Keras) with the ASCII character set.
      const decoder = new TextDecoder('utf-8');
      values = [];
      for (let i = 0; i < meta.total_size; i++) {
        const s = bytes.subarray(i * meta.size, (i + 1) * meta.size);
        const end = s.indexOf(0);
        values.push(decoder.decode(end < 0 ? s : s.subarray(0, end)));
      }
    } else {
      const dv = new DataView(bytes.buffer);
      values = [];
      for (let i = 0; i < meta.total_size; i++) values.push(numberAt(dv, i * meta.size, cls, meta.size, meta.signed));
    }
  } finally {
    M._free(ptr);
  }
  return meta.shape.length === 0 ? values[0] : values;
}

function numberAt(dv, at, cls, size, signed) {
  if (cls === 'float') return size === 8 ? dv.getFloat64(at, true) : size === 4 ? dv.getFloat32(at, true) : NaN;
  switch (size) {
    case 1: return signed ? dv.getInt8(at) : dv.getUint8(at);
    case 2: return signed ? dv.getInt16(at, true) : dv.getUint16(at, true);
    case 4: return signed ? dv.getInt32(at, true) : dv.getUint32(at, true);
    default: return Number(signed ? dv.getBigInt64(at, true) : dv.getBigUint64(at, true));
  }
}

function datasetMeta(path) {
  const meta = h5('cannot open dataset "' + path + '"', () => M.get_dataset_metadata(fid, path));
  if (meta.virtual_sources && meta.virtual_sources.length) {
    const sources = meta.virtual_sources.map((s) => s.file_name + ':' + s.dset_name).join(', ');
    const external = meta.virtual_sources.some((s) => s.file_name !== '.');
    throw new Refusal(external ? 'unsafe' : 'unsupported', 'dataset "' + path + '" is a virtual dataset mapped from ' + sources + '; virtual datasets are refused');
  }
  return meta;
}

/** Our dtype name; Keras 3 stores bfloat16 as 2-byte opaque data with attribute dtype="bfloat16". */
function dtypeOf(path, meta) {
  const cls = CLASSES[meta.type] || 'class ' + meta.type;
  if (cls === 'float') return meta.size === 2 ? 'F16' : meta.size === 4 ? 'F32' : meta.size === 8 ? 'F64' : 'float' + meta.size * 8;
  if (cls === 'integer') return (meta.signed ? 'I' : 'U') + meta.size * 8;
  if (cls === 'opaque' && meta.size === 2 && readAttr(path, 'dtype') === 'bfloat16') return 'BF16';
  return cls;
}

const ops = {
  async open() {
    const h5wasm = await import(entry);
    M = await h5wasm.ready;
    sandbox(M.FS);
    // After the main module, no further WebAssembly may be loaded (dlopen of plugins or anything else).
    WebAssembly.instantiate = () => Promise.reject(new Error('blocked'));
    WebAssembly.Module = function () { throw new Error('blocked'); };
    for (let n = M.get_plugin_search_paths().length; n > 0; n--) M.remove_plugin_search_path(0);
    fid = h5('not a readable HDF5 file', () => M.open(file, M.H5F_ACC_RDONLY, false, -1, -1));
  },
  attr: ({ path, name }) => (kindOf(path) === 'group' || kindOf(path) === 'dataset' ? readAttr(path, name) : undefined),
  children: ({ path }) => (kindOf(path) === 'group' ? [...membersOf(path)] : undefined),
  dataset({ path }) {
    if (kindOf(path) !== 'dataset') return undefined;
    const meta = datasetMeta(path);
    if (!meta.shape) throw new Refusal('hdf5', 'dataset "' + path + '" has a null dataspace (no values)');
    const filters = h5('cannot open dataset "' + path + '"', () => M.get_dataset_filters(fid, path));
    return { shape: meta.shape, dtype: dtypeOf(path, meta), filtered: filters.length > 0 };
  },
  read({ path }) {
    if (kindOf(path) !== 'dataset') throw new Refusal('hdf5', '"' + path + '" is not a dataset');
    const meta = datasetMeta(path);
    const dtype = dtypeOf(path, meta);
    if (!['F16', 'F32', 'F64', 'BF16'].includes(dtype)) throw new Refusal('unsupported', 'dataset "' + path + '" has type ' + dtype);
    const shape = meta.shape || [];
    const size = meta.size;
    const outSize = dtype === 'F64' ? 4 : size;
    const count = meta.total_size;
    const out = new ArrayBuffer(count * outSize);
    // float64 is narrowed here (a float32 buffer crosses); 16-bit types cross as they are.
    const result = { buffer: out, dtype: dtype === 'F64' ? 'F32' : dtype };
    if (count === 0) return result;
    // Slabs of at most slabBytes: whole trailing dimensions that fit, stepping along the outermost
    // axis that does not (rounded to the chunk size, so a compressed chunk is decoded once per slab).
    let axis = shape.length - 1;
    let inner = size;
    while (axis >= 0 && inner * shape[axis] <= slabBytes) inner *= shape[axis--];
    const rank = shape.length;
    let step = 1;
    if (axis >= 0) {
      step = Math.max(1, Math.floor(slabBytes / inner));
      const chunk = meta.chunks ? Math.min(meta.chunks[axis], shape[axis]) : 0;
      if (chunk > 1 && step >= chunk) step -= step % chunk;
      else if (chunk > 1 && inner * chunk <= 4 * slabBytes) step = chunk;
    }
    const slabElems = axis < 0 ? count : (inner / size) * step;
    const ptr = M._malloc(slabElems * size);
    if (!ptr) throw failure('reading dataset "' + path + '"');
    try {
      if (axis < 0) {
        readSlab(path, null, null, ptr, count, size, dtype, out, 0);
        return result;
      }
      // Odometer over the axes before 'axis', one index each; 'axis' advances by 'step'.
      const index = new Array(rank).fill(0);
      let written = 0;
      for (;;) {
        const n = Math.min(step, shape[axis] - index[axis]);
        const countArr = shape.map((d, i) => BigInt(i < axis ? 1 : i === axis ? n : d));
        const offsetArr = index.map((v) => BigInt(v));
        const elems = (inner / size) * n;
        readSlab(path, countArr, offsetArr, ptr, elems, size, dtype, out, written);
        written += elems;
        index[axis] += n;
        let a = axis;
        while (a >= 0 && index[a] >= shape[a]) { if (a === 0) return result; index[a] = 0; index[--a]++; }
      }
    } finally {
      M._free(ptr);
    }
  },
  close() {
    if (fid !== undefined) M.close_file(fid);
    fid = undefined;
  },
};

function readSlab(path, countArr, offsetArr, ptr, elems, size, dtype, out, at) {
  const stride = countArr && countArr.map(() => 1n);
  h5('cannot read dataset "' + path + '"', () => M.get_dataset_data(fid, path, countArr, offsetArr, stride, BigInt(ptr)));
  if (dtype === 'F64') new Float32Array(out, at * 4, elems).set(new Float64Array(M.HEAPU8.buffer, ptr, elems));
  else new Uint8Array(out, at * size, elems * size).set(M.HEAPU8.subarray(ptr, ptr + elems * size));
}

parentPort.on('message', async (m) => {
  let reply;
  try {
    const result = await ops[m.op](m);
    reply = { id: m.id, result };
  } catch (e) {
    if (e instanceof Refusal) reply = { id: m.id, error: { kind: e.kind, message: e.message } };
    // A trap or abort leaves libhdf5 in an unknown state: the worker must not be used again.
    else reply = { id: m.id, error: { kind: 'fatal', message: String(e && e.message ? e.message : e).split('\n')[0].slice(0, 300) } };
  }
  const transfer = reply.result && reply.result.buffer instanceof ArrayBuffer ? [reply.result.buffer] : [];
  parentPort.postMessage(reply, transfer);
});
`;

interface Pending {
  readonly what: string;
  readonly path: string | undefined;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Request {
  readonly op: string;
  readonly path?: string;
  readonly name?: string;
}

type WorkerReply = { id: number; result?: unknown; error?: { kind: string; message: string } };

const ERROR_CODES: Readonly<Record<string, ErrorCode>> = { unsafe: 'E_UNSAFE', unsupported: 'E_UNSUPPORTED' };

/** One HDF5 file open in its own worker; any failure of the worker fails the file with E_CORRUPT. */
export class Hdf5File implements Hdf5Access {
  private readonly worker: Worker;
  private readonly fds: Int32Array;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  private failure: WeightWatcherError | undefined;

  private constructor(
    /** Absolute path of the HDF5 file. */
    file: string,
    /** How messages name the file. */
    private readonly what: string,
    private readonly limits: Hdf5Limits,
  ) {
    entryUrl ??= h5wasmNodeEntry();
    const fdSlots = new SharedArrayBuffer(FD_SLOTS * 4);
    this.fds = new Int32Array(fdSlots).fill(-1);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        entry: entryUrl,
        file,
        fdSlots,
        // The WebAssembly heap of this h5wasm build cannot exceed 2 GiB anyway.
        wasmHeapLimit: Math.min(limits.memoryMb * 1024 * 1024, 2 ** 31),
        slabBytes: SLAB_BYTES,
        maxAttributeBytes: MAX_ATTRIBUTE_BYTES,
      },
      // No stdout/stderr pipes: they would keep the process alive; the worker captures its output.
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb },
    });
    // Idle workers must not keep the process alive; a pending request does (see send()).
    this.worker.unref();
    this.worker.on('message', (m: WorkerReply) => this.settle(m));
    this.worker.on('error', (e: Error & { code?: string }) =>
      this.fail(
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `the HDF5 reader ran out of memory (limit ${limits.memoryMb} MB); the file is damaged or hostile`
          : `the HDF5 reader failed (${errorMessage(e)})`,
        e,
      ),
    );
    this.worker.on('exit', () => {
      this.releaseDescriptors();
      this.fail('the HDF5 reader stopped');
    });
  }

  /** Start a worker and open `file` (an absolute path) in it. */
  static async open(file: string, what: string, limits: Hdf5Limits = DEFAULT_HDF5_LIMITS): Promise<Hdf5File> {
    // The sandbox admits exactly this path, so libhdf5 must not need to resolve symbolic links in it.
    const h5 = new Hdf5File(await realpath(file), what, limits);
    try {
      await h5.request<unknown>({ op: 'open' }, 'opening the HDF5 file');
      return h5;
    } catch (e) {
      await h5.close();
      throw e;
    }
  }

  attr(path: string, name: string): Promise<unknown> {
    return this.request({ op: 'attr', path, name }, `reading attribute "${name}" of HDF5 object "${path || '/'}"`);
  }

  children(path: string): Promise<readonly string[] | undefined> {
    return this.request({ op: 'children', path }, `listing HDF5 group "${path || '/'}"`);
  }

  dataset(path: string): Promise<Hdf5Dataset | undefined> {
    return this.request({ op: 'dataset', path }, `reading HDF5 object "${path}"`);
  }

  async values(path: string): Promise<Float32Array> {
    const { buffer, dtype } = await this.request<{ buffer: ArrayBuffer; dtype: string }>(
      { op: 'read', path },
      `reading HDF5 object "${path}"`,
    );
    const bytes = new Uint8Array(buffer);
    return decodeToFloat32(bytes, dtype, bytes.byteLength / (dtype === 'F32' ? 4 : 2), `${this.what}: dataset "${path}"`);
  }

  async close(): Promise<void> {
    if (!this.failure) {
      // Let libhdf5 close the file (and its descriptor) before the worker goes.
      await this.request({ op: 'close' }, 'closing the HDF5 file').catch(() => undefined);
    }
    this.failure ??= new WeightWatcherError('E_IO', `${this.what}: store already closed`, { file: this.what });
    this.fail('closed');
    await this.worker.terminate();
    this.releaseDescriptors();
  }

  /** Requests run one at a time, so each timeout measures its own work, not the queue before it. */
  private request<T>(req: Request, what: string): Promise<T> {
    const run = () => this.send<T>(req, what);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private send<T>(req: Request, what: string): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(
        () => this.fail(`${what} took more than ${this.limits.timeoutMs} ms; the file is damaged or hostile`),
        this.limits.timeoutMs,
      );
      this.pending = { what, path: req.path, resolve: resolve as (v: unknown) => void, reject, timer };
      this.worker.ref();
      this.worker.postMessage({ id, ...req });
    });
  }

  private settle(m: WorkerReply): void {
    const p = this.pending;
    if (!p || m.id !== this.nextId - 1) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    this.worker.unref();
    if (!m.error) {
      p.resolve(m.result);
      return;
    }
    const { kind, message } = m.error;
    if (kind === 'fatal') {
      this.fail(`the HDF5 reader crashed while ${p.what} (${message}); the file is damaged or hostile`);
      p.reject(this.failure!);
      return;
    }
    if (kind === 'memory') {
      p.reject(
        new WeightWatcherError('E_CORRUPT', `${this.what}: ${message} (limit ${this.limits.memoryMb} MB); the file is damaged or hostile`, {
          file: this.what,
          tensor: p.path,
        }),
      );
      return;
    }
    const code = ERROR_CODES[kind] ?? 'E_CORRUPT';
    const text = code === 'E_CORRUPT' ? `invalid HDF5 data: ${message}` : message;
    p.reject(new WeightWatcherError(code, `${this.what}: ${text}`, { file: this.what, tensor: p.path }));
  }

  private fail(msg: string, cause?: unknown): void {
    this.failure ??= new WeightWatcherError('E_CORRUPT', `${this.what}: ${msg}`, { file: this.what, cause });
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    void this.worker.terminate();
  }

  /** Close descriptors a killed worker still held (they belong to the process, not the thread). */
  private releaseDescriptors(): void {
    for (let i = 0; i < this.fds.length; i++) {
      const fd = Atomics.exchange(this.fds, i, -1);
      if (fd >= 0) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
  }
}
