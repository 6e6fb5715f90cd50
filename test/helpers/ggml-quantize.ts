/**
 * ggml quantizers, for writing GGUF test fixtures (test/helpers/gguf-writer.ts): Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1 and Q8_K follow ggml's `quantize_row_*_ref`; the other K-quants use plain
 * per-sub-block min/max scaling, which produces valid blocks but not llama.cpp's error-optimised
 * choices. The reader only dequantizes (src/formats/ggml-quants.ts).
 */
import { WeightWatcherError } from '../../src/shared/errors.js';
import { f16ToF32 } from '../../src/formats/decode.js';
import { QK, QK_K, ggmlByteSize, type GgmlType } from '../../src/formats/ggml-quants.js';

const f32View = new DataView(new ArrayBuffer(4));

const fround = Math.fround;

/** float32 → IEEE half bits, round to nearest even (as F16C / ggml's FP32_TO_FP16). */
export function f32ToF16(x: number): number {
  f32View.setFloat32(0, x, true);
  const bits = f32View.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the full mantissa, rounding half to even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const rounded = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rounded + (rem > halfway || (rem === halfway && rounded & 1) ? 1 : 0));
  }
  const rounded = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (rounded + (rem > 0x1000 || (rem === 0x1000 && rounded & 1) ? 1 : 0));
}

/** Half-float round trip of a float32: the value a stored f16 scale decodes to. */
function asHalf(x: number): number {
  return f16ToF32(f32ToF16(x));
}

/** C `roundf`: halves away from zero. */
function roundf(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

function putHalf(out: Uint8Array, o: number, x: number): void {
  const h = f32ToF16(x);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/** Value with the largest magnitude, keeping its sign (the first one on ties, as ggml). */
function signedAbsMax(x: Float32Array, from: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = from; j < from + n; j++) {
    const v = x[j]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, from: number, n: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = from; j < from + n; j++) {
    min = Math.min(min, x[j]!);
    max = Math.max(max, x[j]!);
  }
  return [min, max];
}

function orByte(out: Uint8Array, i: number, bits: number): void {
  out[i] = out[i]! | bits;
}

/** Encodes elements x[xo .. xo + blockSize) into the block at out[o ..]. */
type BlockEncoder = (x: Float32Array, xo: number, out: Uint8Array, o: number) => void;

const encodeQ8_0: BlockEncoder = (x, xo, out, o) => {
  const d = fround(Math.abs(signedAbsMax(x, xo, QK)) / 127);
  const id = d ? fround(1 / d) : 0;
  putHalf(out, o, d);
  for (let j = 0; j < QK; j++) out[o + 2 + j] = roundf(fround(x[xo + j]! * id)) & 0xff;
};

/** Q4_0 / Q5_0: symmetric, d = max / −2^(bits−1), q = trunc(x/d + 2^(bits−1) + 0.5). */
function encodeSymmetric(x: Float32Array, xo: number, out: Uint8Array, o: number, bits: 4 | 5): void {
  const levels = 1 << bits;
  const d = fround(signedAbsMax(x, xo, QK) / -(levels / 2));
  const id = d ? fround(1 / d) : 0;
  putHalf(out, o, d);
  const q = new Array<number>(QK);
  for (let j = 0; j < QK; j++) q[j] = Math.min(levels - 1, Math.trunc(fround(fround(x[xo + j]! * id) + (levels / 2 + 0.5))));
  packNibbles(q, out, o + (bits === 5 ? 6 : 2), bits === 5 ? o + 2 : undefined);
}

/** Q4_1 / Q5_1: affine, d = (max − min) / (2^bits − 1), m = min. */
function encodeAffine(x: Float32Array, xo: number, out: Uint8Array, o: number, bits: 4 | 5): void {
  const levels = 1 << bits;
  const [min, max] = minMax(x, xo, QK);
  const d = fround((max - min) / (levels - 1));
  const id = d ? fround(1 / d) : 0;
  putHalf(out, o, d);
  putHalf(out, o + 2, min);
  const q = new Array<number>(QK);
  for (let j = 0; j < QK; j++) q[j] = Math.min(levels - 1, Math.trunc(fround(fround(fround(x[xo + j]! - min) * id) + 0.5)));
  packNibbles(q, out, o + (bits === 5 ? 8 : 4), bits === 5 ? o + 4 : undefined);
}

/** Element j in the low nibble of byte j, element j+16 in the high one; 5th bits into qh (LE u32). */
function packNibbles(q: number[], out: Uint8Array, qsAt: number, qhAt: number | undefined): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const a = q[j]!;
    const b = q[j + 16]!;
    out[qsAt + j] = (a & 15) | ((b & 15) << 4);
    qh |= ((a >> 4) & 1) << j;
    qh |= ((b >> 4) & 1) << (j + 16);
  }
  if (qhAt !== undefined) for (let k = 0; k < 4; k++) out[qhAt + k] = (qh >>> (8 * k)) & 0xff;
}

