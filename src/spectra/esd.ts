/**
 * The empirical spectral density of one layer (R15): squared singular values of every slice,
 * concatenated and sorted, plus the rank columns computed per slice.
 *
 * Two methods (docs/numerics.md): 'accurate' runs ?gesdd on every slice; 'fast' takes the Gram
 * eigenvalues, which the native guard refines (σmin by LU/QR inverse iteration) or replaces by
 * ?gesdd where they cannot give sv_min and the rank. The route is decided natively, in one call per
 * layer (native/core/spectrum.h `computeLayerSpectrum`): a layer never mixes Gram and ?gesdd
 * slices, and with `layerGuard` the layer's own accuracy rules run there too. A check that needs
 * more than the spectrum (analyze: the power-law fit, engine/route-guard.ts) is `verify`: it can
 * only reject the Gram values, and the native layer then takes its last rung (?gesdd on the same
 * matrices, through the handle of the same call). This module only pools the values.
 */
import { layerSpectrum, type LayerSpectrumResult, type MatrixSpectrum, type SvdOptions, type SvdRoute } from '../native/binding.js';
import { decodeToFloat32 } from '../formats/decode.js';
import { AbortedError } from '../shared/errors.js';
import { FLOAT64_EPS } from '../shared/numeric.js';

export interface Matrix {
  readonly data: Float32Array | Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/** A matrix still in its stored form (the bytes of a model file), converted to float64 natively. */
export interface StoredMatrix {
  readonly bytes: Uint8Array;
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly rows: number;
  readonly cols: number;
}

export type LayerMatrix = Matrix | StoredMatrix;

export function isStored(m: LayerMatrix): m is StoredMatrix {
  return (m as StoredMatrix).bytes !== undefined;
}

/** The matrix as float32 values (decoded from its stored bytes when needed; half floats widen exactly). */
export function floatMatrix(m: LayerMatrix): Matrix {
  if (!isStored(m)) return m;
  return { data: decodeToFloat32(m.bytes, m.dtype, m.rows * m.cols, 'matrix'), rows: m.rows, cols: m.cols };
}

export interface Esd {
  /** Eigenvalues of WᵀW (σ²), ascending. */
  readonly evals: Float64Array;
  readonly svMax: number;
  /** Largest per-slice minimum singular value (the reference's sv_min, Q17). */
  readonly svMin: number;
  readonly rankLoss: number;
  /** The algorithm behind the values: the layer's slices all used it (σmin refined on some, for 'gram+lu'/'gram+qr'). */
  readonly route: SvdRoute;
  /** Bound on the absolute error of every eigenvalue in `evals` (0 for ?gesdd). */
  readonly errorBound: number;
  /** Σ w² over the slices, summed natively with compensation (Gram routes; 0 on ?gesdd routes). */
  readonly sumOfSquares: number;
  /** Certified lower bound on the smallest singular value of any slice. */
  readonly svMinLow: number;
  /** Why the fast method ran ?gesdd, when it did. */
  readonly fallback?: string;
  /** Seconds in each phase, summed over slices (benchmarks). */
  readonly seconds: { gram: number; refine: number; gesdd: number };
}

export interface EsdOptions extends SvdOptions {
  /** Layer N, used by the rank tolerance max(sv)·N·ε. */
  readonly N: number;
  /**
   * Intra-layer products (R37, Q15): the "eigenvalues" are the singular values themselves
   * and sv_max/sv_min/rank use their square roots, as the reference does.
   */
  readonly unsquared?: boolean;
  /** fast method: sv_min and the rank columns are reported (default true); false when only the ESD matters. */
  readonly refineMin?: boolean;
  /**
   * Keep only the largest `keep` singular values of each matrix (the reference's num_components
   * when it is below M: LoRA products, Q31). Default: all.
   */
  readonly keep?: number;
  /** The ESD will be inverted (1/λ: its tail is the smallest eigenvalues), so the route is ?gesdd. */
  readonly inverse?: boolean;
  /**
   * analyze: also run the layer's own guard natively (rank, λmax, Σλ, and no eigenvalue within the
   * error bound of these thresholds); a layer that fails it comes back on ?gesdd with the reason.
   */
  readonly layerGuard?: { readonly thresholds: readonly { value: number; name: string }[] };
  /** The OpenBLAS threads the call runs with (default: the process's current count): see SvdOptions.threads. */
  readonly threads?: number;
  /** The scheduler runs this layer alone (engine/scheduler.ts Slot): see SvdOptions.exclusive. */
  readonly exclusive?: boolean;
  /**
   * A check of a Gram-route result that needs more than the spectrum (analyze: the fit and the
   * columns computed from it). It returns why the values cannot be used, or undefined to accept
   * them; a reason sends the layer to ?gesdd natively, on the matrices the first rung read, and
   * becomes `fallback`. Not called when the layer already took ?gesdd.
   */
  readonly verify?: (esd: Esd) => Promise<string | undefined>;
  /** Aborted before the ?gesdd of a rejected layer: computeEsd rejects with an AbortedError instead. */
  readonly signal?: AbortSignal;
}

/** Pools the per-matrix values of a layer (the route and the guard's bound come from the native call). */
class EsdAccumulator {
  private parts: Float64Array[] = [];
  private svMax = 0;
  private svMin = 0;
  private rankLoss = 0;
  private errorBound = 0;
  private sumOfSquares = 0;
  private readonly seconds = { gram: 0, refine: 0, gesdd: 0 };
  constructor(
    private readonly N: number,
    private readonly unsquared = false,
    private readonly keep = Infinity,
  ) {}

