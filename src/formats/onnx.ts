/**
 * ONNX reader (R7): the tensors of `ModelProto.graph.initializer`, in order.
 *
 * The model is scanned with positioned reads: only tensor metadata (name, dims, data type) is kept,
 * plus where each tensor's values lie in the file (or in an external data file), so a multi-GB
 * model costs a few KB of memory until one tensor is read.
 *
 * Extension beyond the reference (off by default so ids match it): `includeConstants` also lists
 * weights the reference never sees — the `value` tensors of `Constant` nodes and the initializers of
 * subgraphs (If/Loop/Scan bodies) — after the main initializers, marked by `kind`.
 */
import path from 'node:path';
import { realpath } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';
import { float64Column } from '../shared/columns.js';
import { RandomAccessFile } from './file.js';
import { decodeToFloat32, dtypeSize, f16ToF32, shapeSize } from './decode.js';
import {
  decodeUtf8,
  ProtoReader,
  ProtoStream,
  repeatedFixedBytes,
  repeatedVarints,
  packedVarints,
  WIRE_LEN,
  WIRE_VARINT,
  type ProtoContext,
  type ProtoField,
} from './protobuf.js';
import type { TensorEntry, TensorStore } from './types.js';

export interface OnnxOptions {
  /** Also list Constant-node values and subgraph initializers, after the initializers. Default false. */
  includeConstants?: boolean;
}

/** Where a listed tensor comes from; only 'initializer' tensors are seen by the reference. */
export type OnnxTensorKind = 'initializer' | 'constant' | 'subgraph-initializer';

export interface OnnxTensorEntry extends TensorEntry {
  readonly kind: OnnxTensorKind;
}

export interface OnnxStore extends TensorStore {
  list(): readonly OnnxTensorEntry[];
}

// ONNX TensorProto.DataType → dtype name, and the typed field holding values when raw_data is absent.
const FLOAT_DATA = 4;
const INT32_DATA = 5;
const INT64_DATA = 7;
const DOUBLE_DATA = 10;
const UINT64_DATA = 11;
const DATA_FIELDS = new Set([FLOAT_DATA, INT32_DATA, INT64_DATA, DOUBLE_DATA, UINT64_DATA]);

const ONNX_DTYPES: ReadonlyMap<number, { dtype: string; field: number }> = new Map([
  [1, { dtype: 'F32', field: FLOAT_DATA }],
  [2, { dtype: 'U8', field: INT32_DATA }],
  [3, { dtype: 'I8', field: INT32_DATA }],
  [4, { dtype: 'U16', field: INT32_DATA }],
  [5, { dtype: 'I16', field: INT32_DATA }],
  [6, { dtype: 'I32', field: INT32_DATA }],
  [7, { dtype: 'I64', field: INT64_DATA }],
  [8, { dtype: 'STRING', field: 6 }],
  [9, { dtype: 'BOOL', field: INT32_DATA }],
  [10, { dtype: 'F16', field: INT32_DATA }],
  [11, { dtype: 'F64', field: DOUBLE_DATA }],
  [12, { dtype: 'U32', field: UINT64_DATA }],
  [13, { dtype: 'U64', field: UINT64_DATA }],
  [14, { dtype: 'C64', field: FLOAT_DATA }],
  [15, { dtype: 'C128', field: DOUBLE_DATA }],
  [16, { dtype: 'BF16', field: INT32_DATA }],
  [17, { dtype: 'F8_E4M3FN', field: INT32_DATA }],
  [18, { dtype: 'F8_E4M3FNUZ', field: INT32_DATA }],
  [19, { dtype: 'F8_E5M2', field: INT32_DATA }],
  [20, { dtype: 'F8_E5M2FNUZ', field: INT32_DATA }],
  [21, { dtype: 'U4', field: INT32_DATA }],
  [22, { dtype: 'I4', field: INT32_DATA }],
  [23, { dtype: 'F4_E2M1', field: INT32_DATA }],
]);

const DATA_LOCATION_EXTERNAL = 1;

