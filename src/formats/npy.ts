/**
 * NumPy `.npy` (format 1.0/2.0/3.0) and `.npz` (ZIP of `.npy`) readers.
 *
 * The header is a Python dict literal; it is parsed by a small literal parser, never evaluated.
 * Fortran-ordered arrays are gathered into C order and big-endian data is byte-swapped, so
 * `read()` always returns row-major float32 like every other reader.
 */
import { basename } from 'node:path';
import { RandomAccessFile } from './file.js';
import { decodeToFloat32, shapeSize } from './decode.js';
import type { DType, TensorEntry, TensorStore } from './types.js';
import { ZipArchive, type ZipOptions, ZIP_STORED } from './zip.js';
import { WeightWatcherError } from '../shared/errors.js';
import { byteswapInPlace, gatherStrided } from '../shared/bytes.js';

// ---------------------------------------------------------------------------------------------
// .npy header

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const PREAMBLE_V1 = 10;
const PREAMBLE_V2 = 12;
/** numpy refuses headers over 10000 bytes by default (max_header_size); be a little more lenient. */
const MAX_HEADER = 1 << 16;

export interface NpyHeader {
  /** Reader dtype (F32, I64, …) or the raw descr (e.g. `<c8`, `|O`) when it cannot be decoded. */
  readonly dtype: DType;
  readonly supported: boolean;
  readonly itemSize: number;
  readonly bigEndian: boolean;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Byte offset of the data from the start of the .npy content. */
  readonly dataOffset: number;
  /** Byte length of the data (itemSize × element count). */
  readonly dataBytes: number;
}

const KIND_DTYPES: Record<string, DType | undefined> = {
  f2: 'F16',
  f4: 'F32',
  f8: 'F64',
  i1: 'I8',
  i2: 'I16',
  i4: 'I32',
  i8: 'I64',
  u1: 'U8',
  u2: 'U16',
  u4: 'U32',
  u8: 'U64',
  b1: 'BOOL',
};

/** Bytes needed to parse the header: call with the first PREAMBLE_V2 bytes. */
export function npyHeaderLength(head: Uint8Array, source: string): number {
  if (head.length < PREAMBLE_V1 || MAGIC.some((b, i) => head[i] !== b)) {
    throw new WeightWatcherError('E_FORMAT', `${source}: not a .npy file (missing \\x93NUMPY magic)`, { file: source });
  }
  const major = head[6]!;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (major === 1) return PREAMBLE_V1 + dv.getUint16(8, true);
  if (major !== 2 && major !== 3) {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${source}: .npy format version ${major}.${head[7]} is not supported (1.0, 2.0, 3.0 are)`,
      { file: source },
    );
  }
  if (head.length < PREAMBLE_V2) throw new WeightWatcherError('E_CORRUPT', `${source}: .npy preamble is truncated`, { file: source });
  const len = dv.getUint32(8, true);
  if (len > MAX_HEADER)
    throw new WeightWatcherError('E_UNSUPPORTED', `${source}: .npy header of ${len} bytes exceeds the ${MAX_HEADER}-byte limit`, {
      file: source,
    });
  return PREAMBLE_V2 + len;
}

/** Parse a complete .npy header (`bytes` holds at least npyHeaderLength bytes). */
export function parseNpyHeader(bytes: Uint8Array, source: string): NpyHeader {
  const total = npyHeaderLength(bytes, source);
  if (bytes.length < total)
    throw new WeightWatcherError('E_CORRUPT', `${source}: .npy header is truncated (${bytes.length} of ${total} bytes)`, { file: source });
  const preamble = bytes[6] === 1 ? PREAMBLE_V1 : PREAMBLE_V2;
  const text = new TextDecoder(bytes[6] === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(preamble, total));
  const bad = (msg: string): never => {
    throw new WeightWatcherError('E_CORRUPT', `${source}: invalid .npy header ${JSON.stringify(text.trim().slice(0, 200))}: ${msg}`, {
      file: source,
    });
  };
  const dict = parsePyLiteral(text, bad);
  if (!(dict instanceof Map)) return bad('expected a dict');
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shapeVal = dict.get('shape');
  if (typeof descr !== 'string') {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${source}: structured .npy dtypes are not supported (descr must be a plain type string)`,
      { file: source },
    );
  }
  if (typeof fortran !== 'boolean') return bad("'fortran_order' must be True or False");
  if (!Array.isArray(shapeVal) || !shapeVal.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    return bad("'shape' must be a tuple of non-negative integers");
  }
  const shape = shapeVal as number[];
  const m = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  const order = m?.[1];
  const kind = m?.[2];
  const itemSize = m ? Number(m[3]) : 0;
  const mapped = m ? KIND_DTYPES[`${kind}${itemSize}`] : undefined;
  const count = shapeSize(shape, source);
  return {
    dtype: mapped ?? descr,
    supported: mapped !== undefined,
    itemSize,
    bigEndian: order === '>' && itemSize > 1,
    fortranOrder: fortran,
    shape,
    dataOffset: total,
    dataBytes: mapped ? count * itemSize : 0,
  };
}

