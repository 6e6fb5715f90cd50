/**
 * The shape of an optional per-layer column group (mp_fit, randomize, detX, vectors …), so the core
 * layer pipeline stays the same whichever options are on. Each runs after the power-law fit and
 * returns the columns it adds; the engine lists them, in the reference's order (R26), in
 * engine/extensions.ts.
 */
import type { Matrix } from '../spectra/esd.js';
import type { PowerLawColumns } from './powerlaw.js';
import type { LayerSpec } from '../layers/types.js';
import type { Geometry } from '../tensors/geometry.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { Random } from '../shared/random.js';
import type { Row } from '../shared/rows.js';

export interface LayerContext {
  readonly spec: LayerSpec;
  readonly geometry: Geometry;
  /** The matrices the ESD was computed from (after conv2d_norm scaling). */
  readonly mats: readonly Matrix[];
  /** Eigenvalues, ascending. */
  readonly evals: Float64Array;
  readonly powerLaw: PowerLawColumns;
  readonly options: ResolvedOptions;
  readonly random: Random;
  /** Extra per-layer data an extension wants to keep for plots (e.g. randomized evals). */
  readonly keep: Map<string, unknown>;
}

export interface LayerExtension {
  readonly name: string;
  enabled(o: ResolvedOptions): boolean;
  run(ctx: LayerContext): Promise<Row> | Row;
}