// Sanity bounds: far above anything a real model has, low enough that hostile files cannot make the
// scan allocate without limit.
const MAX_RANK = 64;
const MAX_NAME_BYTES = 1 << 16;
const MAX_SMALL_MESSAGE = 1 << 20;
const MAX_TENSORS = 1_000_000;
const MAX_SPANS_PER_TENSOR = 4096;
/** TensorProtos up to this size are read whole and decoded synchronously. */
const SMALL_TENSOR_BYTES = 1 << 16;
/** TensorProto fields whose bytes the scan needs, and their limits: dims (packed), name, external_data. */
const TENSOR_PAYLOAD_LIMITS: ReadonlyMap<number, number> = new Map([
  [1, MAX_RANK * 10],
  [8, MAX_NAME_BYTES],
  [13, MAX_SMALL_MESSAGE],
]);
/** Largest tensor decoded in one piece (bytes and elements), below V8's typed-array limits. */
const MAX_DECODE = 2 ** 31 - 1;

/** File bytes [start, end). */
interface Span {
  start: number;
  end: number;
}

/**
 * What the scan keeps of a tensor: a few numbers and its dims (shared between tensors of the same
 * shape), so a model with a million initializers costs ~100 bytes per initializer.
 */
interface TensorMeta {
  name: string;
  dataType: number;
  dims: readonly number[];
  /** raw_data payload [rawStart, rawEnd) in the file, -1 without one (the last one wins, as for any singular protobuf field). */
  rawStart: number;
  rawEnd: number;
  /** Regions of typed repeated data fields (tags included), by field number, in file order; created when present. */
  typed: Map<number, Span[]> | undefined;
  external: Map<string, string> | undefined;
  dataLocation: number;
}

/**
 * The metadata of every listed tensor in columns, row i for entry i of list(): ~40 bytes and a
 * name per tensor, where TensorMeta objects would cost ~150 (a million tiny initializers).
 */
class TensorTable {
  readonly names: string[] = [];
  readonly dims: (readonly number[])[] = [];
  private readonly dataTypes = float64Column();
  private readonly rawStarts = float64Column();
  private readonly rawEnds = float64Column();
  private readonly locations = float64Column();
  /** The rare tensors with typed data fields or external data, by row. */
  private readonly typed = new Map<number, Map<number, Span[]>>();
  private readonly external = new Map<number, Map<string, string>>();

  get length(): number {
    return this.names.length;
  }

  push(meta: TensorMeta, name = meta.name): void {
    const row = this.names.length;
    this.names.push(name);
    this.dims.push(meta.dims);
    this.dataTypes.push(meta.dataType);
    this.rawStarts.push(meta.rawStart);
    this.rawEnds.push(meta.rawEnd);
    this.locations.push(meta.dataLocation);
    if (meta.typed) this.typed.set(row, meta.typed);
    if (meta.external) this.external.set(row, meta.external);
  }

  dataType(row: number): number {
    return this.dataTypes.get(row);
  }

  meta(row: number): TensorMeta {
    return {
      name: this.names[row]!,
      dataType: this.dataTypes.get(row),
      dims: this.dims[row]!,
      rawStart: this.rawStarts.get(row),
      rawEnd: this.rawEnds.get(row),
      typed: this.typed.get(row),
      external: this.external.get(row),
      dataLocation: this.locations.get(row),
    };
  }
}

/** Distinct dims arrays shared as one array each (beyond this, hostile files keep their own). */
const MAX_INTERNED_DIMS = 4096;

/** Known ModelProto fields and their wire types: the first field of an ONNX file must be one of them. */
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, WIRE_VARINT],
  [2, WIRE_LEN],
  [3, WIRE_LEN],
  [4, WIRE_LEN],
  [5, WIRE_VARINT],
  [6, WIRE_LEN],
  [7, WIRE_LEN],
  [8, WIRE_LEN],
  [14, WIRE_LEN],
  [20, WIRE_LEN],
  [25, WIRE_LEN],
  [26, WIRE_LEN],
]);

