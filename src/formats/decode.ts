/**
 * Little-endian element decoding to float32, shared by every reader. Half floats are widened
 * exactly (every F16 and BF16 value is representable in float32).
 */
import { WeightWatcherError } from '../shared/errors.js';
import type { StoredTensor } from './types.js';

/** Bytes per element of the plain (non-quantized) dtypes, or undefined for unknown ones. */
export function dtypeSize(dtype: string): number | undefined {
  switch (dtype) {
    case 'F64':
    case 'I64':
    case 'U64':
      return 8;
    case 'F32':
    case 'I32':
    case 'U32':
      return 4;
    case 'F16':
    case 'BF16':
    case 'I16':
    case 'U16':
      return 2;
    case 'I8':
    case 'U8':
    case 'BOOL':
      return 1;
    default:
      return undefined;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Lookup: Float32Array | undefined;

/**
 * 65536-entry F16 → F32 lookup: exact, and faster than bit-twiddling per element. Built on first
 * use, not at import (it takes ~10 ms, which every `import 'weightwatcher'` would pay).
 */
function f16Table(): Float32Array {
  if (f16Lookup) return f16Lookup;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Lookup = t;
  return t;
}

export function f16ToF32(bits: number): number {
  return (f16Lookup ?? f16Table())[bits & 0xffff]!;
}

/**
 * Decode `count` elements of `dtype` from `bytes` (little-endian) into a new Float32Array.
 * Integer dtypes are converted by value (the reference converts any tensor with numpy .astype).
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: string, count: number, what = 'tensor'): Float32Array {
  const size = dtypeSize(dtype);
  if (size === undefined) {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${what}: dtype ${dtype} is not supported (supported: F64, F32, F16, BF16 and integer types)`,
    );
  }
  if (bytes.byteLength !== count * size) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${what}: expected ${count * size} bytes for ${count} ${dtype} values, got ${bytes.byteLength}`,
    );
  }
  // Aligned little-endian F32 needs no conversion: return a view instead of a second copy (the
  // bytes come from a buffer the reader allocated for this tensor and nobody mutates).
  if (dtype === 'F32' && bytes.byteOffset % 4 === 0 && LITTLE_ENDIAN) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'F16': {
      const table = f16Table();
      for (let i = 0; i < count; i++) out[i] = table[dv.getUint16(i * 2, true)]!;
      break;
    }
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'U64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'U32':
      for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'U16':
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = bytes[i]!;
      break;
  }
  return out;
}

const NATIVE_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16']);

/** The bytes as a StoredTensor when the native addon converts their dtype itself, else undefined. */
export function storedTensor(bytes: Uint8Array, dtype: string, count: number, what = 'tensor'): StoredTensor | undefined {
  if (!NATIVE_DTYPES.has(dtype) || !LITTLE_ENDIAN) return undefined;
  if (bytes.byteLength !== count * dtypeSize(dtype)!) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${what}: expected ${count * dtypeSize(dtype)!} bytes for ${count} ${dtype} values, got ${bytes.byteLength}`,
    );
  }
  return { dtype: dtype as StoredTensor['dtype'], bytes };
}

/** Product of a shape's dimensions, validated to be a safe non-negative integer. */
export function shapeSize(shape: readonly number[], what = 'tensor'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new WeightWatcherError('E_CORRUPT', `${what}: invalid dimension ${String(d)} in shape [${shape.join(', ')}]`);
    }
    n *= d;
    if (!Number.isSafeInteger(n)) throw new WeightWatcherError('E_CORRUPT', `${what}: shape [${shape.join(', ')}] is too large`);
  }
  return n;
}
