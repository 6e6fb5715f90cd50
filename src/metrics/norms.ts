/**
 * Norm-based columns of a layer (R25), computed from all eigenvalues (zeros included) with
 * numpy's summation order.
 */
import { FLOAT64_EPS, cPow, npMax, npSum } from '../shared/numeric.js';

const ENTROPY_EPS = 1e-10;

export interface NormColumns {
  norm: number;
  log_norm: number;
  spectral_norm: number;
  log_spectral_norm: number;
  alpha_weighted: number;
  log_alpha_norm: number;
  stable_rank: number;
  matrix_rank: number;
  entropy: number;
}

/** #{σ > max(σ)·N·ε}, as numpy's matrix_rank tolerance. */
export function matrixRank(sv: Float64Array, N: number): number {
  const tol = npMax(sv) * N * FLOAT64_EPS;
  let r = 0;
  for (let i = 0; i < sv.length; i++) if (sv[i]! > tol) r++;
  return r;
}

/** Normalised matrix entropy of singular values `sv` (reference RMT_Util.matrix_entropy). */
export function matrixEntropy(sv: Float64Array, N: number): number {
  const rank = matrixRank(sv, N) + ENTROPY_EPS;
  const ev = sv.map((s) => s * s);
  const total = npSum(ev);
  const terms = new Float64Array(ev.length);
  for (let i = 0; i < ev.length; i++) {
    const p = ev[i]! / total + ENTROPY_EPS;
    terms[i] = p * Math.log(p);
  }
  return -npSum(terms) / Math.log(rank);
}

export function normColumns(evals: Float64Array, alpha: number, N: number): NormColumns {
  const norm = npSum(evals);
  const spectral = npMax(evals);
  const logSpectral = Math.log10(spectral);
  const powered = evals.map((e) => cPow(e, alpha));
  const sv = evals.map((e) => Math.sqrt(e));
  return {
    norm,
    log_norm: Math.log10(norm),
    spectral_norm: spectral,
    log_spectral_norm: logSpectral,
    alpha_weighted: alpha * logSpectral,
    log_alpha_norm: Math.log10(npSum(powered)),
    stable_rank: norm / spectral,
    matrix_rank: matrixRank(sv, N),
    entropy: matrixEntropy(sv, N),
  };
}

/**
 * Relative error bounds of Σλ^alpha (log_alpha_norm) and of the matrix entropy when every
 * eigenvalue may be off by up to `delta` in absolute terms and their sum Σλ by up to `sumRelError`
 * relative (the fast route's Gram eigenvalues; docs/numerics.md). Worst case: all errors aligned.
 */
export function normErrorBounds(
  evals: Float64Array,
  alpha: number,
  delta: number,
  sumRelError: number,
): { alphaNorm: number; entropy: number } {
  const n = evals.length;
  const total = npSum(evals);
  // Σλ^α: each term moves by at most δ·max |α·t^(α−1)| over t ∈ [λ−δ, λ+δ] (unbounded when α < 1
  // and the interval reaches 0).
  let powered = 0;
  let moved = 0;
  for (let i = 0; i < n; i++) {
    const v = evals[i]!;
    powered += cPow(v, alpha);
    const worst = alpha >= 1 ? v + delta : v - delta;
    moved += worst > 0 ? Math.abs(alpha) * Math.pow(worst, alpha - 1) * delta : Infinity;
  }
  // entropy = −Σ p ln p / ln(rank), p = λ/Σλ + ε: |Δp| ≤ δ/Σλ + p·sumRelError, |Δ(p ln p)| ≤ |Δp|·(|ln p| + 1)
  let h = 0;
  let dh = 0;
  for (let i = 0; i < n; i++) {
    const q = evals[i]! / total;
    const p = q + ENTROPY_EPS;
    const dp = delta / total + q * sumRelError;
    h -= p * Math.log(p);
    dh += dp * (Math.abs(Math.log(Math.max(p - dp, ENTROPY_EPS))) + 1);
  }
  return { alphaNorm: moved / powered, entropy: dh / Math.abs(h) };
}
