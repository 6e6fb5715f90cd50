/**
 * Norm-based columns of a layer (spec §4.1), computed from all eigenvalues (zeros included) with
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