/** Walks ModelProto → GraphProto → TensorProto/NodeProto, collecting tensor metadata. */
class OnnxScanner {
  /** The graph's initializers, in order. */
  readonly initializers = new TensorTable();
  readonly extras: { meta: TensorMeta; kind: OnnxTensorKind }[] = [];
  private count = 0;
  private readonly dimsPool = new Map<string, readonly number[]>();

  constructor(
    private readonly stream: ProtoStream,
    private readonly file: string,
    private readonly includeConstants: boolean,
    /** Only look for Constant-node and subgraph tensors (the main initializers are not kept). */
    private readonly extrasOnly = false,
  ) {}

  private ctx(what: string): ProtoContext {
    return { file: this.file, what };
  }

  private async string(f: ProtoField, ctx: ProtoContext): Promise<string> {
    if (f.wire !== WIRE_LEN) throw corrupt(this.file, `${ctx.what}: field ${f.field} should be a string, found wire type ${f.wire}`);
    return decodeUtf8(await this.stream.bytes(f.start, f.end, MAX_NAME_BYTES, ctx));
  }

  private expectMessage(f: ProtoField, ctx: ProtoContext): void {
    if (f.wire !== WIRE_LEN) throw corrupt(this.file, `${ctx.what}: field ${f.field} should be a message, found wire type ${f.wire}`);
  }

  private counted(): void {
    if (++this.count > MAX_TENSORS) {
      throw new WeightWatcherError('E_UNSUPPORTED', `${this.file}: more than ${MAX_TENSORS} tensors`, { file: this.file });
    }
  }

  async model(): Promise<void> {
    const ctx = this.ctx('ModelProto');
    let first = true;
    let graphs = 0;
    try {
      for await (const f of this.stream.fields(0, this.stream.size, 0, ctx)) {
        if (first && MODEL_FIELDS.get(f.field) !== f.wire)
          throw notOnnx(this.file, `starts with protobuf field ${f.field} (wire type ${f.wire}), not a ModelProto field`);
        first = false;
        if (f.field === 7) {
          this.expectMessage(f, ctx);
          graphs++;
          await this.graph(f, 1, 'initializer');
        }
      }
    } catch (e) {
      // Garbage before the first valid field means this is not protobuf at all.
      if (first && e instanceof WeightWatcherError && e.code === 'E_CORRUPT') throw notOnnx(this.file, e.message);
      throw e;
    }
    if (first) throw notOnnx(this.file, 'file is empty');
    if (graphs === 0) throw notOnnx(this.file, 'ModelProto has no graph (field 7)');
  }

  private async graph(g: ProtoField, depth: number, kind: 'initializer' | 'subgraph-initializer'): Promise<void> {
    const ctx = this.ctx(kind === 'initializer' ? 'graph' : 'subgraph');
    // A window of fields at a time: small initializers in the window are decoded without an await.
    for await (const batch of this.stream.fieldBatches(g.start, g.end, depth, ctx)) {
      for (const f of batch) {
        if (f.field === 5) {
          this.expectMessage(f, ctx);
          if (this.extrasOnly && kind === 'initializer') continue;
          this.counted();
          const index = kind === 'initializer' ? this.initializers.length : this.extras.length;
          const what = `${ctx.what} initializer #${index}`;
          const inWindow = f.end - f.start <= SMALL_TENSOR_BYTES ? this.stream.windowBytes(f.start, f.end) : undefined;
          const meta = inWindow ? this.tensorFromBytes(inWindow, f.start, depth + 1, what) : await this.tensor(f, depth + 1, what);
          if (kind === 'initializer') this.initializers.push(meta);
          else if (this.includeConstants) this.extras.push({ meta, kind });
        } else if (f.field === 1 && this.includeConstants) {
          this.expectMessage(f, ctx);
          await this.node(f, depth + 1);
        }
      }
    }
  }

