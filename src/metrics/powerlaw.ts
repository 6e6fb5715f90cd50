/**
 * The per-layer power-law fit as the reference's fit_powerlaw does it (R18, R23):
 * xmax handling, the 1e-5 threshold, fix_fingers variants, failure values and the warning label.
 */
import { fitPowerLaw as nativeFit } from '../native/binding.js';
import type { FixFingers } from '../shared/options.js';
import type { PowerLawFitColumns } from '../shared/rows.js';

/** Eigenvalues at or below this are left out of every power-law fit. */
export const EVALS_THRESH = 1e-5;
export const OVER_TRAINED_ALPHA = 2.0;
export const UNDER_TRAINED_ALPHA = 6.0;

export interface PowerLawParams {
  /** null: no xmax; 'force': xmax = max eval; integer k ≠ 0: drop the |k| largest evals first. */
  readonly xmax: number | 'force' | null;
  readonly fixFingers: FixFingers;
  readonly fingerThresh: number;
  readonly maxFingers: number;
  readonly xminMax: number | null;
  readonly fit: 'power_law' | 'truncated_power_law';
  readonly plPackage: 'ww' | 'powerlaw';
  /** Keep per-candidate arrays (xmins, alphas, Ds) for plots. */
  readonly keepArrays: boolean;
}

/** One fit of one data set, whichever fitter made it. */
export interface FitOutcome {
  readonly alpha: number;
  readonly xmin: number;
  readonly xmax: number | null;
  readonly D: number;
  readonly sigma: number;
  readonly Lambda?: number;
  readonly xmins?: Float64Array;
  readonly alphas?: Float64Array;
  readonly Ds?: Float64Array;
}

/** data: thresholded evals (ascending); xmax: the upper limit passed to the fitter, if any. */
export type Fitter = (data: Float64Array, xmax: number | null) => Promise<FitOutcome>;

/** The fit's row columns, plus what plots and failure notes need. */
export interface PowerLawColumns extends PowerLawFitColumns {
  /** The fit behind the columns, with candidate arrays when requested (plots). */
  fit?: FitOutcome;
  /** Why the fit failed, when it did (not a reference column). */
  failure?: string;
}

export function wwFitter(keepArrays: boolean): Fitter {
  return async (data, xmax) => {
    const f = await nativeFit(data, { xmax: xmax ?? undefined, arrays: keepArrays });
    return { alpha: f.alpha, xmin: f.xmin, xmax: f.xmax, D: f.D, sigma: f.sigma, xmins: f.xmins, alphas: f.alphas, Ds: f.Ds };
  };
}

/** Makes the fitter for one layer's parameters (the engine picks one per pl_package). */
export type FitterFactory = (params: PowerLawParams) => Fitter;

export function warningFor(alpha: number): PowerLawColumns['warning'] {
  if (alpha < OVER_TRAINED_ALPHA) return 'over-trained';
  if (alpha > UNDER_TRAINED_ALPHA) return 'under-trained';
  return '';
}

function aboveThreshold(evals: Float64Array): Float64Array {
  return evals.filter((v) => v > EVALS_THRESH);
}

function countAtLeast(evals: Float64Array, xmin: number): number {
  let n = 0;
  for (let i = 0; i < evals.length; i++) if (evals[i]! >= xmin) n++;
  return n;
}

/** clip_xmax (R23): drop the largest values while that lowers alpha by more than finger_thresh. */
async function fitClipped(nz: Float64Array, nEvals: number, xmax: number | null, p: PowerLawParams, fitter: Fitter) {
  // Q12: the reference only honours max_fingers when it is at least half the number of evals.
  const maxFingers = p.maxFingers >= nEvals / 2 ? p.maxFingers : 10;
  const first = await fitter(nz, xmax);
  let best = first;
  let numFingers = 0;
  let limit = xmax;
  for (let idx = 2; idx < maxFingers; idx++) {
    if (limit !== null) limit = nz[nz.length - idx]!;
    const f = await fitter(nz.subarray(0, nz.length - idx), limit);
    if (f.alpha + p.fingerThresh < first.alpha) {
      best = f;
      numFingers = idx - 1; // Q24: reported as idx-1 although idx values were dropped
      break;
    }
    if (f.alpha <= OVER_TRAINED_ALPHA) break;
  }
  return { best, numFingers, rawAlpha: first.alpha };
}

