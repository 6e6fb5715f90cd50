/**
 * The maps from per-layer alphas to per-layer settings (docs/recipes.md): AlphaPruning's
 * sparsities, TempBalance's learning rates, Adaptive-Rank-LoRA's scores and ranks. Plain
 * functions over numbers, in the papers' (float64 numpy/pandas) arithmetic unless noted.
 */
import { npSum } from '../shared/numeric.js';

export interface SparsityInput {
  /** alpha_peak of every analysed layer, in module order. */
  readonly alphas: readonly number[];
  /** Parameter count of every layer. */
  readonly numel: readonly number[];
  readonly layersPerBlock: number;
  readonly sparsity: number;
  readonly epsilon: number;
}

export interface SparsityOutput {
  readonly scores: number[];
  readonly ratios: number[];
  /** True when every score was equal (or one block): uniform ratios instead of 0/0 = NaN (RQ7). */
  readonly uniform: boolean;
}

/**
 * AlphaPruning `ww_sparsity` (block_wise): each block's mean alpha, mapped linearly onto
 * [1 − ε, 1 + ε], then scaled so that the parameter-weighted mean equals the target. The target's
 * numerator is float32 as in the paper (int64 tensor × float → float32: 0.69999997 for 0.7, RQ6).
 */
export function alphaPruningSparsity(inp: SparsityInput): SparsityOutput {
  const { alphas, numel, sparsity, epsilon } = inp;
  const L = Math.max(1, inp.layersPerBlock);
  const scores: number[] = [];
  for (let i = 0; i < alphas.length; i += L) {
    const chunk = alphas.slice(i, i + L);
    const mean = npSum(chunk) / chunk.length;
    for (let j = 0; j < L; j++) scores.push(mean);
  }
  scores.length = alphas.length;
  const s1 = 1 - epsilon;
  const s2 = 1 + epsilon;
  let max = -Infinity;
  let min = Infinity;
  for (const s of scores) {
    if (s > max) max = s;
    if (s < min) min = s;
  }
  const uniform = !(max > min);
  const r = scores.map((s) => (uniform ? 1 : ((s - min) / (max - min)) * (s2 - s1) + s1));
  let total = 0;
  for (const n of numel) total += n;
  const target = Math.fround(Math.fround(total) * Math.fround(sparsity));
  let weighted = 0;
  for (let i = 0; i < r.length; i++) weighted += numel[i]! * r[i]!;
  const scaler = target / weighted;
  return { scores, ratios: r.map((x) => x * scaler), uniform };
}

export type AssignFunc = 'tb_linear_map' | 'tb_sqrt' | 'tb_log2' | 'tb_step';
export const ASSIGN_FUNCS: readonly AssignFunc[] = ['tb_linear_map', 'tb_sqrt', 'tb_log2', 'tb_step'];

/** TempBalance `get_layer_temps`: per-layer learning rates from the kept layers' alphas (lr ratios 0.5…1.5). */
export function tempBalanceLr(alphas: readonly number[], lr: number, fn: AssignFunc): number[] {
  const n = alphas.length;
  const lo = 0.5 * lr;
  const hi = 1.5 * lr;
  if (n === 0) return [];
  if (fn === 'tb_linear_map') {
    const min = Math.min(...alphas);
    const max = Math.max(...alphas);
    // np.interp over [min, max] → [lo, hi]; with min = max numpy gives every layer hi, here lr (RQ9)
    if (!(max > min)) return alphas.map(() => lr);
    const slope = (hi - lo) / (max - min);
    return alphas.map((a) => (a >= max ? hi : a <= min ? lo : slope * (a - min) + lo));
  }
  if (fn === 'tb_sqrt' || fn === 'tb_log2') {
    const f = fn === 'tb_sqrt' ? Math.sqrt : Math.log2;
    const v = alphas.map(f);
    const s = npSum(v);
    return v.map((x) => (x / s) * n * lr);
  }
  // tb_step: the layer of rank k (ascending alpha; ties by position) gets lr·(0.5 + k/n)
  const idx = alphas.map((_, i) => i).sort((a, b) => alphas[a]! - alphas[b]! || a - b);
  const out = new Array<number>(n);
  idx.forEach((layer, k) => (out[layer] = lr * (0.5 + ((1.5 - 0.5) * k) / n)));
  return out;
}

export interface LoraScoreInput {
  readonly alphas: readonly number[];
  readonly spikes: readonly number[];
}

export interface LoraRanks {
  readonly alphaNormalized: number[];
  readonly spikesNormalized: number[];
  readonly scores: number[];
  readonly selected: boolean[];
  /** Rank of the selected layers, undefined elsewhere. */
  readonly ranks: (number | undefined)[];
}

/** numpy's round: half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Adaptive-Rank-LoRA `compute_adaptive_lora_ranks` with its defaults: min-max normalised alpha and
 * (inverted) spike count, score 0.7·a + 0.3·s, the int(0.5·L) smallest scores selected (ties: the
 * first in module order), ranks 4…64 linear in the score over the selected layers.
 */
export function loraRanks(inp: LoraScoreInput, opts: { percentile?: number; minRank?: number; maxRank?: number } = {}): LoraRanks {
  const percentile = opts.percentile ?? 0.5;
  const minRank = opts.minRank ?? 4;
  const maxRank = opts.maxRank ?? 64;
  const norm = (v: readonly number[]) => {
    const min = Math.min(...v);
    const max = Math.max(...v);
    return v.map((x) => (x - min) / (max - min + 1e-8));
  };
  const a = norm(inp.alphas);
  const s = norm(inp.spikes).map((x) => 1 - x);
  const scores = a.map((x, i) => 0.7 * x + 0.3 * s[i]!);
  const L = scores.length;
  const k = Math.trunc(percentile * L);
  const order = scores.map((_, i) => i).sort((x, y) => scores[x]! - scores[y]! || x - y);
  const selected = new Array<boolean>(L).fill(false);
  for (const i of order.slice(0, k)) selected[i] = true;
  const sel = scores.filter((_, i) => selected[i]);
  const smin = Math.min(...sel);
  const smax = Math.max(...sel);
  const ranks = scores.map((x, i) =>
    selected[i]
      ? Math.min(maxRank, Math.max(minRank, roundHalfEven(minRank + ((maxRank - minRank) * (x - smin)) / (smax - smin + 1e-8))))
      : undefined,
  );
  return { alphaNormalized: a, spikesNormalized: s, scores, selected, ranks };
}

/** Marchenko–Pastur bulk edge with the Tracy–Widom correction, and the eigenvalues above it (Adaptive-Rank-LoRA). */
export function mpSpikes(evals: Float64Array, dims: readonly number[], arith: 'float32' | 'float64'): number {
  const M = Math.min(...dims);
  const N = Math.max(...dims);
  const Q = N / M;
  let sum = 0;
  for (let i = 0; i < evals.length; i++) sum += evals[i]!;
  const sigma2 = arith === 'float32' ? Math.fround(Math.fround(sum) / evals.length) : sum / evals.length;
  const bulk = sigma2 * (1 + 1 / Math.sqrt(Q)) ** 2;
  const edge = bulk + Math.sqrt(Q ** -0.5 * bulk ** (2 / 3) * M ** (-2 / 3));
  let count = 0;
  for (let i = 0; i < evals.length; i++) if (evals[i]! > edge) count++;
  return count;
}
