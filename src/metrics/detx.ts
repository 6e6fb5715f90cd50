/**
 * detX constraint (`detX=True`, spec §5.8): the smallest tail of the rescaled ESD whose product is
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
  let idx = 0;
  for (idx = n - 1; idx > 0; idx--) {
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