/** Turn the raw data of an array into row-major float32. */
export function decodeNpyData(data: Uint8Array, h: NpyHeader, what: string): Float32Array {
  if (!h.supported) {
    const why = h.dtype.includes('O') ? ' (object arrays hold pickles, which are never loaded)' : '';
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${what}: .npy dtype ${h.dtype} is not supported${why}; supported: float16/32/64, integer and bool types`,
    );
  }
  if (h.bigEndian) byteswapInPlace(data, h.itemSize);
  let bytes = data;
  if (h.fortranOrder && h.shape.length > 1) {
    // Column-major: the first index varies fastest.
    const strides: number[] = [];
    let s = 1;
    for (const d of h.shape) {
      strides.push(s);
      s *= d;
    }
    bytes = gatherStrided(data, h.itemSize, h.shape, strides);
  }
  return decodeToFloat32(bytes, h.dtype, shapeSize(h.shape), what);
}

// ---------------------------------------------------------------------------------------------
// Python literal parser: dicts, tuples, lists, strings, ints, True/False/None.

type PyLit = string | number | boolean | null | PyLit[] | Map<string, PyLit>;

const MAX_LITERAL_DEPTH = 16;

function parsePyLiteral(text: string, bad: (msg: string) => never): PyLit {
  let p = 0;
  const ws = (): void => {
    while (p < text.length && /\s/.test(text[p]!)) p++;
  };
  const value = (depth: number): PyLit => {
    if (depth > MAX_LITERAL_DEPTH) bad('nested too deeply');
    ws();
    const c = text[p];
    if (c === undefined) return bad('unexpected end');
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      p++;
      const items: PyLit[] = [];
      const map = new Map<string, PyLit>();
      for (;;) {
        ws();
        if (text[p] === close) {
          p++;
          break;
        }
        const v = value(depth + 1);
        if (c === '{') {
          ws();
          if (text[p++] !== ':') bad("expected ':'");
          if (typeof v !== 'string') bad('dict keys must be strings');
          map.set(v, value(depth + 1));
        } else {
          items.push(v);
        }
        ws();
        if (text[p] === ',') p++;
        else if (text[p] !== close) bad(`expected ',' or '${close}' at position ${p}`);
      }
      return c === '{' ? map : items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, p + 1);
      if (end < 0) bad('unterminated string');
      const s = text.slice(p + 1, end);
      if (s.includes('\\')) bad('escape sequences are not supported');
      p = end + 1;
      return s;
    }
    const m = /^(?:True|False|None|[+-]?\d{1,16}L?)/.exec(text.slice(p, p + 20));
    if (!m) return bad(`unexpected character ${JSON.stringify(c)} at position ${p}`);
    p += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  const v = value(0);
  ws();
  if (p !== text.length) bad(`unexpected text after the dict at position ${p}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Stores

interface NpyMember {
  readonly entry: TensorEntry;
  readonly header: NpyHeader;
  /** Raw data bytes of the array (a fresh buffer the decoder may modify). */
  readonly load: () => Promise<Uint8Array>;
}

class NpyStore implements TensorStore {
  readonly convention = 'statedict' as const;
  private readonly entries: readonly TensorEntry[];

  constructor(
    /** 'npy' for a single array, 'npz' for an archive. */
    readonly format: 'npy' | 'npz',
    readonly source: string,
    private readonly members: ReadonlyMap<string, NpyMember>,
    private readonly release: () => Promise<void>,
  ) {
    this.entries = [...members.values()].map((m) => m.entry);
  }

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  async read(name: string): Promise<Float32Array> {
    const m = this.members.get(name);
    if (!m) throw new WeightWatcherError('E_NOT_FOUND', `${this.source}: no array named ${name}`, { file: this.source, tensor: name });
    const what = `${this.source}: array ${name}`;
    if (!m.header.supported) return decodeNpyData(new Uint8Array(0), m.header, what);
    return decodeNpyData(await m.load(), m.header, what);
  }

  async close(): Promise<void> {
    await this.release();
  }
}

function checkDataLength(h: NpyHeader, available: number, source: string): void {
  if (h.supported && h.dataOffset + h.dataBytes > available) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${source}: .npy data needs ${h.dataBytes} bytes after a ${h.dataOffset}-byte header for shape [${h.shape.join(', ')}] ${h.dtype}, but only ${available - h.dataOffset} are present`,
      { file: source },
    );
  }
}

/** A single .npy file as a store holding one array named after the file (minus `.npy`). */
export async function openNpy(path: string): Promise<TensorStore> {
  const file = await RandomAccessFile.open(path);
  try {
    const headLen = npyHeaderLength(await file.read(0, Math.min(PREAMBLE_V2, file.size), '.npy preamble'), path);
    const header = parseNpyHeader(await file.read(0, Math.min(headLen, file.size), '.npy header'), path);
    checkDataLength(header, file.size, path);
    const name = basename(path).replace(/\.npy$/i, '');
    const member: NpyMember = {
      entry: { name, dtype: header.dtype, shape: header.shape },
      header,
      load: () => file.read(header.dataOffset, header.dataBytes, `array ${name}`),
    };
    return new NpyStore('npy', path, new Map([[name, member]]), () => file.close());
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** A .npz archive (stored or compressed): one array per `<name>.npy` member, in archive order. */
export async function openNpz(path: string, options: ZipOptions = {}): Promise<TensorStore> {
  const zip = await ZipArchive.open(path, options);
  try {
    const members = new Map<string, NpyMember>();
    for (const e of zip.entries()) {
      if (!e.name.endsWith('.npy')) continue;
      const name = e.name.slice(0, -4);
      if (members.has(name)) continue;
      const source = `${path}:${e.name}`;
      const headLen = npyHeaderLength(await zip.readEntryPrefix(e.name, PREAMBLE_V2), source);
      const header = parseNpyHeader(await zip.readEntryPrefix(e.name, headLen), source);
      checkDataLength(header, e.uncompressedSize, source);
      if (header.supported && e.method !== ZIP_STORED && e.uncompressedSize !== header.dataOffset + header.dataBytes) {
        // A compressed member is inflated whole; only accept the size its header accounts for.
        throw new WeightWatcherError(
          'E_CORRUPT',
          `${source}: compressed member declares ${e.uncompressedSize} bytes but its header describes ${header.dataOffset + header.dataBytes}`,
          { file: path, tensor: name },
        );
      }
      members.set(name, {
        entry: { name, dtype: header.dtype, shape: header.shape },
        header,
        load: () => zip.readEntryRange(e.name, header.dataOffset, header.dataBytes),
      });
    }
    return new NpyStore('npz', path, members, () => zip.close());
  } catch (e) {
    await zip.close();
    throw e;
  }
}
