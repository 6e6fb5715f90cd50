/**
 * pl_package='powerlaw' (R20, R21, R22): a native port of the `powerlaw` Python package 1.5 as
 * WeightWatcher 0.7.5.5 calls it — unique-value xmin candidates, KS on unique values, the in-range
 * candidate rule, xmax='force' fits by Nelder–Mead, the truncated power law (fit='TPL'/'E_TPL') and
 * the xmin_peak candidate range. The engine's 'powerlaw' fitter (engine/wiring.ts).
 */
import { fitPowerLawPackage } from '../native/binding.js';
import type { Fitter, PowerLawParams } from './powerlaw.js';

export function powerlawPackageFitter(p: PowerLawParams): Fitter {
  return async (data, xmax) => {
    const f = await fitPowerLawPackage(data, {
      distribution: p.fit,
      xmax: xmax ?? undefined,
      // fix_fingers='xmin_peak' (also implied by fit='E_TPL'): candidates restricted to the range
      // around the ESD peak, computed natively with numpy's histogram rules (Q23 replicated).
      xminPeak: p.fixFingers === 'xmin_peak',
      xminMax: p.xminMax ?? undefined,
      arrays: p.keepArrays,
    });
    return {
      alpha: f.alpha,
      xmin: f.xmin,
      // The package reports the xmax it was given (None by default, Q42), unlike the 'ww' fitter.
      xmax,
      D: f.D,
      sigma: f.sigma,
      ...(p.fit === 'truncated_power_law' ? { Lambda: f.Lambda } : {}),
      ...(f.xmins ? { xmins: f.xmins, alphas: f.alphas, Ds: f.Ds } : {}),
    };
  };
}