/**
 * Per-sub-block affine parameters for the K-quants with mins (Q2_K, Q4_K, Q5_K): each sub-block of
 * `sub` elements gets scale (max − min)/(levels − 1) and min ≤ 0; both are then quantized to
 * `scaleBits` against super-block factors d and dmin. Returns the integer scales/mins and the
 * effective (decoded) d·sc and dmin·m for quantizing the elements.
 */
function affineSubBlocks(x: Float32Array, xo: number, sub: number, levels: number, scaleBits: number) {
  const nSub = QK_K / sub;
  const scales = new Array<number>(nSub);
  const mins = new Array<number>(nSub);
  for (let s = 0; s < nSub; s++) {
    const [mn, mx] = minMax(x, xo + s * sub, sub);
    const lo = Math.min(mn, 0);
    scales[s] = (mx - lo) / (levels - 1);
    mins[s] = -lo;
  }
  const top = (1 << scaleBits) - 1;
  const d = asHalf(Math.max(...scales) / top);
  const dmin = asHalf(Math.max(...mins) / top);
  const sc = scales.map((v) => (d ? Math.min(top, Math.round(v / d)) : 0));
  const m = mins.map((v) => (dmin ? Math.min(top, Math.round(v / dmin)) : 0));
  return { d, dmin, sc, m };
}

function affineQuant(v: number, step: number, offset: number, levels: number): number {
  return step ? Math.max(0, Math.min(levels - 1, Math.round((v + offset) / step))) : 0;
}

const encodeQ2_K: BlockEncoder = (x, xo, out, o) => {
  const { d, dmin, sc, m } = affineSubBlocks(x, xo, 16, 4, 4);
  for (let s = 0; s < 16; s++) out[o + s] = sc[s]! | (m[s]! << 4);
  putHalf(out, o + 80, d);
  putHalf(out, o + 82, dmin);
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) {
        const s = 8 * n + 2 * j + (l >> 4);
        const q = affineQuant(x[xo + 128 * n + 32 * j + l]!, d * sc[s]!, dmin * m[s]!, 4);
        orByte(out, o + 16 + 32 * n + l, q << (2 * j));
      }
    }
  }
};

function packScaleMinK4(sc: number[], m: number[], out: Uint8Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      out[o + j] = sc[j]!;
      out[o + j + 4] = m[j]!;
    } else {
      out[o + j + 4] = (sc[j]! & 15) | ((m[j]! & 15) << 4);
      orByte(out, o + j - 4, (sc[j]! >> 4) << 6);
      orByte(out, o + j, (m[j]! >> 4) << 6);
    }
  }
}

function encodeQ45_K(x: Float32Array, xo: number, out: Uint8Array, o: number, fiveBit: boolean): void {
  const levels = fiveBit ? 32 : 16;
  const { d, dmin, sc, m } = affineSubBlocks(x, xo, 32, levels, 6);
  putHalf(out, o, d);
  putHalf(out, o + 2, dmin);
  packScaleMinK4(sc, m, out, o + 4);
  const qsAt = fiveBit ? o + 48 : o + 16;
  for (let j = 0; j < 4; j++) {
    for (let l = 0; l < 32; l++) {
      const lo = affineQuant(x[xo + 64 * j + l]!, d * sc[2 * j]!, dmin * m[2 * j]!, levels);
      const hi = affineQuant(x[xo + 64 * j + 32 + l]!, d * sc[2 * j + 1]!, dmin * m[2 * j + 1]!, levels);
      out[qsAt + 32 * j + l] = (lo & 15) | ((hi & 15) << 4);
      if (fiveBit) orByte(out, o + 16 + l, ((lo >> 4) << (2 * j)) | ((hi >> 4) << (2 * j + 1)));
    }
  }
}

/**
 * Per-16-element signed scales for Q3_K and Q6_K: scale maxabs/qmax, quantized to a signed integer
 * in [−scaleMax − 1, scaleMax] against d = max|scale| / scaleMax.
 */
function signedSubBlocks(x: Float32Array, xo: number, qmax: number, scaleMax: number) {
  const scales = new Array<number>(16);
  for (let s = 0; s < 16; s++) {
    let amax = 0;
    for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[xo + 16 * s + l]!));
    scales[s] = amax / qmax;
  }
  const d = asHalf(Math.max(...scales) / scaleMax);
  const sc = scales.map((v) => (d ? Math.min(scaleMax, Math.round(v / d)) : 0));
  return { d, sc };
}

function signedQuant(v: number, step: number, qmin: number, qmax: number): number {
  return step ? Math.max(qmin, Math.min(qmax, Math.round(v / step))) : 0;
}

