/**
 * One planned layer → its details row(s): read the tensor, cut it into matrices, scale conv
 * slices, compute the ESD, fit the power law, then the optional column groups and the norm
 * metrics (R26).
 */
import type { TensorStore } from '../formats/types.js';
import { extractSlice, scaleFloat32, weightScale } from '../tensors/geometry.js';
import { computeEsd, floatMatrix, type Esd, type LayerMatrix, type Matrix } from '../spectra/esd.js';
import type { SvdRoute } from '../native/binding.js';
import { EVALS_THRESH, fitLayerPowerLaw, type PowerLawColumns, type PowerLawParams } from '../metrics/powerlaw.js';
import { normColumns } from '../metrics/norms.js';
import { shapeSize } from '../formats/decode.js';
import { WeightWatcherError } from '../shared/errors.js';
import type { Random } from '../shared/random.js';
import type { DetailsRow, Row } from '../shared/rows.js';
import { enabledExtensions, fitterFor } from './wiring.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { PlannedLayer } from './plan.js';
import { columnsGuard } from './route-guard.js';

export interface LayerResult {
  readonly row: DetailsRow;
  /** The spectrum route of the row's matrices (also the `svd_route` column); set by analyze. */
  readonly route?: SvdRoute;
  /** Why the fast method used ?gesdd for this row, when it did. */
  readonly fallback?: string;
  /** Seconds spent in each native phase (benchmarks). */
  readonly seconds?: Esd['seconds'];
  /** Kept only with keep_evals: the ESD and fit behind the row (plots, getESD). */
  readonly evals?: Float64Array;
  readonly powerLaw?: PowerLawColumns;
  readonly extra?: ReadonlyMap<string, unknown>;
}

export function powerLawParams(o: ResolvedOptions): PowerLawParams {
  return {
    xmax: o.xmax,
    fixFingers: o.fix_fingers,
    fingerThresh: o.finger_thresh,
    maxFingers: o.max_fingers,
    xminMax: o.xmin_max,
    fit: o.fit,
    plPackage: o.pl_package,
    keepArrays: o.keep_evals,
  };
}

/** Read the layer's weight and return its 2-D slices as stored (unscaled), decoded to float32. */
export async function readLayerMatrices(store: TensorStore, layer: PlannedLayer): Promise<Matrix[]> {
  const { spec, geometry: g } = layer;
  const tensor = spec.tensor!;
  const data = await store.read(tensor);
  const expected = shapeSize(spec.shape, tensor);
  if (data.length !== expected) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${store.source}: tensor "${tensor}" decoded to ${data.length} values, expected ${expected} for shape [${spec.shape.join(', ')}]`,
      { tensor },
    );
  }
  return g.slices.map((s) => ({ data: extractSlice(data, spec.shape, g, s), rows: g.rows, cols: g.cols }));
}

/**
 * readLayerMatrices for the analysis loop: a dense weight stored as F32/F16/BF16 comes back as its
 * file bytes (StoredMatrix), converted to float64 natively off the main thread with the same
 * values; conv slices and other dtypes are decoded here.
 */
export async function readLayerForAnalysis(store: TensorStore, layer: PlannedLayer): Promise<LayerMatrix[]> {
  const { spec, geometry: g } = layer;
  if (g.sliceAxes !== 'dense' || !store.readStored) return readLayerMatrices(store, layer);
  const tensor = spec.tensor!;
  const raw = await store.readStored(tensor);
  if (!raw) return readLayerMatrices(store, layer);
  const expected = shapeSize(spec.shape, tensor);
  const count = raw.bytes.byteLength / (raw.dtype === 'F32' ? 4 : 2);
  if (count !== expected) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${store.source}: tensor "${tensor}" has ${count} values, expected ${expected} for shape [${spec.shape.join(', ')}]`,
      { tensor },
    );
  }
  return [{ bytes: raw.bytes, dtype: raw.dtype, rows: g.rows, cols: g.cols }];
}

/** The groups of slices that each give one row: all slices pooled, or one row per slice. */
function rowUnits(layer: PlannedLayer, mats: LayerMatrix[], o: ResolvedOptions): { mats: LayerMatrix[]; sliceId?: number }[] {
  if (o.pool) return [{ mats }];
  if (layer.spec.type !== 'conv2d') return [{ mats, sliceId: 0 }];
  return mats.map((m, i) => ({ mats: [m], sliceId: i }));
}

/** Variants of the per-layer pipeline used by the intra-layer iterator. */
export interface LayerVariant {
  /** ESD = singular values, not squared (Q15), and an `Xflag` column. */
  readonly intra?: boolean;
  /**
   * The OpenBLAS threads this layer runs with, from the scheduler's plan: they choose the Gram
   * route's eigensolver (native/core/gram.cc). Default: the process's OpenBLAS count when the
   * layer's native call starts.
   */
  readonly blasThreads?: number;
  /** The scheduler runs this layer alone (engine/scheduler.ts Slot), which the eigensolver may use (native/core/gram.h). */
  readonly exclusive?: boolean;
  /** The call's signal: an aborted call skips the ?gesdd of a layer whose Gram values its fit rejected. */
  readonly signal?: AbortSignal;
}

function scaled(m: LayerMatrix, factor: number): LayerMatrix {
  if (factor === 1) return m;
  const f = floatMatrix(m);
  // Stored weights are float32; products computed in float64 (intra) are scaled in float64.
  const data = f.data instanceof Float32Array ? scaleFloat32(f.data, factor) : f.data.map((v) => v * factor);
  return { ...f, data };
}

