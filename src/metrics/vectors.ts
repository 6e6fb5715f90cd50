/**
 * Eigenvector metrics (`vectors=True`, R34). For every (scaled) matrix W of the layer, the
 * eigenvectors of the smaller Gram matrix (W·Wᵀ or Wᵀ·W) from a symmetric solver (LAPACK dsyevd;
 * the reference uses a general eig whose complex output only differs by zero imaginary parts),
 * pooled over slices and ordered by eigenvalue; the vectors of eigenvalues below the fitted xmin
 * form the bulk, the others the tail (split by rank, see vectorColumns). For each group: mean and population variance of the discrete vector entropy,
 * the localization ratio ‖v‖₁/‖v‖∞ and the participation ratio ‖v‖₂/‖v‖₄ (NaN for an empty group).
 */
import { gramEigen } from '../native/binding.js';
import { npMax, npSum } from '../shared/numeric.js';
import type { LayerContext, LayerExtension } from './extensions.js';
import type { Row } from '../shared/rows.js';

const EPS = 0.0000000001;

/** np.histogram(x, bins, density=True)[0] with numpy's uniform-bin index rules. */
export function npHistogramDensity(x: ArrayLike<number>, bins: number): Float64Array {
  let first = Infinity,
    last = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i]! < first) first = x[i]!;
    if (x[i]! > last) last = x[i]!;
  }
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins;
  for (let k = 0; k <= bins; k++) edges[k] = k * step + first;
  edges[bins] = last;
  const counts = new Float64Array(bins);
  const denom = last - first;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    let idx = Math.trunc(((v - first) / denom) * bins);
    if (idx === bins) idx -= 1;
    if (v < edges[idx]!) idx -= 1;
    if (idx !== bins - 1 && v >= edges[idx + 1]!) idx += 1;
    counts[idx]!++;
  }
  const total = npSum(counts);
  const out = new Float64Array(bins);
  for (let k = 0; k < bins; k++) out[k] = counts[k]! / (edges[k + 1]! - edges[k]!) / total;
  return out;
}

/** RMT_Util.discrete_entropy: entropy of the 100-bin density of |v| − mean(|v|) (natural log). */
export function discreteEntropy(vec: ArrayLike<number>, numBins = 100): number {
  const n = vec.length;
  const abs = new Float64Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(vec[i]!);
  const mean = npSum(abs) / n;
  for (let i = 0; i < n; i++) abs[i] = abs[i]! - mean;
  const h = npHistogramDensity(abs, numBins);
  const p = h.map((v) => (v + EPS) / Math.sqrt(2 * Math.PI));
  const s = npSum(p);
  const terms = p.map((v) => {
    const q = v / s;
    return q * Math.log(q);
  });
  return -npSum(terms);
}

/** ‖v‖₁ / ‖v‖∞ */
export function localizationRatio(vec: ArrayLike<number>): number {
  const abs = Array.from(vec, Math.abs);
  return npSum(abs) / npMax(abs);
}

/** ‖v‖₂ / ‖v‖₄ */
export function participationRatio(vec: ArrayLike<number>): number {
  let dot = 0;
  const p4 = new Float64Array(vec.length);
  for (let i = 0; i < vec.length; i++) {
    dot += vec[i]! * vec[i]!;
    p4[i] = Math.abs(vec[i]!) ** 4;
  }
  return Math.sqrt(dot) / npSum(p4) ** 0.25;
}

/** RMT_Util.vector_entropy: the scalar Porter–Thomas stand-in exp(−‖u‖₂/2)/√(2π). */
export function vectorEntropy(u: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < u.length; i++) dot += u[i]! * u[i]!;
  return Math.exp(-Math.sqrt(dot) / 2) / Math.sqrt(2.0 * Math.PI);
}

export interface VectorMetricsRow {
  length: number;
  entropy: number;
  discrete_entropy: number;
  localization_ratio: number;
  participation_ratio: number;
}

/**
 * vector_metrics(vectors): one row per vector. The reference writes the discrete entropy into a
 * misspelled `discete_entropy` column and leaves `discrete_entropy` empty (Q25); here it is in
 * `discrete_entropy` (documented fix).
 */
export function vectorMetrics(vectors: ArrayLike<number> | readonly ArrayLike<number>[]): VectorMetricsRow[] {
  const list: ArrayLike<number>[] =
    typeof (vectors as ArrayLike<unknown>)[0] === 'number'
      ? [vectors as ArrayLike<number>]
      : [...(vectors as readonly ArrayLike<number>[])];
  return list.map((v) => ({
    length: v.length,
    entropy: vectorEntropy(v),
    discrete_entropy: discreteEntropy(v),
    localization_ratio: localizationRatio(v),
    participation_ratio: participationRatio(v),
  }));
}

function meanVar(x: number[]): [number, number] {
  if (x.length === 0) return [NaN, NaN];
  const mean = npSum(x) / x.length;
  const dev = x.map((v) => (v - mean) * (v - mean));
  return [mean, npSum(dev) / x.length];
}

const METRICS = [
  ['vec_entropy', discreteEntropy],
  ['loc_ratio', localizationRatio],
  ['part_ratio', participationRatio],
] as const;

/** The 12 eigenvector columns of one layer (row unit). */
export async function vectorColumns(ctx: LayerContext): Promise<Row> {
  const items: { value: number; vec: Float64Array }[] = [];
  for (const m of ctx.mats) {
    const e = await gramEigen(m.data, m.rows, m.cols);
    for (let j = 0; j < e.n; j++) items.push({ value: e.values[j]!, vec: e.vectors.subarray(j * e.n, (j + 1) * e.n) });
  }
  items.sort((a, b) => a.value - b.value);
  // The reference compares each Gram eigenvalue with the fitted xmin, which is itself one of the
  // SVD-based eigenvalues: the vector of that eigenvalue lands on either side depending on the last
  // bits of two different solvers. Split by rank instead: the tail holds as many of the largest
  // eigenvectors as the ESD has eigenvalues ≥ xmin (all of them for a failed fit, xmin = −1).
  const xmin = ctx.powerLaw.xmin;
  let tailCount = 0;
  for (let i = 0; i < ctx.evals.length; i++) if (ctx.evals[i]! >= xmin) tailCount++;
  const firstTail = Math.max(0, items.length - tailCount);
  const groups = { bulk: METRICS.map(() => [] as number[]), tail: METRICS.map(() => [] as number[]) };
  items.forEach((it, i) => {
    const g = i < firstTail ? groups.bulk : groups.tail;
    METRICS.forEach(([, fn], k) => g[k]!.push(fn(it.vec)));
  });
  const row: Row = {};
  for (const name of ['bulk', 'tail'] as const) {
    METRICS.forEach(([metric], k) => {
      const [mean, variance] = meanVar(groups[name][k]!);
      row[`${name}_mean_${metric}`] = mean;
      row[`${name}_var_${metric}`] = variance;
    });
  }
  return row;
}

/** vectors=True: the eigenvector columns. */
export const vectorsExtension: LayerExtension = { name: 'vectors', enabled: (o) => o.vectors, run: vectorColumns };