const encodeQ3_K: BlockEncoder = (x, xo, out, o) => {
  const { d, sc } = signedSubBlocks(x, xo, 4, 31);
  for (let is = 0; is < 16; is++) {
    const v = sc[is]! + 32;
    if (is < 8) orByte(out, o + 96 + is, v & 15);
    else orByte(out, o + 96 + is - 8, (v & 15) << 4);
    orByte(out, o + 96 + 8 + (is % 4), (v >> 4) << (2 * Math.floor(is / 4)));
  }
  putHalf(out, o + 108, d);
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) {
        const s = 8 * n + 2 * j + (l >> 4);
        const q = signedQuant(x[xo + 128 * n + 32 * j + l]!, d * sc[s]!, -4, 3) + 4;
        orByte(out, o + 32 + 32 * n + l, (q & 3) << (2 * j));
        orByte(out, o + l, (q >> 2) << (4 * n + j));
      }
    }
  }
};

const encodeQ6_K: BlockEncoder = (x, xo, out, o) => {
  const { d, sc } = signedSubBlocks(x, xo, 32, 127);
  for (let s = 0; s < 16; s++) out[o + 192 + s] = sc[s]! & 0xff;
  putHalf(out, o + 208, d);
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const q = [0, 1, 2, 3].map((k) => {
        const s = 8 * n + (l >> 4) + 2 * k;
        return signedQuant(x[xo + 128 * n + 32 * k + l]!, d * sc[s]!, -32, 31) + 32;
      }) as [number, number, number, number];
      out[o + 64 * n + l] = (q[0] & 15) | ((q[2] & 15) << 4);
      out[o + 64 * n + l + 32] = (q[1] & 15) | ((q[3] & 15) << 4);
      out[o + 128 + 32 * n + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
    }
  }
};

const encodeQ8_K: BlockEncoder = (x, xo, out, o) => {
  const max = signedAbsMax(x, xo, QK_K);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (max === 0) return; // all-zero block: d = 0, quants 0
  const iscale = fround(-127 / max);
  dv.setFloat32(o, fround(1 / iscale), true);
  for (let s = 0; s < 16; s++) {
    let sum = 0;
    for (let l = 0; l < 16; l++) {
      const q = Math.min(127, Math.round(fround(iscale * x[xo + 16 * s + l]!)));
      out[o + 4 + 16 * s + l] = q & 0xff;
      sum += q;
    }
    dv.setInt16(o + 260 + 2 * s, sum, true);
  }
};

const BLOCK_ENCODERS: ReadonlyMap<string, BlockEncoder> = new Map([
  ['Q4_0', (x, xo, out, o) => encodeSymmetric(x, xo, out, o, 4)],
  ['Q5_0', (x, xo, out, o) => encodeSymmetric(x, xo, out, o, 5)],
  ['Q4_1', (x, xo, out, o) => encodeAffine(x, xo, out, o, 4)],
  ['Q5_1', (x, xo, out, o) => encodeAffine(x, xo, out, o, 5)],
  ['Q8_0', encodeQ8_0],
  ['Q2_K', encodeQ2_K],
  ['Q3_K', encodeQ3_K],
  ['Q4_K', (x, xo, out, o) => encodeQ45_K(x, xo, out, o, false)],
  ['Q5_K', (x, xo, out, o) => encodeQ45_K(x, xo, out, o, true)],
  ['Q6_K', encodeQ6_K],
  ['Q8_K', encodeQ8_K],
] satisfies [string, BlockEncoder][]);

/** Encode float32 values as `type` (plain float types or a block format with an encoder). */
export function quantize(type: GgmlType, data: Float32Array, what = 'tensor'): Uint8Array {
  if (data.length % type.blockSize !== 0) {
    throw new WeightWatcherError(
      'E_SHAPE',
      `${what}: ${data.length} elements is not a whole number of ${type.name} blocks (${type.blockSize})`,
    );
  }
  const out = new Uint8Array(ggmlByteSize(type, data.length));
  const dv = new DataView(out.buffer);
  switch (type.name) {
    case 'F32':
      for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i]!, true);
      return out;
    case 'F64':
      for (let i = 0; i < data.length; i++) dv.setFloat64(8 * i, data[i]!, true);
      return out;
    case 'F16':
      for (let i = 0; i < data.length; i++) dv.setUint16(2 * i, f32ToF16(data[i]!), true);
      return out;
    case 'BF16':
      for (let i = 0; i < data.length; i++) dv.setUint16(2 * i, f32ToBf16(data[i]!), true);
      return out;
  }
  const encode = BLOCK_ENCODERS.get(type.name);
  if (!encode) throw new WeightWatcherError('E_UNSUPPORTED', `${what}: cannot quantize to ggml type ${type.name}`);
  for (let i = 0; i < data.length / type.blockSize; i++) encode(data, i * type.blockSize, out, i * type.typeSize);
  return out;
}

/** float32 → bfloat16 bits, round to nearest even, NaN kept quiet (ggml_compute_fp32_to_bf16). */
function f32ToBf16(x: number): number {
  f32View.setFloat32(0, x, true);
  const u = f32View.getUint32(0, true);
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 64;
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}
