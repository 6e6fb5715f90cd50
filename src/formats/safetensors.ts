/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the data block.
 * Only the header is read up front; each tensor is read by offset when asked for.
 *
 * Hostile headers (docs/security.md): the header is scanned in 1 MiB windows and parsed a window of
 * entries at a time, so a 100 MB header never exists as one string or one object tree; each tensor
 * is kept as a name, an interned shape and offsets in typed arrays (about 100 bytes per entry, so
 * 1M entries cost ~100 MB). As the format requires, names must be unique and no two tensors may
 * share bytes (overlapping data_offsets are E_CORRUPT, naming both tensors). Gaps between tensors
 * and trailing bytes are accepted (the Rust reader refuses them; they cannot make us read outside
 * the file).
 */
import { RandomAccessFile } from './file.js';
import { decodeToFloat32, dtypeSize, shapeSize, storedTensor } from './decode.js';
import { FLOAT_DTYPES, type StoredTensor, type TensorEntry, type TensorStore } from './types.js';
import { WeightWatcherError, withContext } from '../shared/errors.js';
import { compareCodePoints } from '../shared/text.js';
import { float64Column, uint8Column } from '../shared/columns.js';

/** Headers above this are refused (the reference implementation's limit too). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const SAFETENSORS_DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'I64',
  'I32',
  'I16',
  'I8',
  'U8',
  'U16',
  'U32',
  'U64',
  'BOOL',
  'F8_E4M3',
  'F8_E5M2',
] as const;
const DTYPE_INDEX: ReadonlyMap<string, number> = new Map(SAFETENSORS_DTYPES.map((d, i) => [d, i]));
/** Header bytes read per window. */
const WINDOW = 1 << 20;
/**
 * Members parsed per JSON.parse call. Small batches die young: a batch that outlives two scavenges
 * is promoted, and a 100 MB header would then leave ~200 MB of parsed garbage in the old space.
 */
const BATCH = 64 << 10;
/** Distinct shapes shared as one array each; beyond this (hostile headers) shapes are kept as parsed. */
const MAX_INTERNED_SHAPES = 4096;

