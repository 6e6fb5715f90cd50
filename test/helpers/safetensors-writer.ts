/** Writes small safetensors files for tests (F32 tensors; optional header/data tampering). */
import { writeFileSync } from 'node:fs';

export function safetensorsBytes(tensors: { name: string; shape: number[]; data: Float32Array }[], headerOverride?: (h: Record<string, unknown>) => unknown): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(headerOverride ? headerOverride(header) : header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

export function writeSafetensors(path: string, tensors: { name: string; shape: number[]; data: Float32Array }[], headerOverride?: (h: Record<string, unknown>) => unknown): string {
  writeFileSync(path, safetensorsBytes(tensors, headerOverride));
  return path;
}
