/**
 * The power-law fit shared by the research codes built on WeightWatcher (docs/recipes.md): the
 * Hill/MLE alpha of the tail λ_i…λ_{N−1} of an ascending ESD and the one-sided KS distance
 *
 *   α_i = 1 + n / (Σ_{k≥i} ln λ_k − n·ln λ_i),   D_i = max_k |1 − (λ_{i+k}/λ_i)^{1−α_i} − k/n|,
 *
 * with three rules for the index i: the median (`xmin_mid`), the goodness-of-fit scan over every
 * i (first minimum of D), and the scan restricted by the ESD's histogram peak (`xmin_peak`).
 *
 * `arith: 'float32'` rounds every operation to float32 as the papers' torch code does, so that
 * `--precision float32` reproduces their discrete choices; 'float64' computes the same formulas in
 * double precision. The quirks that define the methods are kept (docs/recipes.md#quirks):
 * the KS distance uses only the lower ECDF step k/n, candidates with α ≤ 1 keep D = 1, and the
 * lower bound of xmin_peak is log10(0.95·p) compared with linear eigenvalues.
 */

import { torchSum32 } from './torch-sum.js';

export type Arith = 'float32' | 'float64';

export interface HillFit {
  readonly alpha: number;
  readonly D: number;
  /** Index of the chosen xmin in the ascending ESD (−1 when there was no candidate). */
  readonly index: number;
  readonly xmin: number;
  /** Why there is no fit (alpha NaN), when there is none. */
  readonly warning?: string;
}

/** The Adaptive-Rank-LoRA variant adds `eps` to ln(λ+eps), the α denominator, xmin and n (docs/recipes.md#lora-rank). */
export interface ScanOptions {
  /** xmin_peak: restrict candidates with the histogram peak over this many bins. */
  readonly peakBins?: number;
  readonly eps?: number;
}

const f32 = Math.fround;

/** Rounds to the working precision. */
function rounder(arith: Arith): (x: number) => number {
  return arith === 'float32' ? f32 : (x: number) => x;
}

/** ln of every eigenvalue (+eps) in the working precision. */
function logs(evals: Float64Array, arith: Arith, eps: number): Float64Array {
  const r = rounder(arith);
  const out = new Float64Array(evals.length);
  for (let i = 0; i < evals.length; i++) out[i] = r(Math.log(r(evals[i]! + eps)));
  return out;
}

/**
 * Σ_{k≥i} ln λ_k: float64 suffix sums, or in float32 torch.sum's own summation order (torch-sum.ts),
 * which matters where the Hill denominator cancels (alpha ≫ 1).
 */
function tailSums(logv: Float64Array, arith: Arith): (i: number) => number {
  if (arith === 'float32') return (i) => torchSum32(logv, i, logv.length);
  const s = new Float64Array(logv.length + 1);
  for (let i = logv.length - 1; i >= 0; i--) s[i] = s[i + 1]! + logv[i]!;
  return (i) => s[i]!;
}

function hillAlpha(i: number, N: number, logv: Float64Array, sums: (i: number) => number, r: (x: number) => number, eps: number): number {
  const n = N - i;
  const den = r(r(sums(i) - r(n * logv[i]!)) + eps);
  return r(1 + r(n / den));
}

/**
 * The KS distance of candidate i; stops early (returns a value ≥ `stopAt`) once it cannot beat
 * the best so far, since only the first minimum is kept.
 */
function ksDistance(evals: Float64Array, i: number, alpha: number, r: (x: number) => number, eps: number, stopAt: number): number {
  const N = evals.length;
  const n = N - i;
  const xmin = r(evals[i]! + eps);
  const e = r(1 - alpha);
  const nn = r(n + eps);
  let D = 0;
  for (let k = 0; k < n; k++) {
    const ratio = r(evals[i + k]! / xmin);
    const d = Math.abs(r(r(1 - r(Math.pow(ratio, e))) - r(k / nn)));
    if (d > D) {
      D = d;
      if (D > stopAt) return D;
    }
  }
  return D;
}

const NO_FIT = (warning: string): HillFit => ({ alpha: NaN, D: NaN, index: -1, xmin: NaN, warning });