/** A tensor of a safetensors file with where its bytes are. */
export interface SafetensorsTensor extends TensorEntry {
  /** Absolute file offset of its data. */
  readonly begin: number;
  readonly byteLength: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Reads the header object's members window by window: `onBatch` gets the JSON text of a run of
 * complete `"name": {…}` members (parsed as one object, about a window at a time) and how many
 * members it holds. Only the member boundaries are found here; JSON.parse checks the syntax.
 */
async function scanHeader(
  file: RandomAccessFile,
  start: number,
  length: number,
  bad: (msg: string) => WeightWatcherError,
  onBatch: (membersJson: string, count: number) => void,
): Promise<void> {
  const end = start + length;
  let buf = new Uint8Array(0);
  let bufStart = start; // file offset of buf[0]
  let pos = 0;
  // The members read but not yet handed to onBatch: buf[batchStart, batchEnd).
  let batchStart = -1;
  let batchEnd = -1;
  let count = 0;
  const where = () => `header byte ${bufStart + pos - start}`;

  /** Drop what is consumed and append the next window, at least as large as what is kept (so a long member is rescanned O(log) times). */
  const more = async (): Promise<boolean> => {
    const have = bufStart + buf.length;
    if (have >= end) return false;
    const anchor = batchStart >= 0 ? Math.min(batchStart, pos) : pos;
    const kept = buf.length - anchor;
    const chunk = await file.read(have, Math.min(Math.max(WINDOW, kept), end - have), 'JSON header');
    const next = new Uint8Array(kept + chunk.length);
    next.set(buf.subarray(anchor));
    next.set(chunk, kept);
    buf = next;
    bufStart += anchor;
    pos -= anchor;
    if (batchStart >= 0) {
      batchStart -= anchor;
      batchEnd -= anchor;
    }
    return true;
  };
  const flush = () => {
    if (count === 0) return;
    let text: string;
    try {
      text = utf8.decode(buf.subarray(batchStart, batchEnd));
    } catch (e) {
      throw bad(`header is not valid UTF-8 (${e instanceof Error ? e.message : String(e)})`);
    }
    onBatch(text, count);
    count = 0;
    batchStart = batchEnd = -1;
  };
  /** The next non-space byte (not consumed), or -1 at the end of the header. */
  const peek = async (): Promise<number> => {
    for (;;) {
      while (pos < buf.length && isSpace(buf[pos]!)) pos++;
      if (pos < buf.length) return buf[pos]!;
      if (!(await more())) return -1;
    }
  };
  /** End (exclusive) of the string starting at `from` (a '"'), or -1 if the buffer ends first. */
  const stringEnd = (from: number): number => {
    for (let i = from + 1; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === 0x5c) i++;
      else if (c === 0x22) return i + 1;
    }
    return -1;
  };
  /** End (exclusive) of the JSON value starting at `from`, or -1 if the buffer ends first. */
  const valueEnd = (from: number): number => {
    let depth = 0;
    for (let i = from; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === 0x22) {
        const e = stringEnd(i);
        if (e < 0) return -1;
        if (depth === 0) return e;
        i = e - 1;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) return i; // a scalar ended by the object's closing brace
        if (--depth === 0) return i + 1;
      } else if (c === 0x2c && depth === 0) return i;
    }
    return -1;
  };
  /** End (exclusive) of the member `"name": value` starting at `from`, or -1 if the buffer ends first. */
  const memberEnd = (from: number): number => {
    let p = stringEnd(from);
    if (p < 0) return -1;
    while (p < buf.length && isSpace(buf[p]!)) p++;
    if (p >= buf.length) return -1;
    if (buf[p] !== 0x3a) throw bad(`expected ':' after a tensor name at header byte ${bufStart + p - start}`);
    p++;
    while (p < buf.length && isSpace(buf[p]!)) p++;
    return p < buf.length ? valueEnd(p) : -1;
  };

  if ((await peek()) !== 0x7b) throw bad('header is not a JSON object');
  pos++;
  let c = await peek();
  if (c === 0x7d) pos++;
  else {
    for (;;) {
      if (c !== 0x22) throw bad(c < 0 ? 'header ends inside its object (truncated JSON)' : `expected a tensor name at ${where()}`);
      let e: number;
      while ((e = memberEnd(pos)) < 0) if (!(await more())) throw bad('header ends inside a tensor entry (truncated JSON)');
      if (batchStart < 0) batchStart = pos;
      pos = batchEnd = e;
      count++;
      if (batchEnd - batchStart >= BATCH) flush();
      c = await peek();
      if (c === 0x2c) {
        pos++;
        c = await peek();
      } else if (c === 0x7d) {
        pos++;
        flush();
        break;
      } else
        throw bad(
          c < 0
            ? 'header ends before its closing brace (truncated JSON)'
            : `unexpected '${String.fromCharCode(c)}' after a tensor entry at ${where()}`,
        );
    }
  }
  // Only padding may follow the object.
  if ((await peek()) >= 0) throw bad(`unexpected data after the header object at ${where()}`);
}

export class SafetensorsFile {
  private byName: Map<string, number> | undefined;
  private sortedEntries: TensorEntry[] | undefined;
  private located: Map<string, SafetensorsTensor> | undefined;

  private constructor(
    readonly path: string,
    private readonly file: RandomAccessFile,
    /** Tensor names in header order (integer-like names first, as JSON objects order them). */
    private readonly names: readonly string[],
    private readonly dtypes: Uint8Array,
    private readonly shapes: readonly (readonly number[])[],
    private readonly begins: Float64Array,
    private readonly lengths: Float64Array,
    /** Offset of the data block (data_offsets are relative to it): 8 + the header length. */
    readonly dataStart: number,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const file = await RandomAccessFile.open(path);
    try {
      return await SafetensorsFile.parse(path, file);
    } catch (e) {
      await file.close();
      throw withContext(e, { file: path });
    }
  }

  /** A safetensors file behind any positioned reader (HTTP range requests: hub/stream.ts); closed on failure. */
  static async fromFile(file: RandomAccessFile): Promise<SafetensorsFile> {
    try {
      return await SafetensorsFile.parse(file.path, file);
    } catch (e) {
      await file.close();
      throw withContext(e, { file: file.path });
    }
  }

  private static async parse(path: string, file: RandomAccessFile): Promise<SafetensorsFile> {
    const bad = (msg: string) => new WeightWatcherError('E_CORRUPT', `${path}: not a valid safetensors file: ${msg}`, { file: path });
    if (file.size < 8)
      throw new WeightWatcherError('E_FORMAT', `${path}: not a safetensors file (only ${file.size} bytes)`, { file: path });
    const lenBytes = await file.read(0, 8, 'header length');
    const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > file.size - 8) {
      throw new WeightWatcherError(
        'E_FORMAT',
        `${path}: not a safetensors file (header length ${headerLen} does not fit a file of ${file.size} bytes)`,
        { file: path },
      );
    }
    const dataStart = 8 + headerLen;
    const dataSize = file.size - dataStart;
    const names: string[] = [];
    const dtypes = uint8Column();
    const shapes: (readonly number[])[] = [];
    const begins = float64Column();
    const lengths = float64Column();
    const interned = new Map<string, readonly number[]>();
    let metadata: Record<string, string> = {};
    let metadataSeen = false;

