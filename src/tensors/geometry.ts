/**
 * How a layer's weight tensor becomes 2-D matrices (R13): N, M, rf and, for conv2d, which
 * kernel-position slices are taken. Computed from the shape alone so filters and support rules run
 * before any weight is read. The reference's quirks are reproduced on purpose (Q3): the N/M swap
 * toggles once per slice, so even kernels with out < in report N < M.
 */
import type { Channels, LayerType } from '../layers/types.js';

/** One 2-D slice: T[a, b, :, :] (axes 'kernel-first') or T[:, :, a, b] (axes 'kernel-last'). */
export interface SliceIndex {
  readonly a: number;
  readonly b: number;
}

export interface Geometry {
  readonly N: number;
  readonly M: number;
  readonly rf: number;
  /** M·rf for conv2d, M otherwise (the reference's num_components). */
  readonly numComponents: number;
  /** 2-D matrices to analyse; rows×cols of each (orientation does not change singular values). */
  readonly slices: readonly SliceIndex[];
  /** Which two axes of the 4-D tensor are the matrix axes. */
  readonly sliceAxes: 'dense' | 'kernel-last' | 'kernel-first';
  readonly rows: number;
  readonly cols: number;
}

export function layerGeometry(type: LayerType, shape: readonly number[], expected: Channels): Geometry | undefined {
  if (type === 'dense' || type === 'conv1d' || type === 'embedding') {
    if (shape.length !== 2) return undefined; // rank-3 conv1d crashes the reference (Q11): not analysed
    const [r, c] = shape as [number, number];
    return {
      N: Math.max(r, c),
      M: Math.min(r, c),
      rf: 1,
      numComponents: Math.min(r, c),
      slices: [{ a: 0, b: 0 }],
      sliceAxes: 'dense',
      rows: r,
      cols: c,
    };
  }
  if (type !== 'conv2d' || shape.length !== 4) return undefined;
  const [s0, s1, s2, s3] = shape as [number, number, number, number];
  const detected: Channels = s0 + s1 >= s2 + s3 ? 'last' : 'first';
  const grid = (na: number, nb: number): SliceIndex[] => {
    const out: SliceIndex[] = [];
    for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) out.push({ a, b });
    return out;
  };
  let N: number, M: number, rf: number;
  let slices: SliceIndex[];
  let sliceAxes: Geometry['sliceAxes'];
  let rows: number, cols: number;
  if (detected === 'last' && expected === 'last') {
    rf = s2 * s3;
    slices = grid(s2, s3);
    sliceAxes = 'kernel-last';
    [rows, cols] = [s0, s1];
    const toggled = s0 < s1 && rf % 2 === 1;
    [N, M] = toggled ? [s1, s0] : [s0, s1];
  } else if (detected === 'first' && expected === 'first') {
    rf = s0 * s1;
    slices = grid(s0, s1);
    sliceAxes = 'kernel-first';
    [rows, cols] = [s2, s3];
    const toggled = s3 < s2 && rf % 2 === 1;
    [M, N] = toggled ? [s3, s2] : [s2, s3];
  } else if (detected === 'last') {
    // Keras expected but the tensor looks like [out, in, kh, kw]: the reference slices T[i, j, :, :].
    slices = grid(s0, s1);
    sliceAxes = 'kernel-first';
    [rows, cols] = [s2, s3];
    [N, M, rf] = [s2, s3, s0 * s1];
  } else {
    // PyTorch expected but small channels and a big kernel (e.g. [4, 6, 7, 7]): T[:, :, i, j].
    slices = grid(s2, s3);
    sliceAxes = 'kernel-last';
    [rows, cols] = [s0, s1];
    [N, M, rf] = [s0, s1, s2 * s3];
  }
  return { N, M, rf, numComponents: M * rf, slices, sliceAxes, rows, cols };
}

/** Copy one 2-D slice out of a row-major tensor (the matrix as stored, rows×cols). */
export function extractSlice(data: Float32Array, shape: readonly number[], g: Geometry, s: SliceIndex): Float32Array {
  if (g.sliceAxes === 'dense') return data;
  const [s0, s1, s2, s3] = shape as [number, number, number, number];
  const out = new Float32Array(g.rows * g.cols);
  if (g.sliceAxes === 'kernel-first') {
    // T[a, b, :, :] is contiguous
    const base = (s.a * s1 + s.b) * s2 * s3;
    out.set(data.subarray(base, base + s2 * s3));
    return out;
  }
  // T[:, :, a, b]: stride s2*s3 between consecutive elements
  const k = s2 * s3;
  const off = s.a * s3 + s.b;
  for (let i = 0, n = s0 * s1; i < n; i++) out[i] = data[i * k + off]!;
  return out;
}

/** Write one 2-D slice (rows×cols, as extractSlice returns it) back into a row-major tensor. */
export function insertSlice(
  target: Float64Array | Float32Array,
  shape: readonly number[],
  g: Geometry,
  s: SliceIndex,
  slice: ArrayLike<number>,
): void {
  if (g.sliceAxes === 'dense') {
    for (let i = 0; i < slice.length; i++) target[i] = slice[i]!;
    return;
  }
  const [s0, s1, s2, s3] = shape as [number, number, number, number];
  if (g.sliceAxes === 'kernel-first') {
    const base = (s.a * s1 + s.b) * s2 * s3;
    for (let i = 0; i < s2 * s3; i++) target[base + i] = slice[i]!;
    return;
  }
  const k = s2 * s3;
  const off = s.a * s3 + s.b;
  for (let i = 0, n = s0 * s1; i < n; i++) target[i * k + off] = slice[i]!;
}

/**
 * Multiply every weight by `factor` the way numpy does on float32 arrays: the factor is rounded to
 * float32 and so is each product (needed for bit-exact conv2d_norm, R14).
 */
export function scaleFloat32(m: Float32Array, factor: number): Float32Array {
  const s = Math.fround(factor);
  const out = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = Math.fround(m[i]! * s); // Float32Array store rounds; fround documents it
  return out;
}

/**
 * The per-layer weight scaling of apply_normalize_Wmats (R14, Q40): with glorot_fix every matrix
 * is divided by the Glorot scale sqrt(2 / ((N + M)·count)) — the reference computes this and then
 * discards it (Q1), we apply it; otherwise conv2d layers get sqrt(count / 2) (conv2d_norm).
 * `count` is 1 for pooled layers and rf for unpooled slices. Returns 1 when nothing applies.
 */
export function weightScale(type: string, N: number, M: number, count: number, o: { glorot_fix: boolean; conv2d_norm: boolean }): number {
  if (o.glorot_fix) return 1 / Math.sqrt(2 / ((N + M) * count));
  if (o.conv2d_norm && type === 'conv2d') return Math.sqrt(count / 2);
  return 1;
}
