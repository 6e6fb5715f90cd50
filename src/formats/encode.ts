/**
 * Float64 values → the little-endian bytes of a float dtype, correctly rounded (round to nearest,
 * ties to even) straight from float64: F64 as is, F32 as a Float32Array store does it, F16 and BF16
 * with their own precision and exponent range (overflow → ±Inf, tiny values → subnormals / ±0).
 * Rounding F16/BF16 directly from float64, not through float32, avoids double rounding. The
 * inverse of decode.ts for the float dtypes; used by writers of modified weights.
 */
import { WeightWatcherError } from '../shared/errors.js';

/** Dtypes encodeFloats can write. */
export const ENCODABLE_DTYPES: ReadonlySet<string> = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Unit roundoff u (half an ulp of 1) of a float dtype: |fl(x) − x| ≤ u·|x| for normal x. */
export function unitRoundoff(dtype: string): number {
  switch (dtype) {
    case 'F64':
      return 2 ** -53;
    case 'F32':
      return 2 ** -24;
    case 'F16':
      return 2 ** -11;
    case 'BF16':
      return 2 ** -8;
    default:
      throw new WeightWatcherError('E_UNSUPPORTED', `dtype ${dtype} is not a float dtype (F64, F32, F16, BF16)`);
  }
}

const scratch = new Float64Array(1);
const scratchHi = new Uint32Array(scratch.buffer, 4, 1); // little-endian: the high word holds sign and exponent
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** Unbiased binary exponent of a finite double (−1023 for zero and subnormals). */
function exponentOf(x: number): number {
  scratch[0] = x;
  return ((scratchHi[0]! >>> 20) & 0x7ff) - 1023;
}

/** 2^e for every exponent a double can have, so rounding does not call Math.pow per element. */
const POW2_MIN = -1074;
const POW2 = Float64Array.from({ length: 1023 - POW2_MIN + 1 }, (_, i) => 2 ** (i + POW2_MIN));
const pow2 = (e: number) => POW2[e - POW2_MIN]!;

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f; // exact: q and f are within 1 of each other
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * x rounded to a binary format with `p` significand bits and minimum normal exponent `emin`
 * (subnormals below it), as a double; ±Infinity when the rounded magnitude exceeds `max`.
 */
function roundTo(x: number, p: number, emin: number, max: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const ulpExp = Math.max(exponentOf(a), emin) - (p - 1);
  // Scaling by powers of two is exact; the magnitude is rounded so that a tiny value keeps its sign as ±0.
  const r = roundHalfEven(a * pow2(-ulpExp)) * pow2(ulpExp);
  const m = r > max ? Infinity : r;
  return x < 0 ? -m : m;
}

const BF16_MAX = (2 - 2 ** -7) * 2 ** 127;
const F16_MAX = 65504;
const F16_MIN_NORMAL = 2 ** -14;

/** bfloat16 bits of x (correctly rounded from float64). */
export function bf16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  // Fast path: round to float32, then to bfloat16 on the bits. Double rounding can only go wrong
  // when the float32 value lands exactly on a bfloat16 midpoint (low half 0x8000); then round exactly.
  f32[0] = x;
  const b = f32Bits[0]!;
  if ((b & 0xffff) !== 0x8000) return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  f32[0] = roundTo(x, 8, -126, BF16_MAX); // exactly representable in float32
  return f32Bits[0]! >>> 16;
}

/** IEEE half-precision bits of x (correctly rounded from float64). */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = roundTo(x, 11, -14, F16_MAX);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) return sign | (a * 2 ** 24); // subnormal (or zero): an exact integer multiple of 2^-24
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | ((a * pow2(-e) - 1) * 1024);
}

/**
 * Encode `values` as `dtype` (F64, F32, F16 or BF16), little-endian, correctly rounded.
 * Throws E_UNSUPPORTED for other dtypes.
 */
export function encodeFloats(values: ArrayLike<number>, dtype: string, what = 'tensor'): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'F64': {
      const out = new Uint8Array(n * 8);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i]!, true);
      return out;
    }
    case 'F32': {
      const out = new Uint8Array(n * 4);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i]!, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const out = new Uint8Array(n * 2);
      const dv = new DataView(out.buffer);
      const bits = dtype === 'F16' ? f16Bits : bf16Bits;
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, bits(values[i]!), true);
      return out;
    }
    default:
      throw new WeightWatcherError('E_UNSUPPORTED', `${what}: cannot write dtype ${dtype} (writable float dtypes: F64, F32, F16, BF16)`);
  }
}
