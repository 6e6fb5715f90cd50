/**
 * GGUF (llama.cpp) reader. (A writer for test fixtures is test/helpers/gguf-writer.ts.)
 *
 * Layout (v2/v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
 * metadata key/values, tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset),
 * padding to `general.alignment` (default 32), then the data section that tensor offsets point into.
 *
 * ggml's ne[0] is the fastest-varying dimension, so the row-major shape is ne reversed and the
 * data needs no transposition (a PyTorch Linear [out, in] is stored with ne = [in, out]).
 */
import { WeightWatcherError } from '../shared/errors.js';
import { RandomAccessFile } from './file.js';
import { shapeSize } from './decode.js';
import { canDequantize, dequantize, ggmlByteSize, ggmlType, supportedTypeNames, type GgmlType } from './ggml-quants.js';
import type { TensorEntry, TensorStore } from './types.js';

export interface GgufTensorEntry extends TensorEntry {
  /** ggml type id as stored (dtype holds its name). */
  readonly ggmlType: number;
  /** Hugging Face-style name for display (see `ggufReadableName`). */
  readonly readableName: string;
}

/** A metadata array, summarised: large arrays (vocabularies) are skipped, not loaded. */
export interface GgufArraySummary {
  readonly type: 'array';
  readonly itemType: GgufValueType;
  readonly length: number;
  /** The items, when the array is short (≤ 256) and holds scalars or strings. */
  readonly values?: readonly (number | bigint | string | boolean)[];
}

export type GgufMetadataValue = number | bigint | string | boolean | GgufArraySummary;

export interface GgufStore extends TensorStore {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataValue>;
  list(): readonly GgufTensorEntry[];
}

export const VALUE_TYPES = [
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'UINT32',
  'INT32',
  'FLOAT32',
  'BOOL',
  'STRING',
  'ARRAY',
  'UINT64',
  'INT64',
  'FLOAT64',
] as const;
export type GgufValueType = (typeof VALUE_TYPES)[number];
/** Bytes of each scalar type; STRING/ARRAY are variable (their minimum: a u64 length, type + u64). */
const VALUE_SIZES: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

export const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const DEFAULT_ALIGNMENT = 32;
const GGML_MAX_DIMS = 4;
const MAX_STRING = 1 << 24; // keys and names are short; long strings are chat templates and the like
const MAX_KEPT_ARRAY = 256;
const MAX_ARRAY_NESTING = 8;
/** Headers larger than this are refused (vocabularies of large models take tens of MB). */
const MAX_HEADER = 1 << 30;
const FIRST_HEADER_READ = 1 << 20;
/** Largest tensor decoded in one piece, below V8's typed-array limits. */
const MAX_DECODE = 2 ** 31 - 1;

function corrupt(file: string, message: string, tensor?: string): WeightWatcherError {
  return new WeightWatcherError('E_CORRUPT', `${file}: ${message}`, tensor === undefined ? { file } : { file, tensor });
}

/** Run `f`, attaching the file and tensor to errors raised by the shared decoders. */
function located<T>(f: () => T, file: string, tensor: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof WeightWatcherError && e.file === undefined)
      throw new WeightWatcherError(e.code, e.message, { file, tensor, cause: e });
    throw e;
  }
}

/** Thrown when the header runs past the bytes read so far: read more and parse again. */
class NeedMore extends Error {}

/** Sequential little-endian reads over the header bytes read so far. */
class Cursor {
  pos = 0;
  private readonly dv: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    /** Whether `bytes` is the whole file (running past it is then corruption, not a short read). */
    private readonly complete: boolean,
    private readonly file: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes left in the file after the cursor, as far as bounds checks are concerned. */
  remaining(fileSize: number): number {
    return fileSize - this.pos;
  }

