/**
 * Marchenko–Pastur fit (`mp_fit=True`, R31): rescale the ESD to mean 1, fit the MP (or, for
 * square layers, quarter-circle) density to a linear-kernel KDE over a σ grid (numpy arange
 * semantics), polish the best grid σ with scipy's Nelder–Mead (`fmin` defaults, run natively),
 * then bulk edges, Tracy–Widom margin, spikes and MP soft rank. Every step follows the reference's
 * floating-point operation order so that the columns agree to ~1e-15.
 */
import { nelderMeadSync } from '../native/binding.js';
import { npMax, npSum } from '../shared/numeric.js';
import type { LayerExtension } from './extensions.js';
import type { Row } from '../shared/rows.js';

export interface MpFit {
  num_spikes: number;
  sigma_mp: number;
  mp_softrank: number;
  W_scale: number;
  bulk_max: number;
  bulk_min: number;
}

/** Extra output of the fit (plots, tests). */
export interface MpFitDetails extends MpFit {
  /** σ grid and objective values (rescaled units). */
  grid: Float64Array;
  objective: Float64Array;
  /** Best grid σ before the Nelder–Mead polish. */
  gridSigma: number;
  /** True when every grid σ was penalised: σ_mp = 0.05·s0, mp_softrank ≈ 0.0025 (Q26). */
  penalised: boolean;
  /** Bulk edge plus Tracy–Widom margin (rescaled units): evals above it are spikes. */
  bulkMaxTW: number;
  /** The rescaled ESD (mean 1). */
  rescaled: Float64Array;
}

const FAILED: MpFit = { num_spikes: -1, sigma_mp: -1, mp_softrank: -1, W_scale: -1, bulk_max: -1, bulk_min: -1 };

const BANDWIDTH = 0.1;
const KDE_POINTS = 1000;
const DENSITY_THRESH = 0.01;

/** np.linspace(a, b, n) */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const div = n - 1;
  const delta = b - a;
  const step = delta / div;
  for (let k = 0; k < n; k++) out[k] = step === 0 ? (k / div) * delta + a : k * step + a;
  if (n > 1) out[n - 1] = b;
  return out;
}

/** np.arange(start, stop, step) for floats: length ceil((stop−start)/step), values start + i·((start+step)−start). */
export function arange(start: number, stop: number, step: number): Float64Array {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(len);
  if (len > 0) out[0] = start;
  if (len > 1) out[1] = start + step;
  const delta = start + step - start;
  for (let i = 2; i < len; i++) out[i] = start + i * delta;
  return out;
}

/**
 * sklearn KernelDensity(kernel='linear', bandwidth=h) evaluated exactly at `at`:
 * f(t) = (1/(n·h)) Σ max(0, 1 − |t − y_i|/h). `y` must be ascending.
 */
export function linearKde(y: Float64Array, at: Float64Array, h: number): Float64Array {
  const n = y.length;
  const out = new Float64Array(at.length);
  let lo = 0;
  for (let j = 0; j < at.length; j++) {
    const t = at[j]!;
    while (lo < n && y[lo]! <= t - h) lo++;
    let s = 0;
    for (let i = lo; i < n && y[i]! < t + h; i++) {
      const d = Math.abs(t - y[i]!);
      if (d < h) s += 1 - d / h;
    }
    out[j] = s / (n * h);
  }
  return out;
}

/** np.argmin: the first minimum, or the first NaN; −1 for an empty array. */
export function npArgmin(a: ArrayLike<number>): number {
  let best = a.length ? 0 : -1;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (Number.isNaN(v)) return i;
    if (v < a[best]!) best = i;
  }
  return best;
}

/** np.nan_to_num for one value: NaN → 0, ±inf → ±max float. */
function nanToNum(v: number): number {
  if (Number.isNaN(v)) return 0;
  if (v === Infinity) return Number.MAX_VALUE;
  if (v === -Infinity) return -Number.MAX_VALUE;
  return v;
}

/** The KDE part of resid_mp, which does not depend on σ. */
interface Density {
  goodX: Float64Array;
  goodY: Float64Array;
  badCount: number;
  /** First good grid point with the maximal density. */
  peakX: number;
  maxGoodX: number;
}

