/** Writes small safetensors files for tests (F32 tensors, or any dtype as raw bytes; optional header/data tampering). */
import { writeFileSync } from 'node:fs';

export interface SafetensorsFixtureTensor {
  name: string;
  shape: number[];
  /** F32 values… */
  data?: Float32Array;
  /** …or the stored bytes of `dtype`. */
  bytes?: Uint8Array;
  /** Default F32. */
  dtype?: string;
}

function stored(t: SafetensorsFixtureTensor): Uint8Array {
  if (t.bytes) return t.bytes;
  if (!t.data) throw new Error(`safetensors fixture ${t.name}: give data or bytes`);
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export function safetensorsBytes(
  tensors: SafetensorsFixtureTensor[],
  headerOverride?: (h: Record<string, unknown>) => unknown,
): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    const b = stored(t);
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [off, off + b.byteLength] };
    off += b.byteLength;
  }
  const json = Buffer.from(JSON.stringify(headerOverride ? headerOverride(header) : header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((t) => stored(t))]);
}

export function writeSafetensors(
  path: string,
  tensors: SafetensorsFixtureTensor[],
  headerOverride?: (h: Record<string, unknown>) => unknown,
): string {
  writeFileSync(path, safetensorsBytes(tensors, headerOverride));
  return path;
}