  private async node(n: ProtoField, depth: number): Promise<void> {
    const ctx = this.ctx('node');
    let opType = '';
    let output: string | undefined;
    let nodeName = '';
    let value: TensorMeta | undefined;
    for await (const f of this.stream.fields(n.start, n.end, depth, ctx)) {
      if (f.field === 2 && output === undefined) output = await this.string(f, ctx);
      else if (f.field === 3) nodeName = await this.string(f, ctx);
      else if (f.field === 4) opType = await this.string(f, ctx);
      else if (f.field === 5) {
        this.expectMessage(f, ctx);
        value = (await this.attribute(f, depth + 1)) ?? value;
      }
    }
    if (opType === 'Constant' && value !== undefined) {
      this.counted();
      // A Constant's tensor is referred to by the node's output; its own name is usually empty.
      value.name = output || value.name || nodeName;
      this.extras.push({ meta: value, kind: 'constant' });
    }
  }

  /** Scans subgraphs in place; returns the tensor of an attribute named 'value', if any. */
  private async attribute(a: ProtoField, depth: number): Promise<TensorMeta | undefined> {
    const ctx = this.ctx('node attribute');
    let name = '';
    let tensor: TensorMeta | undefined;
    for await (const f of this.stream.fields(a.start, a.end, depth, ctx)) {
      if (f.field === 1) name = await this.string(f, ctx);
      else if (f.field === 5) {
        this.expectMessage(f, ctx);
        tensor = await this.tensor(f, depth + 1, 'Constant value');
      } else if (f.field === 6 || f.field === 11) {
        this.expectMessage(f, ctx);
        await this.graph(f, depth + 1, 'subgraph-initializer');
      }
    }
    return name === 'value' ? tensor : undefined;
  }

  /**
   * A TensorProto's metadata. Small messages (most tensors, and every one of a hostile file with a
   * million tiny initializers) are read in one piece and decoded synchronously; large ones are
   * walked field by field so their data is only located, never read.
   */
  private async tensor(t: ProtoField, depth: number, what: string): Promise<TensorMeta> {
    const ctx = this.ctx(what);
    if (t.end - t.start <= SMALL_TENSOR_BYTES)
      return this.tensorFromBytes(await this.stream.bytes(t.start, t.end, SMALL_TENSOR_BYTES, ctx), t.start, depth, what);
    const dims: number[] = [];
    const meta = emptyTensorMeta(dims);
    for await (const f of this.stream.fields(t.start, t.end, depth, ctx)) {
      const limit = this.payloadLimit(f, ctx);
      const payload = limit === undefined ? undefined : await this.stream.bytes(f.start, f.end, limit, ctx);
      this.tensorField(meta, dims, f, payload, depth, what, ctx);
    }
    return this.shareDims(meta, dims);
  }

  /** A TensorProto held in memory (`bytes` start at file offset `base`), decoded synchronously. */
  private tensorFromBytes(bytes: Uint8Array, base: number, depth: number, what: string): TensorMeta {
    const ctx = this.ctx(what);
    const dims: number[] = [];
    const meta = emptyTensorMeta(dims);
    const r = new ProtoReader(bytes, ctx, depth);
    for (let f = r.next(); f; f = r.next()) {
      const payload = this.payloadLimit(f, ctx) === undefined ? undefined : r.payload(f);
      this.tensorField(meta, dims, f, payload, depth, what, ctx, base);
    }
    return this.shareDims(meta, dims);
  }

  /** Tensors of one shape share one dims array. */
  private shareDims(meta: TensorMeta, dims: number[]): TensorMeta {
    const key = dims.join(',');
    const shared = this.dimsPool.get(key);
    if (shared) meta.dims = shared;
    else if (this.dimsPool.size < MAX_INTERNED_DIMS) this.dimsPool.set(key, Object.freeze(dims));
    return meta;
  }

  /** The size limit of a TensorProto field whose bytes are needed (dims, name, external_data); undefined for the rest. */
  private payloadLimit(f: ProtoField, ctx: ProtoContext): number | undefined {
    if (f.wire !== WIRE_LEN) return undefined;
    const limit = TENSOR_PAYLOAD_LIMITS.get(f.field);
    if (limit !== undefined && f.end - f.start > limit)
      throw corrupt(this.file, `${ctx.what}: ${f.end - f.start}-byte field exceeds the ${limit}-byte limit`);
    return limit;
  }