  private need(n: number, what: string): number {
    const at = this.pos;
    if (at + n > this.bytes.length) {
      if (this.complete)
        throw corrupt(this.file, `truncated header: ${what} at byte ${at} needs ${n} bytes, the file ends at ${this.bytes.length}`);
      throw new NeedMore();
    }
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.dv.getUint8(this.need(1, what));
  }
  i8(what: string): number {
    return this.dv.getInt8(this.need(1, what));
  }
  u16(what: string): number {
    return this.dv.getUint16(this.need(2, what), true);
  }
  i16(what: string): number {
    return this.dv.getInt16(this.need(2, what), true);
  }
  u32(what: string): number {
    return this.dv.getUint32(this.need(4, what), true);
  }
  i32(what: string): number {
    return this.dv.getInt32(this.need(4, what), true);
  }
  f32(what: string): number {
    return this.dv.getFloat32(this.need(4, what), true);
  }
  f64(what: string): number {
    return this.dv.getFloat64(this.need(8, what), true);
  }
  u64(what: string): bigint {
    return this.dv.getBigUint64(this.need(8, what), true);
  }
  i64(what: string): bigint {
    return this.dv.getBigInt64(this.need(8, what), true);
  }

  /** A u64 that must be a count or offset usable as a JS number. */
  size(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(this.file, `${what} ${v} is out of range`);
    return Number(v);
  }

  skip(n: number, what: string): void {
    this.need(n, what);
  }

  string(what: string, maxLength = MAX_STRING): string {
    const n = this.size(`${what} length`);
    if (n > maxLength) throw corrupt(this.file, `${what} is ${n} bytes long (limit ${maxLength})`);
    const at = this.need(n, what);
    return utf8.decode(this.bytes.subarray(at, at + n));
  }

  skipString(what: string): void {
    this.skip(this.size(`${what} length`), what);
  }
}

const utf8 = new TextDecoder('utf-8');

interface TensorInfo {
  entry: GgufTensorEntry;
  type: GgmlType | undefined;
  count: number;
  /** Absolute file offset and byte length of the data, when the type's size is known. */
  offset: number;
  bytes: number | undefined;
}

interface Header {
  version: number;
  alignment: number;
  metadata: Map<string, GgufMetadataValue>;
  tensors: TensorInfo[];
}

/** Parse the header from `bytes` (the start of the file); throws NeedMore if it continues past them. */
function parseHeader(bytes: Uint8Array, fileSize: number, file: string): Header {
  const c = new Cursor(bytes, bytes.length === fileSize, file);
  if (bytes.length < 4 || c.u32('magic') !== MAGIC) {
    throw new WeightWatcherError('E_FORMAT', `${file}: not a GGUF file (no "GGUF" magic)`, { file });
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    // A byte-swapped small number is a big-endian file (GGUF allows them; we read little-endian only).
    const swapped = ((version & 0xff) << 24) | (((version >>> 8) & 0xff) << 16) | (((version >>> 16) & 0xff) << 8) | (version >>> 24);
    const why =
      swapped >= 1 && swapped <= 3
        ? 'big-endian GGUF files are not supported'
        : version === 1
          ? 'GGUF v1 is not supported (v2 and v3 are)'
          : `unknown GGUF version ${version}`;
    throw new WeightWatcherError('E_UNSUPPORTED', `${file}: ${why}`, { file });
  }
  const tensorCount = c.size('tensor count');
  const kvCount = c.size('metadata count');
  // Each key/value takes ≥ 13 bytes and each tensor info ≥ 24: counts beyond that are lies.
  if (kvCount * 13 > c.remaining(fileSize)) throw corrupt(file, `header claims ${kvCount} metadata entries, more than the file can hold`);
  if (tensorCount * 24 > c.remaining(fileSize)) throw corrupt(file, `header claims ${tensorCount} tensors, more than the file can hold`);

  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`, 65535);
    const type = c.u32(`type of '${key}'`);
    if (metadata.has(key)) throw corrupt(file, `metadata key '${key}' appears twice`);
    metadata.set(key, readValue(c, type, key, 0, fileSize, file));
  }

  let alignment = DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw corrupt(
        file,
        `general.alignment must be a power-of-two integer, got ${typeof a === 'object' ? `an array of ${a.length} ${a.itemType}` : String(a)}`,
      );
    }
    alignment = a;
  }

  const raw: { name: string; ne: number[]; typeId: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`name of tensor #${i}`, 65535);
    const nDims = c.u32(`n_dims of '${name}'`);
    if (nDims > GGML_MAX_DIMS) throw corrupt(file, `tensor '${name}' has ${nDims} dimensions (at most ${GGML_MAX_DIMS})`, name);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.size(`ne[${d}] of '${name}'`));
    const typeId = c.u32(`type of '${name}'`);
    const offset = c.size(`offset of '${name}'`);
    raw.push({ name, ne, typeId, offset });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;

  const seen = new Set<string>();
  const tensors = raw.map(({ name, ne, typeId, offset }): TensorInfo => {
    if (seen.has(name)) throw corrupt(file, `tensor name '${name}' appears twice`, name);
    seen.add(name);
    const shape = [...ne].reverse();
    const count = located(() => shapeSize(shape, `${file}: tensor '${name}'`), file, name);
    const type = ggmlType(typeId);
    if (offset % alignment !== 0)
      throw corrupt(file, `tensor '${name}' data offset ${offset} is not a multiple of the alignment ${alignment}`, name);
    let bytes: number | undefined;
    if (type) {
      if ((ne[0] ?? 1) % type.blockSize !== 0) {
        throw corrupt(
          file,
          `tensor '${name}': row length ${ne[0] ?? 1} is not a multiple of the ${type.name} block size ${type.blockSize}`,
          name,
        );
      }
      bytes = ggmlByteSize(type, count);
      if (dataStart + offset + bytes > fileSize) {
        throw corrupt(
          file,
          `tensor '${name}' (${type.name} [${shape.join(', ')}]) needs bytes [${dataStart + offset}, ${dataStart + offset + bytes}) but the file has ${fileSize} (truncated?)`,
          name,
        );
      }
    }
    const entry: GgufTensorEntry = {
      name,
      dtype: type?.name ?? `GGML_TYPE_${typeId}`,
      shape,
      ggmlType: typeId,
      readableName: ggufReadableName(name),
    };
    return { entry, type, count, offset: dataStart + offset, bytes };
  });
  return { version, alignment, metadata, tensors };
}