function density(y: Float64Array): Density {
  const xde = linspace(0, npMax(y) + 0.5, KDE_POINTS);
  const yde = linearKde(y, xde, BANDWIDTH);
  const gx: number[] = [];
  const gy: number[] = [];
  let bad = 0;
  for (let i = 0; i < xde.length; i++) {
    if (yde[i]! < DENSITY_THRESH) bad++;
    if (yde[i]! > DENSITY_THRESH) {
      gx.push(xde[i]!);
      gy.push(yde[i]!);
    }
  }
  let peak = 0;
  for (let i = 1; i < gy.length; i++) if (gy[i]! > gy[peak]!) peak = i;
  return {
    goodX: Float64Array.from(gx),
    goodY: Float64Array.from(gy),
    badCount: bad,
    peakX: gx[peak] ?? NaN,
    maxGoodX: gx.length ? Math.max(...gx) : NaN,
  };
}

/** resid_mp(σ) with allresid=False: Σ residual² (numpy pairwise sum), zeros appended for the bad points. */
function residual(sigma: number, d: Density, Q: number): number {
  const n = d.goodX.length;
  const sq = new Float64Array(n + d.badCount);
  if (Q === 1) {
    // quarter_circle_fun: σ does not enter the square root (Q26)
    const c = 1 / (Math.PI * sigma * sigma);
    for (let i = 0; i < n; i++) {
      const x = d.goodX[i]!;
      const r = nanToNum(c * Math.sqrt(4 - x * x)) - d.goodY[i]!;
      sq[i] = r * r;
    }
  } else {
    if (n === 0) throw new Error('mp_fit: the ESD density is below the threshold everywhere');
    const y = 1 / Q;
    const s = Math.sqrt(1 / Q);
    const bq = sigma * (1 + s);
    const aq = sigma * (1 - s);
    const b = bq * bq;
    const a = aq * aq;
    if (b < d.peakX || b > d.maxGoodX || a > d.peakX) {
      for (let i = 0; i < n; i++) sq[i] = 1000 * 1000;
    } else {
      for (let i = 0; i < n; i++) {
        const x = d.goodX[i]!;
        const r = nanToNum((1 / (2 * Math.PI * sigma * sigma * x * y)) * Math.sqrt((b - x) * (x - a))) - d.goodY[i]!;
        sq[i] = r * r;
      }
    }
  }
  return npSum(sq);
}

/** The reference's mp_fit on an eigenvalue array (ascending not required) of a layer with N, M. */
export function mpFitDetails(evals: Float64Array, N: number, M: number): MpFitDetails {
  const Q = N / M;
  const Wnorm = Math.sqrt(npSum(evals));
  const Wscale = Math.sqrt(evals.length) / Wnorm;
  const s2 = Wscale * Wscale;
  const x = evals.map((v) => s2 * v);
  const sorted = Float64Array.from(x).sort();
  const lambdaMax = npMax(x);
  if (!Number.isFinite(lambdaMax)) throw new Error('mp_fit: non-finite rescaled eigenvalues');

  // fit_density_with_range: σ grid from calc_sigma on the rescaled evals
  const invSqQ = 1.0 / Math.sqrt(Q);
  const sigma0 = Math.sqrt(lambdaMax / ((1 + invSqQ) * (1 + invSqQ)));
  const grid = arange(0.05 * sigma0, 2.0 * sigma0, 0.01 * sigma0);
  const toFit = Q === 1 ? sorted.map(Math.sqrt) : sorted;
  const d = density(toFit);
  const objective = grid.map((s) => residual(s, d, Q));
  const best = npArgmin(objective);
  if (best < 0) throw new Error('mp_fit: empty σ grid');
  const penalised = Q !== 1 && objective.every((v) => v === objective[0]);
  const nm = nelderMeadSync(([s]) => residual(s!, d, Q), [grid[best]!]);
  const s1 = nm.x[0]!;

  const bmq = s1 * (1 + 1 / Math.sqrt(Q));
  const bnq = s1 * (1 - 1 / Math.sqrt(Q));
  const bulkMax = bmq * bmq;
  const bulkMin = bnq * bnq;
  const TW = (1 / Math.sqrt(Q)) * Math.pow(bulkMax, 2 / 3) * Math.pow(M, -2 / 3);
  const bulkMaxTW = bulkMax + Math.sqrt(TW);
  let spikes = 0;
  for (let i = 0; i < x.length; i++) if (x[i]! > bulkMaxTW) spikes++;
  return {
    num_spikes: spikes,
    sigma_mp: s1,
    mp_softrank: bulkMax / lambdaMax,
    W_scale: Wscale,
    bulk_max: bulkMax / (Wscale * Wscale),
    bulk_min: bulkMin / (Wscale * Wscale),
    grid,
    objective,
    gridSigma: grid[best]!,
    penalised,
    bulkMaxTW,
    rescaled: x,
  };
}

