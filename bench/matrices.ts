/**
 * Seeded test matrices with the spectra the fast route must handle (benchmarks and the Gram error
 * calibration): Gaussian, non-zero mean, heavy-tailed, low rank plus noise, graded columns,
 * spiked, bf16-quantized, sparse, small integers and power-law row scales.
 */
import { Random } from '../src/shared/random.js';

export type Family = 'gaussian' | 'mean' | 'student3' | 'lowrank' | 'graded' | 'spiked' | 'bf16' | 'sparse' | 'int8' | 'powerlaw';
export const FAMILIES: readonly Family[] = [
  'gaussian',
  'mean',
  'student3',
  'lowrank',
  'graded',
  'spiked',
  'bf16',
  'sparse',
  'int8',
  'powerlaw',
];

export function gaussianSource(rng: Random): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - rng.next();
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function bf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000; // round to nearest even
  return f[0]!;
}

/** A rows×cols row-major float32 matrix of the given family, scaled like trained weights (≈0.02). */
export function makeMatrix(family: Family, rows: number, cols: number, seed = 1): Float32Array {
  const rng = new Random(seed);
  const g = gaussianSource(rng);
  const out = new Float32Array(rows * cols);
  const s = 0.02;
  switch (family) {
    case 'gaussian':
      for (let k = 0; k < out.length; k++) out[k] = s * g();
      break;
    case 'mean':
      for (let k = 0; k < out.length; k++) out[k] = s * (g() + 0.5);
      break;
    case 'student3':
      for (let k = 0; k < out.length; k++) out[k] = (s * g()) / Math.sqrt((g() ** 2 + g() ** 2 + g() ** 2) / 3);
      break;
    case 'lowrank': {
      const r = 8;
      const a = Float64Array.from({ length: rows * r }, g);
      const b = Float64Array.from({ length: r * cols }, g);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          let v = 0;
          for (let k = 0; k < r; k++) v += a[i * r + k]! * b[k * cols + j]!;
          out[i * cols + j] = s * (v / Math.sqrt(r) + 1e-3 * g());
        }
      break;
    }
    case 'graded':
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = s * g() * 10 ** ((-6 * j) / cols);
      break;
    case 'spiked': {
      for (let k = 0; k < out.length; k++) out[k] = s * g();
      for (let p = 0; p < 5; p++) {
        const u = Float64Array.from({ length: rows }, g);
        const v = Float64Array.from({ length: cols }, g);
        const amp = (s * (10 - p)) / Math.sqrt(Math.sqrt(rows * cols));
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = out[i * cols + j]! + amp * u[i]! * v[j]!;
      }
      break;
    }
    case 'bf16':
      for (let k = 0; k < out.length; k++) out[k] = bf16(s * g());
      break;
    case 'sparse':
      for (let k = 0; k < out.length; k++) out[k] = rng.next() < 0.1 ? s * g() : 0;
      break;
    case 'int8':
      for (let k = 0; k < out.length; k++) out[k] = Math.max(-127, Math.min(127, Math.round(20 * g())));
      break;
    case 'powerlaw':
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = (s * g()) / Math.sqrt(i + 1);
      break;
  }
  return out;
}