function readValue(c: Cursor, type: number, key: string, depth: number, fileSize: number, file: string): GgufMetadataValue {
  const name = VALUE_TYPES[type];
  if (name === undefined) throw corrupt(file, `metadata '${key}' has unknown value type ${type}`);
  switch (name) {
    case 'UINT8':
      return c.u8(key);
    case 'INT8':
      return c.i8(key);
    case 'UINT16':
      return c.u16(key);
    case 'INT16':
      return c.i16(key);
    case 'UINT32':
      return c.u32(key);
    case 'INT32':
      return c.i32(key);
    case 'FLOAT32':
      return c.f32(key);
    case 'FLOAT64':
      return c.f64(key);
    case 'BOOL':
      return c.u8(key) !== 0;
    case 'UINT64':
      return smallest(c.u64(key));
    case 'INT64':
      return smallest(c.i64(key));
    case 'STRING':
      return c.string(key);
    case 'ARRAY': {
      if (depth >= MAX_ARRAY_NESTING) throw corrupt(file, `metadata '${key}' nests arrays more than ${MAX_ARRAY_NESTING} deep`);
      const itemTypeId = c.u32(`${key} item type`);
      const itemType = VALUE_TYPES[itemTypeId];
      if (itemType === undefined) throw corrupt(file, `metadata '${key}' has unknown array item type ${itemTypeId}`);
      const length = c.size(`${key} length`);
      if (length * VALUE_SIZES[itemTypeId]! > c.remaining(fileSize)) {
        throw corrupt(file, `metadata '${key}' claims ${length} items, more than the file can hold`);
      }
      const keep = length <= MAX_KEPT_ARRAY && itemType !== 'ARRAY';
      const values: (number | bigint | string | boolean)[] = [];
      for (let i = 0; i < length; i++) {
        if (keep) values.push(readValue(c, itemTypeId, key, depth + 1, fileSize, file) as number | bigint | string | boolean);
        else if (itemType === 'STRING') c.skipString(key);
        else if (itemType === 'ARRAY') readValue(c, itemTypeId, key, depth + 1, fileSize, file);
        else c.skip(VALUE_SIZES[itemTypeId]!, key);
      }
      return keep ? { type: 'array', itemType, length, values } : { type: 'array', itemType, length };
    }
  }
}