  /**
   * One TensorProto field; `payload` holds its bytes when payloadLimit asked for them. Field offsets
   * plus `base` are file offsets (no per-field copy: a million tensors make millions of fields).
   */
  private tensorField(
    meta: TensorMeta,
    dims: number[],
    f: ProtoField,
    payload: Uint8Array | undefined,
    depth: number,
    what: string,
    ctx: ProtoContext,
    base = 0,
  ): void {
    switch (f.field) {
      case 1: {
        const onDim = (d: number): void => {
          if (dims.length >= MAX_RANK) throw corrupt(this.file, `${what}: more than ${MAX_RANK} dims`);
          dims.push(d);
        };
        if (payload) packedVarints(payload, ctx, onDim);
        else if (f.wire === WIRE_VARINT) onDim(f.int);
        else throw corrupt(this.file, `${what}: dims has wire type ${f.wire}`);
        break;
      }
      case 2:
        meta.dataType = this.varint(f, ctx);
        break;
      case 8:
        if (!payload) throw corrupt(this.file, `${ctx.what}: field ${f.field} should be a string, found wire type ${f.wire}`);
        meta.name = decodeUtf8(payload);
        break;
      case 9:
        this.expectMessage(f, ctx);
        meta.rawStart = base + f.start;
        meta.rawEnd = base + f.end;
        break;
      case 13: {
        if (!payload) throw corrupt(this.file, `${ctx.what}: external_data should be a message, found wire type ${f.wire}`);
        const entry = new ProtoReader(payload, this.ctx(`${what} external_data`), depth + 1);
        let key = '';
        let value = '';
        for (let e = entry.next(); e; e = entry.next()) {
          if (e.field === 1) key = entry.string(e);
          else if (e.field === 2) value = entry.string(e);
        }
        (meta.external ??= new Map()).set(key, value);
        break;
      }
      case 14:
        meta.dataLocation = this.varint(f, ctx);
        break;
      default:
        if (DATA_FIELDS.has(f.field)) addSpan(meta, f, this.file, what, base);
    }
  }

  private varint(f: ProtoField, ctx: ProtoContext): number {
    if (f.wire !== WIRE_VARINT) throw corrupt(this.file, `${ctx.what}: field ${f.field} should be a varint, found wire type ${f.wire}`);
    return f.int;
  }
}

