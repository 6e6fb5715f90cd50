/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the data block.
 * Only the header is read up front; each tensor is read by offset when asked for.
 */
import { RandomAccessFile } from './file.js';
import { decodeToFloat32, dtypeSize, shapeSize, storedTensor } from './decode.js';
import { FLOAT_DTYPES, type StoredTensor, type TensorEntry, type TensorStore } from './types.js';
import { WeightWatcherError, withContext } from '../shared/errors.js';
import { compareCodePoints } from '../shared/text.js';

/** Headers above this are refused: real ones are a few MB even for 100k-tensor checkpoints. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const SAFETENSORS_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);

/** A tensor of a safetensors file with where its bytes are. */
export interface SafetensorsTensor extends TensorEntry {
  /** Absolute file offset of its data. */
  readonly begin: number;
  readonly byteLength: number;
}

type Located = SafetensorsTensor;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly file: RandomAccessFile,
    /** Tensors in header (JSON) order. */
    readonly tensors: ReadonlyMap<string, Located>,
    readonly metadata: Readonly<Record<string, string>>,
    /** Offset of the data block: 8 + the header length. */
    readonly dataStart: number,
  ) {}

  /** File size in bytes. */
  get size(): number {
    return this.file.size;
  }

  /** Raw bytes [offset, offset + length) of the file (bounds-checked). */
  readRange(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    return this.file.read(offset, length, what);
  }

  static async open(path: string): Promise<SafetensorsFile> {
    const file = await RandomAccessFile.open(path);
    try {
      return await SafetensorsFile.parse(path, file);
    } catch (e) {
      await file.close();
      throw withContext(e, { file: path });
    }
  }

  private static async parse(path: string, file: RandomAccessFile): Promise<SafetensorsFile> {
    const bad = (msg: string) => new WeightWatcherError('E_CORRUPT', `${path}: not a valid safetensors file: ${msg}`, { file: path });
    if (file.size < 8) throw new WeightWatcherError('E_FORMAT', `${path}: not a safetensors file (only ${file.size} bytes)`, { file: path });
    const lenBytes = await file.read(0, 8, 'header length');
    const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > file.size - 8) {
      throw new WeightWatcherError('E_FORMAT', `${path}: not a safetensors file (header length ${headerLen} does not fit a file of ${file.size} bytes)`, { file: path });
    }
    const headerBytes = await file.read(8, headerLen, 'JSON header');
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes).replace(/\s+$/, ''));
    } catch (e) {
      throw bad(`header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataSize = file.size - dataStart;
    const tensors = new Map<string, Located>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (raw && typeof raw === 'object' && !Array.isArray(raw)) metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
        continue;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!t || typeof t !== 'object') throw bad(`entry "${name}" is not an object`);
      if (typeof t.dtype !== 'string' || !SAFETENSORS_DTYPES.has(t.dtype)) throw bad(`tensor "${name}" has unknown dtype ${JSON.stringify(t.dtype)}`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`);
      const off = t.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
        throw bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
      }
      const [b, e] = off as [number, number];
      if (e > dataSize) throw bad(`tensor "${name}" data [${b}, ${e}) extends past the end of the data block (${dataSize} bytes)`);
      const shape = t.shape as number[];
      const elemSize = dtypeSize(t.dtype) ?? 1;
      const expected = shapeSize(shape, `${path}: tensor "${name}"`) * elemSize;
      if (expected !== e - b) throw bad(`tensor "${name}" ${t.dtype}[${shape.join(', ')}] needs ${expected} bytes but data_offsets span ${e - b}`);
      tensors.set(name, { name, dtype: t.dtype, shape, begin: dataStart + b, byteLength: e - b });
    }
    return new SafetensorsFile(path, file, tensors, metadata, dataStart);
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const { t, bytes } = await this.readBytes(name);
    try {
      return decodeToFloat32(bytes, t.dtype, shapeSize(t.shape), `${this.path}: tensor "${name}"`);
    } catch (e) {
      throw withContext(e, { file: this.path, tensor: name });
    }
  }

  /** The tensor's bytes for the native addon to convert (F32/F16/BF16), or undefined (F64: use readFloat32). */
  async readStored(name: string): Promise<StoredTensor | undefined> {
    const t = this.tensors.get(name);
    if (t && t.dtype === 'F64') return undefined;
    const read = await this.readBytes(name);
    try {
      return storedTensor(read.bytes, read.t.dtype, shapeSize(read.t.shape), `${this.path}: tensor "${name}"`);
    } catch (e) {
      throw withContext(e, { file: this.path, tensor: name });
    }
  }

  private async readBytes(name: string): Promise<{ t: Located; bytes: Uint8Array }> {
    const t = this.tensors.get(name);
    if (!t) throw new WeightWatcherError('E_NOT_FOUND', `${this.path}: no tensor named "${name}"`, { file: this.path, tensor: name });
    // Listed (they consume layer ids) but not decoded: weights are expected in a float dtype.
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new WeightWatcherError('E_UNSUPPORTED', `${this.path}: tensor "${name}" has dtype ${t.dtype}; supported dtypes are F64, F32, F16, BF16`, { file: this.path, tensor: name });
    }
    return { t, bytes: await this.file.read(t.begin, t.byteLength, `tensor "${name}"`) };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * One or more safetensors files seen as one state dict. `order` is the iteration order the
 * reference uses (sorted keys per file, or the layer map of an index); keys missing from every
 * file are listed with an empty shape so they consume an id like in the reference.
 */
export class SafetensorsStore implements TensorStore {
  readonly format = 'safetensors';
  readonly convention = 'statedict' as const;
  private readonly entries: TensorEntry[];
  private readonly owner = new Map<string, SafetensorsFile>();

  constructor(
    /** The files, in the order they were given (shard order). */
    readonly files: readonly SafetensorsFile[],
    order?: readonly string[],
  ) {
    for (const f of files) for (const k of f.tensors.keys()) if (!this.owner.has(k)) this.owner.set(k, f);
    const keys = order ?? files.flatMap((f) => [...f.tensors.keys()].sort(compareCodePoints));
    this.entries = keys.map((k) => this.owner.get(k)?.tensors.get(k) ?? { name: k, dtype: 'F32', shape: [] });
  }

  get source(): string {
    return this.files.map((f) => f.path).join(', ');
  }

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  /** The file holding a tensor (the first one, when several do). */
  fileOf(name: string): SafetensorsFile | undefined {
    return this.owner.get(name);
  }

  read(name: string): Promise<Float32Array> {
    const f = this.owner.get(name);
    if (!f) return Promise.reject(new WeightWatcherError('E_NOT_FOUND', `${this.source}: no tensor named "${name}"`, { tensor: name }));
    return f.readFloat32(name);
  }

  readStored(name: string): Promise<StoredTensor | undefined> {
    const f = this.owner.get(name);
    if (!f) return Promise.reject(new WeightWatcherError('E_NOT_FOUND', `${this.source}: no tensor named "${name}"`, { tensor: name }));
    return f.readStored(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}