    const entry = (name: string, raw: unknown) => {
      if (name === '__metadata__') {
        if (metadataSeen) throw bad('__metadata__ appears twice');
        metadataSeen = true;
        if (raw && typeof raw === 'object' && !Array.isArray(raw))
          metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
        return;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!t || typeof t !== 'object') throw bad(`entry "${name}" is not an object`);
      const dtype = typeof t.dtype === 'string' ? DTYPE_INDEX.get(t.dtype) : undefined;
      if (dtype === undefined) throw bad(`tensor "${name}" has unknown dtype ${JSON.stringify(t.dtype)}`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        throw bad(`tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`);
      const off = t.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
        throw bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
      }
      const [b, e] = off as [number, number];
      if (e > dataSize) throw bad(`tensor "${name}" data [${b}, ${e}) extends past the end of the data block (${dataSize} bytes)`);
      const shape = t.shape as number[];
      const dtypeName = SAFETENSORS_DTYPES[dtype]!;
      const expected = shapeSize(shape, `${path}: tensor "${name}"`) * (dtypeSize(dtypeName) ?? 1);
      if (expected !== e - b)
        throw bad(`tensor "${name}" ${dtypeName}[${shape.join(', ')}] needs ${expected} bytes but data_offsets span ${e - b}`);
      const key = shape.join(',');
      let shared = interned.get(key);
      if (!shared && interned.size < MAX_INTERNED_SHAPES) interned.set(key, (shared = Object.freeze(shape)));
      names.push(name);
      dtypes.push(dtype);
      shapes.push(shared ?? shape);
      begins.push(dataStart + b);
      lengths.push(e - b);
    };

