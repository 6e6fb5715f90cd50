/**
 * Randomized ESD (`randomize=True`, R32): every (scaled) matrix of the layer with its entries
 * shuffled (a uniform permutation), its ESD, and the reference's comparisons with the real ESD:
 * `max_rand_eval` and the `rand_*` MP columns from a first draw (5 replicas when the layer has
 * fewer than 100 components), `rand_distance` (element-wise Jensen–Shannon distance of the sorted
 * eigenvalue vectors, Q38), `ww_softrank` and `ww_maxdist` from a second, independent draw.
 * Shuffles use the analysis' seedable Random (option `seed`); the reference is unseeded, so these
 * columns can only be compared with it statistically.
 */
import { svdvalsDetailed } from '../native/binding.js';
import { npMax, npSum } from '../shared/numeric.js';
import type { Random } from '../shared/random.js';
import type { Matrix } from '../spectra/esd.js';
import type { LayerContext, LayerExtension } from './extensions.js';
import type { Row } from '../shared/rows.js';
import { mpColumns, mpFit } from './mpfit.js';

/** A copy of the matrix with its entries shuffled (Fisher–Yates over the flattened data). */
export function shuffledMatrix(m: Matrix, random: Random): Matrix {
  const data = m.data.slice();
  random.shuffle(data);
  return { data, rows: m.rows, cols: m.cols };
}

/**
 * RMT_Util's random_eigenvalues: for each replica and matrix, shuffle, full SVD, keep the largest
 * `nComp` singular values, square (or keep them raw for intra); concatenate; invert if asked; sort.
 */
export async function randomEigenvalues(
  mats: readonly Matrix[],
  nComp: number,
  replicas: number,
  random: Random,
  opts: { intra?: boolean; inverse?: boolean; precision?: 'float64' | 'float32'; method?: 'fast' | 'accurate' } = {},
): Promise<Float64Array> {
  // The fast method takes the shuffled matrices' Gram eigenvalues as they are (no σmin refinement):
  // these columns are statistics of the whole ESD, compared with the reference statistically. 1/λ
  // (inverse) and unsquared ESDs (intra) need ?gesdd's small values.
  const method = opts.method === 'fast' && !opts.inverse && !opts.intra ? 'fast' : 'accurate';
  const parts: number[] = [];
  for (let r = 0; r < replicas; r++) {
    for (const m of mats) {
      const s = shuffledMatrix(m, random);
      const spec = await svdvalsDetailed(s.data, s.rows, s.cols, {
        precision: opts.precision ?? 'float64',
        method,
        refineMin: false,
        rankN: 0,
      });
      const values = opts.intra ? spec.sv : spec.evals;
      for (const v of values.subarray(Math.max(0, values.length - nComp))) parts.push(v);
    }
  }
  let out = Float64Array.from(parts);
  if (opts.inverse) out = out.map((v) => 1 / v);
  return out.sort();
}

/**
 * scipy.stats.entropy(p, q) (relative entropy, natural log): both normalised to sum 1 with numpy's
 * pairwise sums, rel_entr element-wise, summed pairwise.
 */
export function relativeEntropy(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const n = p.length;
  const sp = npSum(p);
  const sq = npSum(q);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = (1.0 * p[i]!) / sp;
    const y = (1.0 * q[i]!) / sq;
    if (Number.isNaN(x) || Number.isNaN(y)) v[i] = NaN;
    else if (x > 0 && y > 0) v[i] = x * Math.log(x / y);
    else if (x === 0 && y >= 0) v[i] = 0;
    else v[i] = Infinity;
  }
  return npSum(v);
}

/** RMT_Util.jensen_shannon_distance on two equally long vectors (no binning, Q38). */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new Error(`jensen_shannon_distance: lengths differ (${p.length} vs ${q.length})`);
  const m = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) m[i] = (p[i]! + q[i]!) / 2;
  const divergence = (relativeEntropy(p, m) + relativeEntropy(q, m)) / 2;
  return Math.sqrt(divergence);
}

/** The randomize column group of one layer (row unit). */
export async function randomizeColumns(ctx: LayerContext): Promise<Row> {
  const { mats, evals, geometry: g, options: o, random } = ctx;
  const nComp = g.numComponents;
  const replicas = nComp < 100 ? 5 : 1;
  const opts = { inverse: o.inverse, precision: o.precision, method: o.svd_method };
  const R1 = await randomEigenvalues(mats, nComp, replicas, random, opts);
  const R2 = await randomEigenvalues(mats, nComp, 1, random, opts);
  ctx.keep.set('rand_evals', R1);
  const maxEval = npMax(evals);
  const maxR2 = npMax(R2);
  let distance: number;
  try {
    distance = jensenShannonDistance(evals, R2);
  } catch {
    distance = NaN;
  }
  return {
    max_rand_eval: npMax(R1),
    rand_distance: distance,
    ww_softrank: maxR2 / maxEval,
    ww_maxdist: maxEval - maxR2,
    ...mpColumns(mpFit(R1, g.N, g.M), 'rand_'),
  };
}

/** randomize=True: compare the ESD with that of the shuffled matrices. */
export const randomizeExtension: LayerExtension = { name: 'randomize', enabled: (o) => o.randomize, run: randomizeColumns };
