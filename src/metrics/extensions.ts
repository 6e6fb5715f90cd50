/**
 * Optional per-layer column groups (mp_fit, randomize, detX, vectors …) plug in here, so the core
 * layer pipeline stays the same whichever options are on. Each runs after the power-law fit, in the
 * reference's order (spec §1.11), and returns the columns it adds.
 */
import type { Matrix } from '../spectra/esd.js';
import type { PowerLawColumns } from './powerlaw.js';
import type { LayerSpec } from '../layers/types.js';
import type { Geometry } from '../tensors/geometry.js';
import type { ResolvedOptions } from '../engine/options.js';
import type { Random } from '../util/random.js';

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;

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
  /** Position in the reference's processing order (mp_fit 10, vectors 20, randomize 30, detX 40). */
  readonly order: number;
  enabled(o: ResolvedOptions): boolean;
  run(ctx: LayerContext): Promise<Row> | Row;
}

const registry: LayerExtension[] = [];

export function registerExtension(ext: LayerExtension): void {
  if (!registry.some((e) => e.name === ext.name)) registry.push(ext);
  registry.sort((a, b) => a.order - b.order);
}

export function enabledExtensions(o: ResolvedOptions): LayerExtension[] {
  return registry.filter((e) => e.enabled(o));
}
