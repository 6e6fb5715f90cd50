/**
 * ggml tensor types: block layouts and dequantization to float32.
 *
 * Dequantizers follow ggml's reference `dequantize_row_*` (ggml-quants.c) block by block; every
 * value is computed exactly in double and rounded once to float32, which matches ggml's float
 * arithmetic because each formula has a single inexact step. (The quantizers that write test
 * fixtures live in test/helpers/ggml-quantize.ts.)
 */
import { WeightWatcherError } from '../shared/errors.js';
import { decodeToFloat32, dtypeSize, f16ToF32 } from './decode.js';

export interface GgmlType {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

export const QK = 32;
export const QK_K = 256;

/** Every ggml type id that may appear in a GGUF file (ids 4, 5 and 31–33, 36–38 were removed). */
const TYPES: readonly GgmlType[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'Q4_0', blockSize: QK, typeSize: 18 },
  { id: 3, name: 'Q4_1', blockSize: QK, typeSize: 20 },
  { id: 6, name: 'Q5_0', blockSize: QK, typeSize: 22 },
  { id: 7, name: 'Q5_1', blockSize: QK, typeSize: 24 },
  { id: 8, name: 'Q8_0', blockSize: QK, typeSize: 34 },
  { id: 9, name: 'Q8_1', blockSize: QK, typeSize: 36 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, typeSize: 144 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, typeSize: 176 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, typeSize: 210 },
  { id: 15, name: 'Q8_K', blockSize: QK_K, typeSize: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: QK_K, typeSize: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: QK_K, typeSize: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: QK_K, typeSize: 98 },
  { id: 19, name: 'IQ1_S', blockSize: QK_K, typeSize: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: QK, typeSize: 18 },
  { id: 21, name: 'IQ3_S', blockSize: QK_K, typeSize: 110 },
  { id: 22, name: 'IQ2_S', blockSize: QK_K, typeSize: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: QK_K, typeSize: 136 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  { id: 29, name: 'IQ1_M', blockSize: QK_K, typeSize: 56 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
  { id: 34, name: 'TQ1_0', blockSize: QK_K, typeSize: 54 },
  { id: 35, name: 'TQ2_0', blockSize: QK_K, typeSize: 66 },
  { id: 39, name: 'MXFP4', blockSize: QK, typeSize: 17 },
];

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

export function ggmlType(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: string): GgmlType | undefined {
  return BY_NAME.get(name);
}

/** Bytes taken by `count` elements of `type`; `count` must be a whole number of blocks. */
export function ggmlByteSize(type: GgmlType, count: number): number {
  return (count / type.blockSize) * type.typeSize;
}

// ---------------------------------------------------------------------------------------------
// Dequantization

/** Decodes the block at byte `o` of `b` into `y[yo .. yo + blockSize)`. */
type BlockDecoder = (b: Uint8Array, o: number, y: Float32Array, yo: number) => void;

function half(b: Uint8Array, o: number): number {
  return f16ToF32(b[o]! | (b[o + 1]! << 8));
}

function int8(v: number): number {
  return (v << 24) >> 24;
}

const decodeQ4_0: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 2 + j]!;
    y[yo + j] = ((q & 15) - 8) * d;
    y[yo + j + 16] = ((q >> 4) - 8) * d;
  }
};

const decodeQ4_1: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o);
  const m = half(b, o + 2);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 4 + j]!;
    y[yo + j] = (q & 15) * d + m;
    y[yo + j + 16] = (q >> 4) * d + m;
  }
};

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Q5_0 and Q5_1 share a layout; 5th bits of element j and j+16 are bits j and j+16 of `qh`. */
function decodeQ5(b: Uint8Array, o: number, y: Float32Array, yo: number, withMin: boolean): void {
  const d = half(b, o);
  const m = withMin ? half(b, o + 2) : 0;
  const qhAt = withMin ? o + 4 : o + 2;
  const qh = u32(b, qhAt);
  const offset = withMin ? 0 : -16;
  for (let j = 0; j < 16; j++) {
    const q = b[qhAt + 4 + j]!;
    const h0 = ((qh >>> j) << 4) & 0x10;
    const h1 = (qh >>> (j + 12)) & 0x10;
    y[yo + j] = ((q & 15) + h0 + offset) * d + m;
    y[yo + j + 16] = ((q >> 4) + h1 + offset) * d + m;
  }
}

const decodeQ8_0: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o);
  for (let j = 0; j < QK; j++) y[yo + j] = int8(b[o + 2 + j]!) * d;
};

// Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64], d, dmin. Element 128n + 32j + l takes bits
// 2j of qs[32n + l] and sub-block scale 8n + 2j + l/16.
const decodeQ2_K: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o + 80);
  const dmin = half(b, o + 82);
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 4; j++) {
      const shift = 2 * j;
      for (let h = 0; h < 2; h++) {
        const sc = b[o + 8 * n + 2 * j + h]!;
        const dl = d * (sc & 15);
        const ml = dmin * (sc >> 4);
        const qAt = o + 16 + 32 * n + 16 * h;
        const yAt = yo + 128 * n + 32 * j + 16 * h;
        for (let l = 0; l < 16; l++) y[yAt + l] = dl * ((b[qAt + l]! >> shift) & 3) - ml;
      }
    }
  }
};

/** Q3_K's 16 six-bit scales packed in 12 bytes: low nibbles in bytes 0–7, high bit pairs in 8–11. */
function q3kScale(s: Uint8Array, o: number, is: number): number {
  const low = is < 8 ? s[o + is]! & 15 : s[o + is - 8]! >> 4;
  const high = (s[o + 8 + (is % 4)]! >> (2 * Math.floor(is / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Q3_K: hmask[32], qs[64], scales[12], d. Element 128n + 32j + l: low bits 2j of qs[32n + l],
// high bit (4n + j) of hmask[l]; a clear high bit means −4.
const decodeQ3_K: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o + 108);
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 4; j++) {
      const shift = 2 * j;
      const mask = 1 << (4 * n + j);
      for (let h = 0; h < 2; h++) {
        const dl = d * q3kScale(b, o + 96, 8 * n + 2 * j + h);
        for (let l = 16 * h; l < 16 * h + 16; l++) {
          const q = ((b[o + 32 + 32 * n + l]! >> shift) & 3) - (b[o + l]! & mask ? 0 : 4);
          y[yo + 128 * n + 32 * j + l] = dl * q;
        }
      }
    }
  }
};

/** Q4_K/Q5_K's eight 6-bit (scale, min) pairs packed in 12 bytes (ggml `get_scale_min_k4`). */
function scaleMinK4(s: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [s[o + j]! & 63, s[o + j + 4]! & 63];
  return [(s[o + j + 4]! & 15) | ((s[o + j - 4]! >> 6) << 4), (s[o + j + 4]! >> 4) | ((s[o + j]! >> 6) << 4)];
}

// Q4_K / Q5_K: d, dmin, scales[12], (Q5_K: qh[32]), qs[128]. Each 64 elements j use the low then
// high nibbles of qs[32j ..], with sub-blocks 2j and 2j+1; Q5_K's 5th bits are bits 2j, 2j+1 of qh[l].
function decodeQ45_K(b: Uint8Array, o: number, y: Float32Array, yo: number, fiveBit: boolean): void {
  const d = half(b, o);
  const dmin = half(b, o + 2);
  const qsAt = fiveBit ? o + 48 : o + 16;
  for (let j = 0; j < 4; j++) {
    const [sc1, m1] = scaleMinK4(b, o + 4, 2 * j);
    const [sc2, m2] = scaleMinK4(b, o + 4, 2 * j + 1);
    const d1 = d * sc1,
      min1 = dmin * m1,
      d2 = d * sc2,
      min2 = dmin * m2;
    for (let l = 0; l < 32; l++) {
      const q = b[qsAt + 32 * j + l]!;
      const qh = fiveBit ? b[o + 16 + l]! >> (2 * j) : 0;
      y[yo + 64 * j + l] = d1 * ((q & 15) + ((qh & 1) << 4)) - min1;
      y[yo + 64 * j + 32 + l] = d2 * ((q >> 4) + ((qh & 2) << 3)) - min2;
    }
  }
}

// Q6_K: ql[128], qh[64], scales[16] (int8), d. For each 128 elements n and l < 32, the four
// values l, l+32, l+64, l+96 share qh[32n + l] (2 bits each) and take nibbles of ql[64n + l (+32)].
const decodeQ6_K: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o + 208);
  for (let n = 0; n < 2; n++) {
    const ql = o + 64 * n;
    const qh = o + 128 + 32 * n;
    const sc = o + 192 + 8 * n;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = b[qh + l]!;
      const a = b[ql + l]!;
      const c = b[ql + l + 32]!;
      const yAt = yo + 128 * n + l;
      y[yAt] = d * int8(b[sc + is]!) * (((a & 15) | ((h & 3) << 4)) - 32);
      y[yAt + 32] = d * int8(b[sc + is + 2]!) * (((c & 15) | (((h >> 2) & 3) << 4)) - 32);
      y[yAt + 64] = d * int8(b[sc + is + 4]!) * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
      y[yAt + 96] = d * int8(b[sc + is + 6]!) * (((c >> 4) | (((h >> 6) & 3) << 4)) - 32);
    }
  }
};