function smallest(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

async function readHeader(raf: RandomAccessFile): Promise<Header> {
  let length = Math.min(FIRST_HEADER_READ, raf.size);
  for (;;) {
    const bytes = await raf.read(0, length, 'GGUF header');
    try {
      return parseHeader(bytes, raf.size, raf.path);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
    if (length >= MAX_HEADER)
      throw new WeightWatcherError('E_UNSUPPORTED', `${raf.path}: GGUF header is larger than ${MAX_HEADER} bytes`, { file: raf.path });
    length = Math.min(length * 4, raf.size, MAX_HEADER);
  }
}

class GgufTensorStore implements GgufStore {
  readonly format = 'gguf';
  readonly convention = 'statedict' as const;
  private readonly byName: Map<string, TensorInfo>;
  private readonly entries: GgufTensorEntry[];

  constructor(
    private readonly file: RandomAccessFile,
    private readonly header: Header,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.entry.name, t]));
    this.entries = header.tensors.map((t) => t.entry);
  }

  get source(): string {
    return this.file.path;
  }
  get version(): number {
    return this.header.version;
  }
  get alignment(): number {
    return this.header.alignment;
  }
  get metadata(): ReadonlyMap<string, GgufMetadataValue> {
    return this.header.metadata;
  }

  list(): readonly GgufTensorEntry[] {
    return this.entries;
  }

  async read(name: string): Promise<Float32Array> {
    const t = this.byName.get(name);
    const file = this.source;
    if (!t) throw new WeightWatcherError('E_NOT_FOUND', `${file}: no tensor named '${name}'`, { file, tensor: name });
    if (!t.type || t.bytes === undefined || !canDequantize(t.type)) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${file}: tensor '${name}' has ggml type ${t.entry.dtype}, which cannot be dequantized (supported: ${supportedTypeNames().join(', ')})`,
        { file, tensor: name },
      );
    }
    if (t.count > MAX_DECODE || t.bytes > MAX_DECODE) {
      throw new WeightWatcherError('E_UNSUPPORTED', `${file}: tensor '${name}' has ${t.count} elements, too large to decode in one piece`, {
        file,
        tensor: name,
      });
    }
    const bytes = await this.file.read(t.offset, t.bytes, `data of '${name}'`);
    const type = t.type;
    return located(() => dequantize(type, bytes, t.count, `${file}: tensor '${name}'`), file, name);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Open a GGUF file: the header is parsed now, tensors are read and dequantized by `read()`. */
export async function openGguf(path: string): Promise<GgufStore> {
  const raf = await RandomAccessFile.open(path);
  try {
    return new GgufTensorStore(raf, await readHeader(raf));
  } catch (e) {
    await raf.close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Readable names

const GLOBAL_NAMES: Readonly<Record<string, string>> = {
  token_embd: 'embed_tokens',
  token_embd_norm: 'embed_tokens_norm',
  token_types: 'token_type_embeddings',
  position_embd: 'embed_positions',
  output_norm: 'norm',
  output: 'lm_head',
  rope_freqs: 'rope_freqs',
};

const BLOCK_NAMES: Readonly<Record<string, string>> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_qkv: 'self_attn.qkv_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  attn_rot_embd: 'self_attn.rotary_emb.inv_freq',
  ffn_norm: 'post_attention_layernorm',
  post_attention_norm: 'post_attention_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
  ffn_gate_inp: 'mlp.gate',
  ffn_gate_exps: 'mlp.experts.gate_proj',
  ffn_up_exps: 'mlp.experts.up_proj',
  ffn_down_exps: 'mlp.experts.down_proj',
  ffn_gate_shexp: 'mlp.shared_expert.gate_proj',
  ffn_up_shexp: 'mlp.shared_expert.up_proj',
  ffn_down_shexp: 'mlp.shared_expert.down_proj',
};

/**
 * Hugging Face-style name of a llama.cpp tensor, for display: `blk.3.attn_q.weight` →
 * `layers.3.self_attn.q_proj.weight`, `token_embd.weight` → `embed_tokens.weight`,
 * `output.weight` → `lm_head.weight`. Names it does not know are returned unchanged.
 */
export function ggufReadableName(name: string): string {
  const m = /^(?:blk\.(\d+)\.)?([A-Za-z0-9_]+)(\.(?:weight|bias|scale))?$/.exec(name);
  if (!m) return name;
  const [, layer, base, suffix = ''] = m;
  const mapped = layer === undefined ? GLOBAL_NAMES[base!] : BLOCK_NAMES[base!];
  if (mapped === undefined) return name;
  return layer === undefined ? `${mapped}${suffix}` : `layers.${layer}.${mapped}${suffix}`;
}
