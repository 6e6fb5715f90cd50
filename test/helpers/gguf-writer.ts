/**
 * A small GGUF writer for test fixtures: little-endian v2/v3 files with metadata, float tensors
 * and ggml block-quantized tensors (quantized with test/helpers/ggml-quantize.ts), or raw bytes.
 */
import { writeFile } from 'node:fs/promises';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { shapeSize } from '../../src/formats/decode.js';
import { ggmlType, ggmlTypeByName } from '../../src/formats/ggml-quants.js';
import { DEFAULT_ALIGNMENT, MAGIC, VALUE_TYPES, type GgufValueType } from '../../src/formats/gguf.js';
import { quantize } from './ggml-quantize.js';

/** A metadata value for `writeGguf`: strings and booleans as is, numbers with an explicit type. */
export type GgufWriteValue =
  | string
  | boolean
  | { type: Exclude<GgufValueType, 'ARRAY' | 'STRING' | 'BOOL'>; value: number | bigint }
  | { type: 'ARRAY'; itemType: Exclude<GgufValueType, 'ARRAY'>; values: readonly (number | bigint | string | boolean)[] };

export interface GgufWriteTensor {
  name: string;
  /** Row-major shape (written as ne = shape reversed). */
  shape: readonly number[];
  /** ggml type name ('F32', 'Q4_K', …) or id. */
  type: string | number;
  /** Values to quantize to `type`… */
  data?: Float32Array;
  /** …or the encoded bytes as they must appear in the file (hand-built blocks, unknown types). */
  raw?: Uint8Array;
}

export interface GgufWriteOptions {
  /** Format version, 2 or 3 (default 3). */
  version?: 2 | 3;
}

/**
 * Write a little-endian GGUF file. `data` is quantized with the encoders of ggml-quantize.ts; `raw`
 * bytes are written untouched. `general.alignment` in `metadata` (UINT32) sets the alignment.
 */
export async function writeGguf(
  path: string,
  tensors: readonly GgufWriteTensor[],
  metadata: Readonly<Record<string, GgufWriteValue>> = {},
  options: GgufWriteOptions = {},
): Promise<void> {
  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(options.version ?? 3);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  let alignment = DEFAULT_ALIGNMENT;
  for (const [key, value] of Object.entries(metadata)) {
    w.string(key);
    writeValue(w, value, true);
    if (key === 'general.alignment' && typeof value === 'object' && value.type === 'UINT32') alignment = Number(value.value);
  }
  const payloads = tensors.map((t) => {
    const type = typeof t.type === 'number' ? ggmlType(t.type) : ggmlTypeByName(t.type);
    const typeId = typeof t.type === 'number' ? t.type : type?.id;
    if (typeId === undefined) throw new WeightWatcherError('E_USAGE', `writeGguf: unknown ggml type ${String(t.type)} for '${t.name}'`);
    let bytes: Uint8Array;
    if (t.raw) bytes = t.raw;
    else if (t.data && type) {
      if (t.data.length !== shapeSize(t.shape, t.name))
        throw new WeightWatcherError('E_SHAPE', `writeGguf: '${t.name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
      // Blocks run along ne[0], the last row-major dimension.
      if ((t.shape[t.shape.length - 1] ?? 1) % type.blockSize !== 0)
        throw new WeightWatcherError('E_SHAPE', `writeGguf: '${t.name}' rows are not whole ${type.name} blocks`);
      bytes = quantize(type, t.data, t.name);
    } else throw new WeightWatcherError('E_USAGE', `writeGguf: '${t.name}' needs data (with a known type) or raw bytes`);
    return { t, typeId, bytes };
  });
  let offset = 0;
  for (const { t, typeId, bytes } of payloads) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(typeId);
    w.u64(offset);
    offset += Math.ceil(bytes.length / alignment) * alignment;
  }
  w.pad(alignment);
  for (const { bytes } of payloads) {
    w.bytes(bytes);
    w.pad(alignment);
  }
  await writeFile(path, w.finish());
}

function writeValue(w: ByteWriter, value: GgufWriteValue | number | bigint, withType: boolean, as?: GgufValueType): void {
  const type: GgufValueType =
    as ?? (typeof value === 'string' ? 'STRING' : typeof value === 'boolean' ? 'BOOL' : (value as { type: GgufValueType }).type);
  if (withType) w.u32(VALUE_TYPES.indexOf(type));
  const scalar = typeof value === 'object' && 'value' in value ? value.value : value;
  switch (type) {
    case 'STRING':
      w.string(typeof scalar === 'object' ? JSON.stringify(scalar) : String(scalar));
      return;
    case 'BOOL':
      w.u8(scalar ? 1 : 0);
      return;
    case 'UINT8':
      w.u8(Number(scalar));
      return;
    case 'INT8':
      w.view(1, (dv) => dv.setInt8(0, Number(scalar)));
      return;
    case 'UINT16':
      w.view(2, (dv) => dv.setUint16(0, Number(scalar), true));
      return;
    case 'INT16':
      w.view(2, (dv) => dv.setInt16(0, Number(scalar), true));
      return;
    case 'UINT32':
      w.u32(Number(scalar));
      return;
    case 'INT32':
      w.view(4, (dv) => dv.setInt32(0, Number(scalar), true));
      return;
    case 'FLOAT32':
      w.view(4, (dv) => dv.setFloat32(0, Number(scalar), true));
      return;
    case 'FLOAT64':
      w.view(8, (dv) => dv.setFloat64(0, Number(scalar), true));
      return;
    case 'UINT64':
      w.view(8, (dv) => dv.setBigUint64(0, BigInt(scalar as number | bigint), true));
      return;
    case 'INT64':
      w.view(8, (dv) => dv.setBigInt64(0, BigInt(scalar as number | bigint), true));
      return;
    case 'ARRAY': {
      const arr = value as Extract<GgufWriteValue, { type: 'ARRAY' }>;
      w.u32(VALUE_TYPES.indexOf(arr.itemType));
      w.u64(arr.values.length);
      for (const v of arr.values) writeValue(w, v, false, arr.itemType);
    }
  }
}

/** Growable little-endian byte buffer for the writer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 12);
  private length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  view(n: number, write: (dv: DataView) => void): void {
    const at = this.reserve(n);
    write(new DataView(this.buf.buffer, at, n));
  }

  u8(v: number): void {
    this.view(1, (dv) => dv.setUint8(0, v));
  }
  u32(v: number): void {
    this.view(4, (dv) => dv.setUint32(0, v, true));
  }
  u64(v: number): void {
    this.view(8, (dv) => dv.setBigUint64(0, BigInt(v), true));
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length); // may replace this.buf
    this.buf.set(b, at);
  }

  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  pad(alignment: number): void {
    this.reserve((alignment - (this.length % alignment)) % alignment);
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