/** Record a typed data field, merging it with the previous region when they are adjacent. */
function addSpan(meta: TensorMeta, f: ProtoField, file: string, what: string, base: number): void {
  const typed = (meta.typed ??= new Map<number, Span[]>());
  let spans = typed.get(f.field);
  if (!spans) typed.set(f.field, (spans = []));
  const last = spans[spans.length - 1];
  if (last && last.end === base + f.tagStart) last.end = base + f.end;
  else if (spans.length >= MAX_SPANS_PER_TENSOR) {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${file}: ${what}: data field ${f.field} is split into more than ${MAX_SPANS_PER_TENSOR} pieces`,
      { file },
    );
  } else spans.push({ start: base + f.tagStart, end: base + f.end });
}

function corrupt(file: string, message: string, tensor?: string): WeightWatcherError {
  return new WeightWatcherError('E_CORRUPT', `${file}: ${message}`, tensor === undefined ? { file } : { file, tensor });
}

function notOnnx(file: string, why: string): WeightWatcherError {
  return new WeightWatcherError('E_FORMAT', `${file}: not an ONNX model (${why})`, { file });
}

/**
 * Distinct names for extension tensors (`name#2`, `name#3`, …); a per-name counter keeps this linear
 * even when thousands of Constants share a name.
 */
class NameAllocator {
  private readonly next = new Map<string, number>();

  constructor(private readonly taken: { has(name: string): boolean }) {}

  allocate(name: string): string {
    if (!this.taken.has(name)) return name;
    let k = this.next.get(name) ?? 2;
    while (this.taken.has(`${name}#${k}`)) k++;
    this.next.set(name, k + 1);
    return `${name}#${k}`;
  }
}

class OnnxTensorStore implements OnnxStore {
  readonly format = 'onnx';
  readonly convention = 'onnx' as const;
  private readonly entries: OnnxTensorEntry[];
  /** Row of each entry's metadata in the table (same order as entries). */
  private readonly table: TensorTable;
  private byName: Map<string, number> | undefined;
  private readonly externals = new Map<string, Promise<RandomAccessFile>>();
  readonly hiddenTensors?: TensorStore['hiddenTensors'];

  constructor(
    private readonly file: RandomAccessFile,
    scanner: OnnxScanner,
    hiddenConstants = 0,
  ) {
    if (hiddenConstants > 0) this.hiddenTensors = { count: hiddenConstants, option: 'onnx_constants' };
    const table = (this.table = scanner.initializers);
    this.entries = new Array<OnnxTensorEntry>(table.length);
    for (let i = 0; i < table.length; i++)
      this.entries[i] = { name: table.names[i]!, dtype: dtypeName(table.dataType(i)), shape: table.dims[i]!, kind: 'initializer' };
    // Initializer names must be unique; sorting a copy finds repeats without a million-entry map.
    const sorted = table.names.slice().sort();
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] === sorted[i - 1]) throw corrupt(this.source, `initializer name '${sorted[i]}' is used twice`, sorted[i]);
    }
    if (scanner.extras.length) {
      const index = this.index();
      const names = new NameAllocator(index);
      for (const { meta, kind } of scanner.extras) {
        const name = names.allocate(meta.name);
        index.set(name, table.length);
        table.push(meta, name);
        this.entries.push({ name, dtype: dtypeName(meta.dataType), shape: meta.dims, kind });
      }
    }
  }

  private index(): Map<string, number> {
    if (!this.byName) {
      this.byName = new Map();
      for (let i = 0; i < this.entries.length; i++) this.byName.set(this.entries[i]!.name, i);
    }
    return this.byName;
  }

  get source(): string {
    return this.file.path;
  }

  list(): readonly OnnxTensorEntry[] {
    return this.entries;
  }

  async read(name: string): Promise<Float32Array> {
    const row = this.index().get(name);
    if (row === undefined)
      throw new WeightWatcherError('E_NOT_FOUND', `${this.source}: no tensor named '${name}'`, { file: this.source, tensor: name });
    try {
      return await this.decode(name, this.table.meta(row));
    } catch (e) {
      // The shared decoders do not know the file: attach it, and the tensor.
      if (e instanceof WeightWatcherError && (e.file === undefined || e.tensor === undefined)) {
        throw new WeightWatcherError(e.code, e.message, { file: e.file ?? this.source, tensor: name, cause: e });
      }
      throw e;
    }
  }

  private async decode(name: string, meta: TensorMeta): Promise<Float32Array> {
    const what = `${this.source}: tensor '${name}'`;
    const type = ONNX_DTYPES.get(meta.dataType);
    if (meta.dataType === 0) throw corrupt(this.source, `tensor '${name}' has no data_type`, name);
    const count = shapeSize(meta.dims, what);
    const elemSize = type ? dtypeSize(type.dtype) : undefined;
    if (!type || elemSize === undefined) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${what}: ONNX data type ${meta.dataType} (${dtypeName(meta.dataType)}) cannot be decoded to float32`,
        { file: this.source, tensor: name },
      );
    }
    if (count > MAX_DECODE || count * elemSize > MAX_DECODE) {
      throw new WeightWatcherError('E_UNSUPPORTED', `${what}: ${count} elements is too large to decode in one piece`, {
        file: this.source,
        tensor: name,
      });
    }
    if (meta.dataLocation === DATA_LOCATION_EXTERNAL) {
      return decodeToFloat32(await this.readExternal(meta, name, count * elemSize), type.dtype, count, what);
    }
    if (meta.rawStart >= 0) {
      const bytes = await this.file.read(meta.rawStart, meta.rawEnd - meta.rawStart, `raw_data of '${name}'`);
      return decodeToFloat32(bytes, type.dtype, count, what);
    }
    return this.readTyped(meta, type, count, name, what);
  }

  private async readExternal(meta: TensorMeta, name: string, expectedBytes: number): Promise<Uint8Array> {
    const location = meta.external?.get('location');
    if (!location) throw corrupt(this.source, `tensor '${name}' is stored externally but has no 'location'`, name);
    const offset = parseDecimal(meta.external?.get('offset') ?? '0', 'offset', this.source, name);
    const ext = await this.openExternal(location, name);
    const lengthText = meta.external?.get('length');
    const length = lengthText === undefined ? ext.size - offset : parseDecimal(lengthText, 'length', this.source, name);
    if (length !== expectedBytes) {
      throw corrupt(
        this.source,
        `tensor '${name}': external data in ${ext.path} has ${length} bytes, shape [${meta.dims.join(', ')}] needs ${expectedBytes}`,
        name,
      );
    }
    return ext.read(offset, length, `external data of '${name}'`);
  }

  /** External files are resolved inside the model's folder; a location escaping it is refused. */
  private openExternal(location: string, name: string): Promise<RandomAccessFile> {
    let pending = this.externals.get(location);
    if (!pending) {
      pending = (async () => {
        const dir = path.dirname(path.resolve(this.source));
        const escapes = (p: string, root: string): boolean => {
          const rel = path.relative(root, p);
          return rel === '' || rel.startsWith('..') || path.isAbsolute(rel);
        };
        const target = path.resolve(dir, location);
        if (path.isAbsolute(location) || escapes(target, dir)) {
          throw new WeightWatcherError(
            'E_UNSAFE',
            `${this.source}: tensor '${name}': external data location '${location}' is outside the model's folder`,
            { file: this.source, tensor: name },
          );
        }
        const ext = await RandomAccessFile.open(target);
        // Symlinks could still lead outside the folder: compare real paths too.
        const [realDir, realTarget] = await Promise.all([realpath(dir), realpath(target)]);
        if (escapes(realTarget, realDir)) {
          await ext.close();
          throw new WeightWatcherError(
            'E_UNSAFE',
            `${this.source}: tensor '${name}': external data '${location}' links outside the model's folder`,
            { file: this.source, tensor: name },
          );
        }
        return ext;
      })();
      this.externals.set(location, pending);
      // A failed open is not cached, so the error is reported again on the next read.
      pending.catch(() => this.externals.delete(location));
    }
    return pending;
  }

  /** Values stored in the typed repeated fields (float_data, int32_data, …) rather than raw_data. */
  private async readTyped(
    meta: TensorMeta,
    type: { dtype: string; field: number },
    count: number,
    name: string,
    what: string,
  ): Promise<Float32Array> {
    const spans = meta.typed?.get(type.field) ?? [];
    const readers: ProtoReader[] = [];
    let total = 0;
    for (const s of spans) {
      const bytes = await this.file.read(s.start, s.end - s.start, `data of '${name}'`);
      readers.push(new ProtoReader(bytes, { file: this.source, what: `tensor '${name}'` }));
      total += bytes.length;
    }
    const fields = function* (): Generator<[ProtoReader, ProtoField]> {
      for (const r of readers) for (let f = r.next(); f; f = r.next()) yield [r, f];
    };
    if (type.field === FLOAT_DATA || type.field === DOUBLE_DATA) {
      const width = type.field === FLOAT_DATA ? 4 : 8;
      const parts = [...fields()].map(([r, f]) => repeatedFixedBytes(r, f, width));
      return decodeToFloat32(concat(parts), type.dtype, count, what);
    }
    // Every varint takes at least one byte: a count beyond the bytes present cannot be satisfied.
    if (count > total)
      throw corrupt(
        this.source,
        `tensor '${name}': shape [${meta.dims.join(', ')}] needs ${count} values, the data holds at most ${total}`,
        name,
      );
    const out = new Float32Array(count);
    const bits = new Uint32Array(out.buffer);
    const store = valueStore(type.dtype, out, bits);
    let n = 0;
    const onValue = (v: number): void => {
      if (n >= count) throw corrupt(this.source, `tensor '${name}': more values than its shape [${meta.dims.join(', ')}] holds`, name);
      store(n++, v);
    };
    for (const [r, f] of fields()) repeatedVarints(r, f, onValue);
    if (n !== count)
      throw corrupt(this.source, `tensor '${name}': ${n} values for shape [${meta.dims.join(', ')}] (${count} expected)`, name);
    return out;
  }

  async close(): Promise<void> {
    const pending = [...this.externals.values()];
    this.externals.clear();
    await this.file.close();
    for (const p of pending) {
      const ext = await p.catch(() => undefined);
      await ext?.close();
    }
  }
}