/**
 * Whether a successful fit's columns (alpha, D, sigma, xmin, num_pl_spikes, …) stay within 5e-8
 * relative (half their parity tolerance) when every eigenvalue may be off by up to `delta` (the fast route's bound,
 * docs/numerics.md): each tail value λ ≥ xmin moves by at most δ/xmin relative (r), so the mean
 * log of λ/xmin moves by ≤ 2r, alpha by ≤ 2r·(α−1)² and the KS distance by ≤ 3r·(α−1).
 * Failed fits have nothing to move. Which candidate xmin wins is a discrete choice between KS
 * distances; it flips only at near-ties, which the same bound makes as rare as BLAS-kernel changes.
 */
export function fitStable(pl: PowerLawColumns, delta: number): boolean {
  if (pl.status !== 'success' || delta === 0) return true;
  const r = delta / pl.xmin;
  if (!(r < 1e-6)) return false;
  const a1 = Math.abs(pl.alpha - 1);
  return 2 * r * a1 * a1 <= 5e-8 * Math.abs(pl.alpha) && 3 * r * a1 <= 5e-8 * Math.abs(pl.D);
}

/**
 * Fit one layer's ESD with `fitter` (made for `p`). `evals` are all the layer's eigenvalues,
 * ascending. Never throws for fit failures: they give the reference's failure values (alpha = -1,
 * status 'failed').
 */
export async function fitLayerPowerLaw(evals: Float64Array, p: PowerLawParams, fitter: Fitter): Promise<PowerLawColumns> {
  const tpl = p.fit === 'truncated_power_law';
  const failed = (xmax: number | null, failure: string): PowerLawColumns => ({
    alpha: -1,
    D: -1,
    sigma: -1,
    xmin: -1,
    xmax,
    num_pl_spikes: -1,
    status: 'failed',
    warning: warningFor(-1),
    failure,
    ...(tpl ? { Lambda: -1 } : {}),
    ...(p.fixFingers === 'clip_xmax' ? { num_fingers: 0, raw_alpha: -1 } : {}),
  });

  let xmax: number | null = null;
  let data = evals;
  if (p.xmax === 'force') {
    xmax = evals.length ? evals[evals.length - 1]! : null;
  } else if (typeof p.xmax === 'number') {
    const k = Math.abs(p.xmax);
    // Q18 fixed: the reference flags failure but then fits with k as an eigenvalue value.
    if (k > evals.length / 2) return failed(null, `xmax=${p.xmax} drops more than half of the ${evals.length} eigenvalues`);
    data = evals.subarray(0, evals.length - k);
  }
  const nz = aboveThreshold(data);

  try {
    let fit: FitOutcome;
    let extra: Pick<PowerLawColumns, 'num_fingers' | 'raw_alpha'> = {};
    if (p.fixFingers === 'clip_xmax') {
      const r = await fitClipped(nz, evals.length, xmax, p, fitter);
      fit = r.best;
      extra = { num_fingers: r.numFingers, raw_alpha: r.rawAlpha };
    } else {
      fit = await fitter(nz, xmax);
    }
    if (Number.isNaN(fit.alpha)) return failed(xmax, 'the fitted alpha is NaN');
    const alpha = fit.alpha;
    return {
      alpha,
      D: fit.D,
      sigma: fit.sigma,
      xmin: fit.xmin,
      xmax: fit.xmax,
      num_pl_spikes: countAtLeast(data, fit.xmin),
      status: 'success',
      warning: warningFor(alpha),
      ...(tpl ? { Lambda: fit.Lambda ?? -1 } : {}),
      ...extra,
      fit,
    };
  } catch (e) {
    return failed(xmax, e instanceof Error ? e.message : String(e));
  }
}