    await scanHeader(file, 8, headerLen, bad, (json, count) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(`{${json}}`) as Record<string, unknown>;
      } catch (e) {
        throw bad(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
      }
      let n = 0;
      for (const name in parsed) {
        n++;
        entry(name, parsed[name]);
      }
      if (n !== count) throw bad('a tensor name appears twice in the header');
    });
    const st = new SafetensorsFile(path, file, names, dtypes.toArray(), shapes, begins.toArray(), lengths.toArray(), dataStart, metadata);
    st.checkUniqueAndDisjoint(bad);
    return st;
  }

  /** Names are unique (across windows) and no two tensors share a byte. */
  private checkUniqueAndDisjoint(bad: (msg: string) => WeightWatcherError): void {
    const sorted = this.entriesInNameOrder();
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.name === sorted[i - 1]!.name) throw bad(`tensor name "${sorted[i]!.name}" appears twice in the header`);
    let nonEmpty = 0;
    for (let i = 0; i < this.names.length; i++) if (this.lengths[i]! > 0) nonEmpty++;
    const order = new Uint32Array(nonEmpty);
    for (let i = 0, k = 0; i < this.names.length; i++) if (this.lengths[i]! > 0) order[k++] = i;
    order.sort((i, j) => this.begins[i]! - this.begins[j]! || this.lengths[i]! - this.lengths[j]! || i - j);
    let last = -1;
    for (const i of order) {
      if (last >= 0 && this.begins[i]! < this.begins[last]! + this.lengths[last]!) {
        const range = (k: number) => `[${this.begins[k]! - this.dataStart}, ${this.begins[k]! - this.dataStart + this.lengths[k]!})`;
        throw new WeightWatcherError(
          'E_CORRUPT',
          `${this.path}: not a valid safetensors file: tensors "${this.names[last]}" ${range(last)} and "${this.names[i]}" ${range(i)} overlap (data_offsets must not share bytes)`,
          { file: this.path, tensor: this.names[i]! },
        );
      }
      if (last < 0 || this.begins[i]! + this.lengths[i]! > this.begins[last]! + this.lengths[last]!) last = i;
    }
  }

  /** Number of tensors. */
  get count(): number {
    return this.names.length;
  }

  /** File size in bytes. */
  get size(): number {
    return this.file.size;
  }

  /** Raw bytes [offset, offset + length) of the file (bounds-checked). */
  readRange(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    return this.file.read(offset, length, what);
  }

  private entryAt(i: number): SafetensorsTensor {
    return {
      name: this.names[i]!,
      dtype: SAFETENSORS_DTYPES[this.dtypes[i]!]!,
      shape: this.shapes[i]!,
      begin: this.begins[i]!,
      byteLength: this.lengths[i]!,
    };
  }

  /** Tensors sorted by name in code-point order (Python's sorted(keys())), created once. */
  entriesInNameOrder(): readonly TensorEntry[] {
    if (!this.sortedEntries) {
      const entries: TensorEntry[] = this.names.map((name, i) => ({
        name,
        dtype: SAFETENSORS_DTYPES[this.dtypes[i]!]!,
        shape: this.shapes[i]!,
      }));
      // Plain comparison is code-point order unless a name holds surrogates or chars ≥ U+E000.
      const simple = this.names.every((n) => !/[\ud800-\uffff]/.test(n));
      entries.sort(simple ? (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : (a, b) => compareCodePoints(a.name, b.name));
      this.sortedEntries = entries;
    }
    return this.sortedEntries;
  }

  /** Tensor names in header order. */
  tensorNames(): readonly string[] {
    return this.names;
  }

  has(name: string): boolean {
    return this.index(name) !== undefined;
  }

  /** The entry of `name` (name, dtype, shape, file offset, byte length), or undefined. */
  tensor(name: string): SafetensorsTensor | undefined {
    const i = this.index(name);
    return i === undefined ? undefined : this.entryAt(i);
  }

  /** Every tensor by name, in header order (built on first use: a million entries cost ~100 MB). */
  get tensors(): ReadonlyMap<string, SafetensorsTensor> {
    this.located ??= new Map(this.names.map((n, i) => [n, this.entryAt(i)]));
    return this.located;
  }

  private index(name: string): number | undefined {
    this.byName ??= new Map(this.names.map((n, i) => [n, i]));
    return this.byName.get(name);
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
    const t = this.tensor(name);
    if (t && t.dtype === 'F64') return undefined;
    const read = await this.readBytes(name);
    try {
      return storedTensor(read.bytes, read.t.dtype, shapeSize(read.t.shape), `${this.path}: tensor "${name}"`);
    } catch (e) {
      throw withContext(e, { file: this.path, tensor: name });
    }
  }

  private async readBytes(name: string): Promise<{ t: SafetensorsTensor; bytes: Uint8Array }> {
    const t = this.tensor(name);
    if (!t) throw new WeightWatcherError('E_NOT_FOUND', `${this.path}: no tensor named "${name}"`, { file: this.path, tensor: name });
    // Listed (they consume layer ids) but not decoded: weights are expected in a float dtype.
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${this.path}: tensor "${name}" has dtype ${t.dtype}; supported dtypes are F64, F32, F16, BF16`,
        { file: this.path, tensor: name },
      );
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
  private readonly entries: readonly TensorEntry[];

  constructor(
    /** The files, in the order they were given (shard order). */
    readonly files: readonly SafetensorsFile[],
    order?: readonly string[],
  ) {
    if (order) {
      this.entries = order.map((k) => {
        const f = this.fileOf(k);
        const t = f?.tensor(k);
        return t ? { name: t.name, dtype: t.dtype, shape: t.shape } : { name: k, dtype: 'F32', shape: [] };
      });
    } else {
      // The first file that has a key owns it (a later duplicate is not listed twice).
      const seen = files.length > 1 ? new Set<string>() : undefined;
      this.entries = files.flatMap((f) => f.entriesInNameOrder().filter((e) => !seen || (!seen.has(e.name) && (seen.add(e.name), true))));
    }
  }

  /** The file holding a tensor (the first one, when several do). */
  fileOf(name: string): SafetensorsFile | undefined {
    return this.files.find((f) => f.has(name));
  }

  get source(): string {
    return this.files.map((f) => f.path).join(', ');
  }

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  read(name: string): Promise<Float32Array> {
    const f = this.fileOf(name);
    if (!f) return Promise.reject(new WeightWatcherError('E_NOT_FOUND', `${this.source}: no tensor named "${name}"`, { tensor: name }));
    return f.readFloat32(name);
  }

  readStored(name: string): Promise<StoredTensor | undefined> {
    const f = this.fileOf(name);
    if (!f) return Promise.reject(new WeightWatcherError('E_NOT_FOUND', `${this.source}: no tensor named "${name}"`, { tensor: name }));
    return f.readStored(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}