/**
 * Whether the MP fit's discrete decisions survive a perturbation of every eigenvalue by up to
 * `delta` (the fast route's bound, docs/numerics.md): which KDE grid points count as "good"
 * (density above 0.01) and which rescaled eigenvalues count as spikes. The rest of the fit is
 * continuous in the eigenvalues and moves by about n·δ/Σλ relative, which the layer guard bounds.
 */
export function mpFitStable(evals: Float64Array, N: number, M: number, delta: number): boolean {
  if (delta === 0) return true;
  let r: MpFitDetails;
  try {
    r = mpFitDetails(evals, N, M);
  } catch {
    return false;
  }
  const n = evals.length;
  const s2 = r.W_scale * r.W_scale;
  const shift = (x: number) => s2 * delta * (1 + x); // |Δx| for a rescaled value x (scale n/Σλ moves too)
  for (const x of r.rescaled) if (Math.abs(x - r.bulkMaxTW) <= shift(x) + 1e-12 * r.bulkMaxTW) return false;
  const Q = N / M;
  const sorted = Float64Array.from(r.rescaled).sort();
  const y = Q === 1 ? sorted.map(Math.sqrt) : sorted;
  let moved = 0;
  let maxMove = 0;
  for (let i = 0; i < n; i++) {
    const dx = shift(sorted[i]!);
    const dy = Q === 1 ? Math.min(Math.sqrt(dx), dx / (2 * Math.max(y[i]!, 1e-300))) : dx;
    moved += dy;
    maxMove = Math.max(maxMove, dy);
  }
  // the linear kernel has slope 1/h per point, /(n·h) overall; the grid end (max + 0.5) moves too
  const kdeMove = (moved + n * maxMove) / (n * BANDWIDTH * BANDWIDTH);
  const at = linspace(0, npMax(y) + 0.5, KDE_POINTS);
  const yde = linearKde(y, at, BANDWIDTH);
  for (const v of yde) if (Math.abs(v - DENSITY_THRESH) <= kdeMove) return false;
  return true;
}

/** The six MP columns; any failure gives −1 in all of them, as the reference. */
export function mpFit(evals: Float64Array, N: number, M: number): MpFit {
  try {
    const r = mpFitDetails(evals, N, M);
    return {
      num_spikes: r.num_spikes,
      sigma_mp: r.sigma_mp,
      mp_softrank: r.mp_softrank,
      W_scale: r.W_scale,
      bulk_max: r.bulk_max,
      bulk_min: r.bulk_min,
    };
  } catch {
    return { ...FAILED };
  }
}

export function mpColumns(fit: MpFit, prefix = ''): Row {
  return {
    [`${prefix}num_spikes`]: fit.num_spikes,
    [`${prefix}sigma_mp`]: fit.sigma_mp,
    [`${prefix}mp_softrank`]: fit.mp_softrank,
    [`${prefix}W_scale`]: fit.W_scale,
    [`${prefix}bulk_max`]: fit.bulk_max,
    [`${prefix}bulk_min`]: fit.bulk_min,
  };
}

/** mp_fit=True: the Marchenko–Pastur fit columns. */
export const mpFitExtension: LayerExtension = {
  name: 'mp_fit',
  enabled: (o) => o.mp_fit,
  run: (ctx) => mpColumns(mpFit(ctx.evals, ctx.geometry.N, ctx.geometry.M)),
};