const f32View = new DataView(new ArrayBuffer(4));
function f32(b: Uint8Array, o: number): number {
  f32View.setUint32(0, u32(b, o), true);
  return f32View.getFloat32(0, true);
}

// Q8_K: float32 d, qs[256] (int8), bsums[16] (int16, only used by dot products).
const decodeQ8_K: BlockDecoder = (b, o, y, yo) => {
  const d = f32(b, o);
  for (let j = 0; j < QK_K; j++) y[yo + j] = d * int8(b[o + 4 + j]!);
};

/** Non-linear 4-bit grid shared by IQ4_NL and IQ4_XS. */
const IQ4_GRID = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function decodeIq4Group(b: Uint8Array, qsAt: number, dl: number, y: Float32Array, yo: number): void {
  for (let j = 0; j < 16; j++) {
    const q = b[qsAt + j]!;
    y[yo + j] = dl * IQ4_GRID[q & 15]!;
    y[yo + j + 16] = dl * IQ4_GRID[q >> 4]!;
  }
}

const decodeIQ4_NL: BlockDecoder = (b, o, y, yo) => decodeIq4Group(b, o + 2, half(b, o), y, yo);

// IQ4_XS: d, scales_h (uint16: 2 high bits per group), scales_l[4] (4 low bits per group), qs[128].
const decodeIQ4_XS: BlockDecoder = (b, o, y, yo) => {
  const d = half(b, o);
  const scalesH = b[o + 2]! | (b[o + 3]! << 8);
  for (let ib = 0; ib < 8; ib++) {
    const ls = ((b[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 15) | (((scalesH >> (2 * ib)) & 3) << 4);
    decodeIq4Group(b, o + 8 + 16 * ib, d * (ls - 32), y, yo + 32 * ib);
  }
};

const BLOCK_DECODERS: ReadonlyMap<string, BlockDecoder> = new Map([
  ['Q4_0', decodeQ4_0],
  ['Q4_1', decodeQ4_1],
  ['Q5_0', (b, o, y, yo) => decodeQ5(b, o, y, yo, false)],
  ['Q5_1', (b, o, y, yo) => decodeQ5(b, o, y, yo, true)],
  ['Q8_0', decodeQ8_0],
  ['Q2_K', decodeQ2_K],
  ['Q3_K', decodeQ3_K],
  ['Q4_K', (b, o, y, yo) => decodeQ45_K(b, o, y, yo, false)],
  ['Q5_K', (b, o, y, yo) => decodeQ45_K(b, o, y, yo, true)],
  ['Q6_K', decodeQ6_K],
  ['Q8_K', decodeQ8_K],
  ['IQ4_NL', decodeIQ4_NL],
  ['IQ4_XS', decodeIQ4_XS],
] satisfies [string, BlockDecoder][]);

/** Whether `dequantize` can decode this type. */
export function canDequantize(type: GgmlType): boolean {
  return BLOCK_DECODERS.has(type.name) || (type.blockSize === 1 && dtypeSize(type.name) !== undefined);
}

/** Decode `count` elements of `type` stored in `bytes` (exactly their byte size) to float32. */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number, what = 'tensor'): Float32Array {
  if (type.blockSize === 1 && dtypeSize(type.name) !== undefined) return decodeToFloat32(bytes, type.name, count, what);
  const decode = BLOCK_DECODERS.get(type.name);
  if (!decode)
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${what}: ggml type ${type.name} cannot be dequantized (supported: ${supportedTypeNames().join(', ')})`,
    );
  if (count % type.blockSize !== 0 || bytes.length !== ggmlByteSize(type, count)) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${what}: ${count} ${type.name} elements need ${ggmlByteSize(type, Math.ceil(count / type.blockSize) * type.blockSize)} bytes in whole ${type.blockSize}-element blocks, got ${bytes.length}`,
    );
  }
  const out = new Float32Array(count);
  const blocks = count / type.blockSize;
  for (let i = 0; i < blocks; i++) decode(bytes, i * type.typeSize, out, i * type.blockSize);
  return out;
}

export function supportedTypeNames(): string[] {
  return TYPES.filter(canDequantize).map((t) => t.name);
}
