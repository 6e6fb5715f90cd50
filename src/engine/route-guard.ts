/**
 * The fit-dependent part of the fast route's guard (docs/numerics.md). The route itself is decided
 * natively, in one call per layer (native/core/spectrum.h `computeLayerSpectrum`): the per-matrix
 * ladder (sv_min and the rank of each slice) and the layer's rules on the spectrum alone, which
 * protect these columns:
 *
 * - matrix_rank, entropy's rank: every slice's certified σmin above the pooled tolerance σmax·N·ε.
 * - the fitted set (λ > 1e-5) and weak_rank_loss (λ < tolerance): no eigenvalue within δ of either.
 * - norm, log_norm, stable_rank, mp_fit's scale: Σλ checked a posteriori against Σw² of the
 *   matrix (summed natively with compensation): at most 1e-10 relative apart.
 * - spectral_norm, lambda_max, log_spectral_norm, sv_max, alpha_weighted: δ ≤ 1e-10·λmax.
 *
 * The rules here need the power-law fit, so they run after it, as the `verify` step of the layer's
 * one native call (engine/layer.ts spectrumAndFit → spectra/esd.ts computeEsd). They choose no
 * route: a reason only rejects the Gram values, and the native layer then finishes with ?gesdd on
 * the matrices it already holds (native/napi/layer_handle.h). The Gram eigenvalues are exact to within δ
 * (esd.errorBound) in absolute terms; each rule names the columns it protects:
 *
 * - alpha, D, sigma, xmin, xmax, num_pl_spikes (+ TPL's Lambda, clip_xmax's): fitStable.
 * - log_alpha_norm (Σλ^alpha): worst-case bound ≤ 5e-8 relative (its parity tolerance is 1e-7, as
 *   alpha's); entropy: worst-case bound (every error aligned) ≤ 5e-10 (normErrorBounds; realistic
 *   errors are about √n times smaller).
 * Rule of thumb: δ itself is ~5× above every error observed (native/core/gram.h), and each column's
 * worst-case bound must stay within half its parity tolerance — sv_min within a tenth.
 * - detX columns: detXStable; mp_fit columns: mpFitStable.
 * `inverse` (1/λ turns the smallest eigenvalues into the tail) and intra (unsquared ESDs) never take
 * the fast route; randomized ESDs use the Gram values without this guard (compared statistically).
 */
import type { Esd } from '../spectra/esd.js';
import { fitStable, type PowerLawColumns } from '../metrics/powerlaw.js';
import { normErrorBounds } from '../metrics/norms.js';
import { detXStable } from '../metrics/detx.js';
import { mpFitStable } from '../metrics/mpfit.js';
import { FLOAT64_EPS } from '../shared/numeric.js';
import type { ResolvedOptions } from '../shared/options.js';

const ALPHA_NORM_REL = 5e-8;
const ENTROPY_REL = 5e-10;

/** Relative difference between Σλ and the matrix's Σw², plus the latter's own rounding. */
function sumRelError(esd: Esd): number {
  let total = 0;
  for (let i = 0; i < esd.evals.length; i++) total += esd.evals[i]!;
  return Math.abs(total - esd.sumOfSquares) / esd.sumOfSquares + 4 * FLOAT64_EPS;
}

function guarded(esd: Esd): boolean {
  return esd.route === 'gram' || esd.route === 'gram+lu' || esd.route === 'gram+qr';
}

/** After the fit: the fit and the columns computed from it. Returns why the layer needs ?gesdd, or undefined. */
export function columnsGuard(esd: Esd, pl: PowerLawColumns, geometry: { N: number; M: number }, o: ResolvedOptions): string | undefined {
  if (!guarded(esd)) return undefined;
  const d = esd.errorBound;
  if (!fitStable(pl, d)) return "the power-law fit is sensitive to the Gram route's error (δ/xmin too large)";
  const b = normErrorBounds(esd.evals, pl.alpha, d, sumRelError(esd));
  if (!(b.alphaNorm <= ALPHA_NORM_REL)) return 'log_alpha_norm is sensitive to the small eigenvalues';
  if (!(b.entropy <= ENTROPY_REL)) return 'the matrix entropy is not accurate enough';
  if (o.detX && !detXStable(esd.evals, d)) return 'the detX product is too close to 1';
  if (o.mp_fit && !mpFitStable(esd.evals, geometry.N, geometry.M, d)) return 'an MP-fit decision is within the error bound';
  return undefined;
}