/** xmin_mid / TempBalance 'median': i = int(N / xminPos). */
export function medianFit(evals: Float64Array, xminPos: number, arith: Arith): HillFit {
  const N = evals.length;
  if (N === 0) return NO_FIT('no eigenvalues');
  // A single eigenvalue gives 1 + 1/0 = +inf in the papers' code (docs/recipes.md#quirks): no fit here.
  if (N < 2) return NO_FIT('a single eigenvalue: no tail to fit');
  const i = Math.trunc(N / xminPos);
  if (!(i >= 0 && i < N)) return NO_FIT(`xmin_pos ${xminPos} puts xmin outside the spectrum`);
  if (!(evals[i]! > 0)) return NO_FIT('xmin is a zero eigenvalue');
  const r = rounder(arith);
  const logv = logs(evals, arith, 0);
  const sums = tailSums(logv, arith);
  const alpha = hillAlpha(i, N, logv, sums, r, 0);
  return { alpha, D: ksDistance(evals, i, alpha, r, 0, Infinity), index: i, xmin: evals[i]! };
}

/** Left edge of the fullest bin of the histogram of log10 λ (torch.histc over [min, max]); see xmin_peak. */
export function histogramPeak(evals: Float64Array, bins: number, arith: Arith): number {
  const r = rounder(arith);
  const h: number[] = [];
  // Zero eigenvalues (float32 underflow) have log10 = −inf, which makes torch.histc raise: they are
  // left out of the histogram here (docs/recipes.md#quirks, RQ4).
  for (let k = 0; k < evals.length; k++) if (evals[k]! > 0) h.push(r(Math.log10(evals[k]!)));
  if (h.length === 0) return NaN;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of h) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const counts = new Float64Array(bins);
  const width = r(hi - lo);
  for (const v of h) {
    let pos = width > 0 ? Math.trunc(r(r(r(v - lo) * bins) / width)) : 0;
    if (pos >= bins) pos = bins - 1;
    counts[pos]!++;
  }
  let ih = 0;
  for (let b = 1; b < bins; b++) if (counts[b]! > counts[ih]!) ih = b;
  // torch.linspace: the first half counts up from min, the second half down from max.
  const step = r(r(hi - lo) / bins);
  const edge = ih < Math.trunc((bins + 1) / 2) ? r(lo + r(step * ih)) : r(hi - r(step * (bins - ih)));
  return r(Math.pow(10, edge));
}

/**
 * The goodness-of-fit scan: α_i and D_i for the candidates i = 0…N−2 (α=0, D=1 for the ones
 * skipped, D=1 where α ≤ 1), then the first minimum of D. With peakBins, xmin_peak: candidates
 * with λ_i < log10(0.95·p) are skipped and the scan stops at the first λ_i > 1.5·p.
 */
export function scanFit(evals: Float64Array, opts: ScanOptions, arith: Arith): HillFit {
  const N = evals.length;
  if (N === 0) return NO_FIT('no eigenvalues');
  // The papers' argmin over an empty candidate list raises (docs/recipes.md#quirks).
  if (N < 2) return NO_FIT('a single eigenvalue: no candidate xmin');
  const r = rounder(arith);
  const eps = opts.eps ?? 0;
  const epsR = r(eps);
  let lower = -Infinity;
  let upper = Infinity;
  if (opts.peakBins !== undefined) {
    const p = histogramPeak(evals, opts.peakBins, arith);
    if (!Number.isFinite(p)) return NO_FIT('no positive eigenvalue');
    // RQ1: the lower bound is in log10 units, compared with linear eigenvalues (kept).
    lower = r(Math.log10(r(r(0.95) * p)));
    upper = r(r(1.5) * p);
  }
  const logv = logs(evals, arith, epsR);
  const sums = tailSums(logv, arith);
  let best = -1;
  let bestD = 1;
  let bestAlpha = 0;
  for (let i = 0; i < N - 1; i++) {
    const x = evals[i]!;
    if (x < lower) continue;
    if (x > upper) break;
    // A zero eigenvalue as xmin gives NaN (−inf + inf) in the papers' code: never a candidate here.
    if (!(r(x + epsR) > 0)) continue;
    const alpha = hillAlpha(i, N, logv, sums, r, epsR);
    if (!(alpha > 1)) continue;
    const D = ksDistance(evals, i, alpha, r, epsR, bestD);
    // Every computed D is < 1 (the arrays start at D = 1): the first strict minimum wins, as argmin.
    if (D < bestD) {
      bestD = D;
      bestAlpha = alpha;
      best = i;
    }
  }
  if (best < 0) {
    // argmin over an all-ones D picks index 0, whose α is 0 unless candidate 0 was visited.
    const i0 = evals[0]! >= lower && evals[0]! <= upper && r(evals[0]! + epsR) > 0 ? 0 : -1;
    const alpha0 = i0 === 0 ? hillAlpha(0, N, logv, sums, r, epsR) : 0;
    return { alpha: alpha0, D: 1, index: 0, xmin: evals[0]!, warning: 'no candidate with alpha > 1 and D < 1' };
  }
  return { alpha: bestAlpha, D: bestD, index: best, xmin: evals[best]! };
}