  add(s: MatrixSpectrum): void {
    // keep: only the largest `keep` values of each matrix (LoRA products, Q31)
    const from = s.sv.length > this.keep ? s.sv.length - this.keep : 0;
    const all = s.sv.subarray(from);
    const evals = s.evals.subarray(from);
    if (all.length === 0) return;
    const sv = this.unsquared ? all.map(Math.sqrt) : all;
    const max = sv[sv.length - 1]!;
    const tol = max * this.N * FLOAT64_EPS;
    let rank = 0;
    for (let i = 0; i < sv.length; i++) if (sv[i]! > tol) rank++;
    this.rankLoss += sv.length - rank;
    this.svMax = Math.max(this.svMax, max);
    this.svMin = Math.max(this.svMin, sv[0]!);
    // ?gesdd: σ² as computed in JS before (identical to the native squares); Gram: its eigenvalues.
    this.parts.push(this.unsquared ? all : evals);
    this.errorBound = Math.max(this.errorBound, s.errorBound);
    this.sumOfSquares += s.sumOfSquares;
    this.seconds.gram += s.gramSeconds;
    this.seconds.refine += s.refineSeconds;
    this.seconds.gesdd += s.gesddSeconds;
  }

  finish(route: SvdRoute, svMinLow: number, fallback: string | undefined): Esd {
    const total = this.parts.reduce((s, p) => s + p.length, 0);
    const evals = new Float64Array(total);
    let o = 0;
    for (const p of this.parts) {
      evals.set(p, o);
      o += p.length;
    }
    evals.sort();
    return {
      evals,
      svMax: this.svMax,
      svMin: this.svMin,
      rankLoss: this.rankLoss,
      route,
      errorBound: this.errorBound,
      sumOfSquares: this.sumOfSquares,
      svMinLow,
      ...(fallback !== undefined ? { fallback } : {}),
      seconds: this.seconds,
    };
  }
}

function pooled(layer: LayerSpectrumResult, opts: EsdOptions): Esd {
  const acc = new EsdAccumulator(opts.N, opts.unsquared, opts.keep);
  for (const s of layer.matrices) acc.add(s);
  return acc.finish(layer.route, layer.svMinLow, layer.fallback);
}

/**
 * ESD of a layer's matrices: one native call off the event loop, which decides the route for the
 * whole layer (native/core/spectrum.h), then the values pooled here. With `verify`, a Gram-route
 * result is checked before it is returned; a rejected one is finished natively with ?gesdd (the
 * handle of the same call: the matrices are neither handed over nor converted here again).
 */
export async function computeEsd(mats: readonly LayerMatrix[], opts: EsdOptions): Promise<Esd> {
  if (mats.length === 0) return new EsdAccumulator(opts.N, opts.unsquared, opts.keep).finish('gesdd', Infinity, undefined); // nothing to decompose
  const layer = await layerSpectrum(
    mats.map((m) =>
      isStored(m) ? { data: m.bytes, rows: m.rows, cols: m.cols, dtype: m.dtype } : { data: m.data, rows: m.rows, cols: m.cols },
    ),
    {
      method: opts.method ?? 'accurate',
      precision: opts.precision ?? 'float64',
      N: opts.N,
      refineMin: opts.refineMin ?? true,
      ...(opts.keep !== undefined ? { keep: opts.keep } : {}),
      unsquared: opts.unsquared === true,
      inverse: opts.inverse === true,
      layerGuard: opts.layerGuard !== undefined,
      thresholds: opts.layerGuard?.thresholds ?? [],
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.exclusive === true ? { exclusive: true } : {}),
      ...(opts.verify !== undefined ? { verify: true } : {}),
    },
  );
  const esd = pooled(layer, opts);
  const { handle } = layer;
  const verify = opts.verify;
  if (!handle || !verify) {
    handle?.release();
    return esd;
  }
  // Every path releases the handle: accepted, rejected and finished, verify throwing, aborted.
  try {
    const why = await verify(esd);
    if (why === undefined) return esd;
    if (opts.signal?.aborted) {
      const reason: unknown = opts.signal.reason;
      throw new AbortedError("aborted before the layer's ?gesdd", { cause: reason });
    }
    return pooled(await handle.finish(why), opts);
  } finally {
    handle.release();
  }
}
