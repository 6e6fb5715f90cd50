/**
 * The engine's explicit lists of optional parts: the column groups each layer may get and the
 * power-law fitters. Adding a metric group or a fitter means adding it here — nothing registers
 * itself by being imported.
 */
import type { ResolvedOptions } from '../shared/options.js';
import type { LayerExtension } from '../metrics/extensions.js';
import { mpFitExtension } from '../metrics/mpfit.js';
import { vectorsExtension } from '../metrics/vectors.js';
import { randomizeExtension } from '../metrics/randomize.js';
import { detXExtension } from '../metrics/detx.js';
import { wwFitter, type Fitter, type FitterFactory, type PowerLawParams } from '../metrics/powerlaw.js';
import { powerlawPackageFitter } from '../metrics/plpackage.js';

/** Optional column groups, in the reference's processing order (R26): mp_fit, vectors, randomize, detX. */
export const EXTENSIONS: readonly LayerExtension[] = [mpFitExtension, vectorsExtension, randomizeExtension, detXExtension];

/** pl_package → fitter: the built-in 'ww' fit and the port of the powerlaw package (TPL, xmax='force', xmin_peak). */
export const FITTERS: Readonly<Record<PowerLawParams['plPackage'], FitterFactory>> = {
  ww: (p) => wwFitter(p.keepArrays),
  powerlaw: powerlawPackageFitter,
};

export function enabledExtensions(o: ResolvedOptions): LayerExtension[] {
  return EXTENSIONS.filter((e) => e.enabled(o));
}

export function fitterFor(p: PowerLawParams): Fitter {
  return FITTERS[p.plPackage](p);
}