interface Spectrum {
  esd: Esd;
  evals: Float64Array;
  pl: PowerLawColumns;
  fallback?: string;
}

/**
 * ESD and power-law fit of one row unit, in one native layer call (spectra/esd.ts,
 * native/core/spectrum.h), which decides the route: the matrix ladder, the never-mixed routes and
 * the layer's guard on the spectrum itself (rank, λmax, Σλ, and the fit and weak_rank_loss
 * thresholds). What needs the fit is its `verify` step: the fit, then columnsGuard. A rejection can
 * only send the whole unit to ?gesdd, which the same native call finishes (routes are never mixed
 * within a row); the unit is then fitted again on the ?gesdd values.
 */
async function spectrumAndFit(
  mats: readonly LayerMatrix[],
  g: PlannedLayer['geometry'],
  o: ResolvedOptions,
  params: PowerLawParams,
  variant: LayerVariant,
): Promise<Spectrum> {
  const fit = async (esd: Esd): Promise<Spectrum> => {
    let evals = esd.evals;
    if (o.inverse) evals = evals.map((v) => 1 / v).sort(); // Q16 fixed: invert once, after all slices
    return { esd, evals, pl: await fitLayerPowerLaw(evals, params, fitterFor(params)) };
  };
  // The fit of Gram values the check accepted: the unit is not fitted twice.
  const kept: { fit?: Spectrum } = {};
  const esd = await computeEsd(mats, {
    N: g.N,
    method: o.svd_method,
    precision: o.precision,
    unsquared: variant.intra === true,
    keep: g.numComponents,
    // inverse: 1/λ makes the smallest eigenvalues the tail, which only ?gesdd gives accurately
    inverse: o.inverse,
    ...(variant.blasThreads !== undefined ? { threads: variant.blasThreads } : {}),
    ...(variant.exclusive === true ? { exclusive: true } : {}),
    ...(variant.signal !== undefined ? { signal: variant.signal } : {}),
    layerGuard: {
      thresholds: [
        { value: EVALS_THRESH, name: 'the fit threshold 1e-5' },
        { value: o.tolerance, name: 'the weak_rank_loss tolerance' },
      ],
    },
    verify: async (gram) => {
      const s = await fit(gram);
      const why = columnsGuard(gram, s.pl, g, o);
      if (why === undefined) kept.fit = s;
      return why;
    },
  });
  const s = kept.fit ?? (await fit(esd));
  // the native ladder's reason, or the check's (the native call records either as the fallback)
  return esd.fallback !== undefined ? { ...s, fallback: esd.fallback } : s;
}

export async function analyzeLayer(
  layer: PlannedLayer,
  rawMats: LayerMatrix[],
  o: ResolvedOptions,
  random: Random,
  variant: LayerVariant = {},
): Promise<LayerResult[]> {
  const { spec, geometry: g } = layer;
  const results: LayerResult[] = [];
  // Pooled slices are scaled with count 1, unpooled ones with count rf (Q40).
  const factor = weightScale(spec.type, g.N, g.M, o.pool ? 1 : g.rf, o);
  const params = powerLawParams(o);
  for (const unit of rowUnits(layer, rawMats, o)) {
    const mats = unit.mats.map((m) => scaled(m, factor));
    const { esd, evals, pl, fallback } = await spectrumAndFit(mats, g, o, params, variant);
    let weak = 0;
    for (let i = 0; i < evals.length; i++) if (evals[i]! < o.tolerance) weak++;
    const core = {
      layer_id: spec.id,
      name: spec.name,
      longname: spec.longname,
      layer_type: spec.type,
      N: g.N,
      M: g.M,
      Q: g.M === 0 ? -1 : g.N / g.M,
      rf: g.rf,
      has_esd: true,
      num_evals: evals.length,
      sv_max: esd.svMax,
      sv_min: esd.svMin,
      rank_loss: esd.rankLoss,
      weak_rank_loss: weak,
      lambda_max: evals[evals.length - 1] ?? NaN,
      alpha: pl.alpha,
      D: pl.D,
      sigma: pl.sigma,
      xmin: pl.xmin,
      xmax: pl.xmax,
      num_pl_spikes: pl.num_pl_spikes,
      status: pl.status,
      warning: pl.warning,
    };
    const extra: Row = { ...layer.columns };
    if (pl.Lambda !== undefined) extra.Lambda = pl.Lambda;
    if (pl.num_fingers !== undefined) extra.num_fingers = pl.num_fingers;
    if (pl.raw_alpha !== undefined) extra.raw_alpha = pl.raw_alpha;
    if (unit.sliceId !== undefined) extra.slice_id = unit.sliceId;
    if (variant.intra) extra.Xflag = true;
    const keep = new Map<string, unknown>();
    const floatMats = enabledExtensions(o).length ? mats.map(floatMatrix) : [];
    for (const ext of enabledExtensions(o)) {
      Object.assign(extra, await ext.run({ spec, geometry: g, mats: floatMats, evals, powerLaw: pl, options: o, random, keep }));
    }
    // svd_route: an extension column (docs/numerics.md)
    const row: DetailsRow = { ...core, ...extra, ...normColumns(evals, pl.alpha, g.N), svd_route: esd.route };
    const route = { route: esd.route, ...(fallback !== undefined ? { fallback } : {}), seconds: esd.seconds };
    results.push(o.keep_evals ? { row, ...route, evals, powerLaw: pl, extra: keep } : { row, ...route });
  }
  return results;
}
