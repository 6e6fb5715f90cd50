/**
 * detX constraint (`detX=True`, R35): the smallest tail of the rescaled ESD whose product is
 * still ≥ 1, scanned from the largest eigenvalue down. The product is taken in float64 exactly as
 * np.prod does (left to right), including its overflow to +inf on large layers (Q27), and the
 * reference's column names are kept although `detX_val_unrescaled` holds the rescaled value (Q28).
 */
import { npSum } from '../shared/numeric.js';
import type { LayerExtension } from './extensions.js';
import type { Row } from '../shared/rows.js';

/** RMT_Util.detX_constraint: (num_evals, idx) for ascending `evals`. */
export function detXConstraint(evals: Float64Array, rescale = true): { num: number; idx: number; scaled: Float64Array } {
  const n = evals.length;
  let x = evals;
  if (rescale) {
    const Wnorm = Math.sqrt(npSum(evals));
    const Wscale = Math.sqrt(n) / Wnorm;
    const s2 = Wscale * Wscale;
    x = evals.map((v) => s2 * v);
  }
  if (n < 2 || !(x[0]! < x[n - 1]!)) return { num: 0, idx: 0, scaled: x };
  let num = n;
  let idx = n - 1;
  for (; idx > 0; idx--) {
    let p = 1;
    for (let k = idx; k < n; k++) p *= x[k]!;
    if (p < 1.0) {
      num = n - idx;
      break;
    }
  }
  if (idx === 0) idx = 1; // the Python loop variable stays at its last value, 1 (Q27)
  return { num, idx, scaled: x };
}

/**
 * Whether detX's columns stay the same when every eigenvalue may be off by up to `delta` (the fast
 * route's bound, docs/numerics.md): each tail product the scan compares with 1 must be farther
 * from 1 than its worst-case relative error (the scale n/Σλ included).
 */
export function detXStable(evals: Float64Array, delta: number): boolean {
  const n = evals.length;
  if (n < 2 || delta === 0) return true;
  if (!(evals[0]! + 2 * delta < evals[n - 1]!)) return false; // the flat-spectrum shortcut must not flip
  const total = npSum(evals);
  const scaleErr = (n * delta) / total;
  const { idx } = detXConstraint(evals, true);
  const s2 = n / total;
  let p = 1;
  let rel = 0;
  for (let k = n - 1; k >= Math.max(1, idx); k--) {
    const v = evals[k]!;
    if (!(v > delta)) return false;
    p *= s2 * v;
    rel += delta / (v - delta) + scaleErr;
    if (!Number.isFinite(p)) continue; // overflowed to +inf (Q27): stays above 1
    const stop = p < 1;
    // the scan stops at idx and nowhere above it: both must survive the perturbation
    if (stop ? p * Math.exp(rel) >= 1 : p * Math.exp(-rel) < 1) return false;
  }
  return true;
}

export function detXColumns(evals: Float64Array): Row {
  const { num, idx, scaled } = detXConstraint(evals, true);
  return {
    detX_num: num,
    detX_val: evals[idx] ?? NaN,
    detX_val_unrescaled: scaled[idx] ?? NaN,
  };
}

/** detX=True: the detX constraint columns. */
export const detXExtension: LayerExtension = { name: 'detX', enabled: (o) => o.detX, run: (ctx) => detXColumns(ctx.evals) };