/** How a varint from int32_data / int64_data / uint64_data becomes element `i`. */
function valueStore(dtype: string, out: Float32Array, bits: Uint32Array): (i: number, v: number) => void {
  switch (dtype) {
    // Half floats travel as their 16-bit patterns.
    case 'F16':
      return (i, v) => {
        out[i] = f16ToF32(v & 0xffff);
      };
    case 'BF16':
      return (i, v) => {
        bits[i] = (v & 0xffff) << 16;
      };
    case 'I32':
    case 'I16':
    case 'I8':
      return (i, v) => {
        out[i] = v | 0;
      };
    case 'U8':
    case 'U16':
    case 'BOOL':
      return (i, v) => {
        out[i] = v >>> 0;
      };
    // uint64 values above 2^63 come back from the int64 decoder as negatives.
    case 'U32':
    case 'U64':
      return (i, v) => {
        out[i] = v < 0 ? v + 2 ** 64 : v;
      };
    default:
      return (i, v) => {
        out[i] = v;
      };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const unknownDtypeNames = new Map<number, string>();
function dtypeName(dataType: number): string {
  const known = ONNX_DTYPES.get(dataType)?.dtype;
  if (known) return known;
  let name = unknownDtypeNames.get(dataType);
  if (name === undefined && unknownDtypeNames.size < 256) unknownDtypeNames.set(dataType, (name = `ONNX_TYPE_${dataType}`));
  return name ?? `ONNX_TYPE_${dataType}`;
}

function parseDecimal(text: string, key: string, file: string, tensor: string): number {
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw corrupt(file, `tensor '${tensor}': external data ${key} '${text}' is not a byte count`, tensor);
  return n;
}

/** Open an ONNX model; only its structure is read here, tensor values are read by `read()`. */
export async function openOnnx(file: string, options: OnnxOptions = {}): Promise<OnnxStore> {
  const raf = await RandomAccessFile.open(file);
  try {
    const includeConstants = options.includeConstants ?? false;
    const scanner = new OnnxScanner(new ProtoStream(raf), file, includeConstants);
    await scanner.model();
    // No weight matrix among the initializers: count those held in Constant nodes, so an empty
    // analysis can point to onnx_constants (a second scan, only for such models).
    let hidden = 0;
    if (!includeConstants && !scanner.initializers.dims.some((d) => d.length >= 2)) {
      // Best effort: a subgraph the default scan never visits may be malformed; then no hint.
      const all = new OnnxScanner(new ProtoStream(raf), file, true, true);
      hidden = await all.model().then(
        () => all.extras.filter((x) => x.meta.dims.length >= 2).length,
        () => 0,
      );
    }
    return new OnnxTensorStore(raf, scanner, hidden);
  } catch (e) {
    await raf.close();
    throw e;
  }
}

/** A TensorProto's fields before any is read (filled in by tensorField). */
function emptyTensorMeta(dims: number[]): TensorMeta {
  return { name: '', dataType: 0, dims, rawStart: -1, rawEnd: -1, typed: undefined, external: undefined, dataLocation: 0 };
}
