/**
 * A recipe layer's eigenvalues (λ = σ² of W, conv2d: of its kh·kw slices W[:, :, i, j]·√conv_norm
 * pooled), through the project's spectrum routes (src/spectra):
 *
 * - float64 (default): the fast route (Gram eigenvalues with the native guard); a layer keeps the
 *   Gram values only if their error bound δ is far below what the recipe's decisions can feel
 *   (`gramGuard` below and the caller's check after the fit), else it is recomputed with ?gesdd.
 * - float32 (`--precision float32`): ?sgesdd on the float32 weights and every λ rounded to float32,
 *   as the papers' torch.linalg.svdvals + torch.square, so their discrete choices are reproduced.
 */
import { computeEsd, type Esd, type LayerMatrix, type Matrix } from '../spectra/esd.js';
import type { SvdRoute } from '../native/binding.js';
import type { TensorStore } from '../formats/types.js';
import { scaleFloat32 } from '../tensors/geometry.js';
import type { Arith } from './hill.js';
import type { RecipeModule } from './modules.js';

export interface LayerSpectrum {
  /** Ascending. */
  readonly evals: Float64Array;
  readonly route: SvdRoute;
  /** Absolute error bound of every eigenvalue (0 on ?gesdd routes). */
  readonly errorBound: number;
  /** Why the fast route was not kept, when it was not. */
  readonly fallback?: string;
}

/** The layer's matrices as the papers form them: a linear weight as stored; conv2d slices [out, in] per kernel position. */
export async function layerMatrices(store: TensorStore, m: RecipeModule, arith: Arith): Promise<LayerMatrix[]> {
  if (m.kind === 'linear') {
    const [rows, cols] = m.shape as [number, number];
    if (arith === 'float64' && store.readStored) {
      const raw = await store.readStored(m.tensor);
      if (raw) return [{ bytes: raw.bytes, dtype: raw.dtype, rows, cols }];
    }
    return [{ data: await store.read(m.tensor), rows, cols }];
  }
  return convSlices(await store.read(m.tensor), m.shape);
}

/** The kh·kw slices W[:, :, i, j] (out × in) of a conv2d weight [out, in, kh, kw]. */
export function convSlices(data: Float32Array, shape: readonly number[]): Matrix[] {
  const [out, inp, kh, kw] = shape as [number, number, number, number];
  const k = kh * kw;
  const mats: Matrix[] = [];
  for (let s = 0; s < k; s++) {
    const m = new Float32Array(out * inp);
    for (let i = 0; i < out * inp; i++) m[i] = data[i * k + s]!;
    mats.push({ data: m, rows: out, cols: inp });
  }
  return mats;
}

/**
 * The fast route's values are kept when δ ≤ 1e-10·λmax (600× below the float32 rounding of the
 * papers' ?sgesdd, ≈ 6e-8·λmax, so a choice where we differ from them is decided by their
 * rounding) and the smallest eigenvalue, which sets the histogram range of xmin_peak, is known to
 * 1e-4 relative (or was refined natively).
 */
export function gramGuard(evals: Float64Array, errorBound: number, route?: string): string | undefined {
  if (errorBound === 0) return undefined;
  const n = evals.length;
  if (n === 0) return undefined;
  if (!(errorBound <= 1e-10 * evals[n - 1]!)) return 'the largest eigenvalue is not accurate enough';
  // 'gram+lu' / 'gram+qr': the smallest value was refined to ?gesdd's accuracy natively
  const refined = route?.includes('+') === true;
  if (!refined && !(evals[0]! >= 1e4 * errorBound)) return 'the smallest eigenvalue is within 1e4 error bounds of zero';
  return undefined;
}

/**
 * Eigenvalues of a layer. `check` (optional) sees the fast route's values and returns why they are
 * not accurate enough for the recipe's fit (e.g. δ too large against the chosen xmin).
 */
export async function layerSpectrum(
  store: TensorStore,
  m: RecipeModule,
  arith: Arith,
  convNorm: number,
  check?: (s: LayerSpectrum) => string | undefined,
): Promise<LayerSpectrum> {
  const mats = await layerMatrices(store, m, arith);
  return matricesSpectrum(mats, m.kind === 'conv2d' ? convNorm : 1, arith, check);
}

/** As layerSpectrum, for matrices already in hand; `scale` multiplies the weights (conv_norm: λ × scale). */
export async function matricesSpectrum(
  mats: readonly LayerMatrix[],
  scale: number,
  arith: Arith,
  check?: (s: LayerSpectrum) => string | undefined,
): Promise<LayerSpectrum> {
  const N = Math.max(...mats.map((x) => Math.max(x.rows, x.cols)));
  if (arith === 'float32') {
    // torch: flatten(W, 2) * sqrt(conv_norm) in float32, then svdvals, then square, all float32
    const scaled = scale === 1 ? mats : mats.map((x) => scaledFloat32(x, Math.sqrt(scale)));
    const esd = await computeEsd(scaled, { N, method: 'accurate', precision: 'float32', refineMin: false });
    const evals = esd.evals.map((v) => Math.fround(v)).sort();
    return { evals, route: esd.route, errorBound: 0 };
  }
  const spectrumOf = (esd: Esd): LayerSpectrum => {
    const evals = scale === 1 ? esd.evals : esd.evals.map((v) => v * scale);
    const s: LayerSpectrum = { evals, route: esd.route, errorBound: esd.errorBound * scale };
    return esd.fallback !== undefined ? { ...s, fallback: esd.fallback } : s;
  };
  // One native call per layer (spectra/esd.ts): the recipe's checks are its `verify`, and a layer
  // they reject is finished with ?gesdd by the same call's handle.
  const esd = await computeEsd(mats, {
    N,
    method: 'fast',
    precision: 'float64',
    verify: async (gram) => {
      const s = spectrumOf(gram);
      return gramGuard(s.evals, s.errorBound, s.route) ?? check?.(s);
    },
  });
  return spectrumOf(esd);
}

function scaledFloat32(m: LayerMatrix, factor: number): Matrix {
  if (!('data' in m)) throw new Error('conv slices are decoded matrices');
  const data = m.data instanceof Float32Array ? m.data : Float32Array.from(m.data);
  return { data: scaleFloat32(data, factor), rows: m.rows, cols: m.cols };
}
