/**
 * The only module that loads the native addon. It also chooses OpenBLAS's kernel family before the
 * library is loaded: Debian's OpenBLAS 0.3.21 misdetects recent CPUs (e.g. Sapphire Rapids as
 * Prescott) and then runs 3–7× slower; a value the user already set is always respected.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { WeightWatcherError, isErrorCode } from '../shared/errors.js';

export interface NativeFit {
  alpha: number;
  xmin: number;
  xmax: number;
  D: number;
  sigma: number;
  /** Index of the chosen candidate in `xmins`. */
  bestIndex: number;
  /** Number of fitted values ≥ xmin. */
  tailCount: number;
  candidates: number;
  xmins?: Float64Array;
  alphas?: Float64Array;
  Ds?: Float64Array;
  sigmas?: Float64Array;
}

export interface NativeFitOptions {
  xmin?: number;
  xmax?: number;
  /** Return the per-candidate arrays (disables the early-exit scan; used for plots). */
  arrays?: boolean;
}

export type SvdMethod = 'fast' | 'accurate';

export interface SvdOptions {
  /**
   * 'accurate' (default for these building blocks): LAPACK ?gesdd, the reference's algorithm.
   * 'fast': eigenvalues of the Gram matrix (?syrk + ?syevd) with a guard that recomputes σmin by
   * LU/QR inverse iteration or falls back to ?gesdd where the Gram values are not accurate enough
   * (docs/numerics.md).
   */
  method?: SvdMethod;
  /** 'float64' (default, parity with the reference) or 'float32' (opt-in, unguarded; docs/numerics.md). */
  precision?: 'float64' | 'float32';
  /**
   * The OpenBLAS threads this call runs with, as the caller's plan set them (OpenBLAS's count is
   * process-wide). They choose the Gram route's eigensolver (one-stage ?syevd or ?syevd_2stage, by
   * order and threads: docs/performance.md). Default: the process's current OpenBLAS thread count,
   * which is the whole budget unless a scheduler has lowered it for layers in flight.
   */
  threads?: number;
  /**
   * This call is the only OpenBLAS user of the process (default false), so the Gram route may run
   * the band → tridiagonal stage of its two-stage eigensolver on one thread and then restore
   * `threads` (native/core/gram.h; faster from n = 4096 on two or more threads). OpenBLAS's count
   * is process-wide: never set this while other decompositions run. The scheduled `svdvals` and
   * `svdvalsDetailed` of the package root set it when the scheduler gives the call the whole budget.
   */
  exclusive?: boolean;
}

/** Which algorithm produced a spectrum (the `svd_route` column): see docs/numerics.md. */
export type SvdRoute = 'gram' | 'gram+lu' | 'gram+qr' | 'gesdd' | 'sgram' | 'sgram+lu' | 'sgram+qr' | 'sgesdd';

/** A matrix for the spectrum routines: floats, or the raw little-endian bytes of a model file with their dtype. */
export type MatrixData = Float32Array | Float64Array | Uint16Array | Uint8Array;

export interface SpectrumOptions extends SvdOptions {
  /** Required for Uint16Array ('F16' | 'BF16') and Uint8Array ('F32' | 'F16' | 'BF16') data: the stored element type. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /**
   * fast method: make σmin (sv_min) as accurate as ?gesdd's (default true). False when only the
   * eigenvalues matter: the Gram values are returned as they are.
   */
  refineMin?: boolean;
  /** fast method: full rank under numpy's tolerance σmax·rankN·ε must be certain, else ?gesdd (0: no check). */
  rankN?: number;
  /** Calibration and benchmarks: the plain Gram values, no guard. */
  forceGram?: boolean;
  /** Benchmarks: force the Gram route's eigensolver instead of the (order, threads, exclusive) rule. */
  eigensolver?: 'auto' | GramEigensolver;
}

/** The Gram route's eigensolvers (native/core/gram.h): ?syevd, ?syevd_2stage, and ?syevd_2stage's steps with the band stage on one thread. */
export type GramEigensolver = 'syevd' | 'syevd_2stage' | 'syevd_2stage_split';

/** One matrix of a layer for layerSpectrum: floats, or stored bytes with their dtype. */
export interface LayerMatrixArg {
  data: MatrixData;
  rows: number;
  cols: number;
  dtype?: 'F32' | 'F16' | 'BF16';
}

/** A layer's spectrum options: the route is decided natively from these (native/core/spectrum.h). */
export interface LayerSpectrumOptions extends SvdOptions {
  /** fast method: σmin as accurate as ?gesdd's (default true); false when only the ESD matters. */
  refineMin?: boolean;
  /** The layer's N: the rank tolerance σmax·N·ε. */
  N: number;
  /** Only the largest `keep` values of each matrix (LoRA products, Q31). */
  keep?: number;
  /** Intra-layer products: the ESD is the singular values themselves (Q15): always ?gesdd. */
  unsquared?: boolean;
  /** The ESD will be inverted (its tail is the smallest eigenvalues): always ?gesdd. */
  inverse?: boolean;
  /** analyze: the layer-level guard on the pooled Gram ESD (rank, λmax, Σλ, thresholds). */
  layerGuard?: boolean;
  /** layerGuard: values no eigenvalue may lie within the error bound of, with their names for the reason. */
  thresholds?: readonly { value: number; name: string }[];
  /** Benchmarks: force the Gram route's eigensolver. */
  eigensolver?: 'auto' | GramEigensolver;
  /**
   * A check after the call (analyze: the power-law fit's, engine/route-guard.ts) may still reject the
   * Gram values: a layer left on a Gram route comes back with a `handle` for the last rung.
   */
  verify?: boolean;
}

/**
 * A layer kept for the last rung of its route (native/napi/layer_handle.h): it pins the layer's
 * typed arrays (not a copy) until `release()`, or until it is garbage-collected.
 */
export interface LayerHandle {
  /**
   * The Gram values were rejected for `reason`: every matrix of the layer by ?gesdd, off the event
   * loop — the values of method 'accurate', bit for bit — with `reason` as the fallback. Once.
   */
  finish(reason: string): Promise<LayerSpectrumResult>;
  /** Unpin the matrices (idempotent; safe while finish() runs). */
  release(): void;
}

export interface LayerSpectrumResult {
  /** One spectrum per matrix, in input order. */
  matrices: MatrixSpectrum[];
  /** The route every matrix took (σmin refined on some for 'gram+lu' / 'gram+qr'). */
  route: SvdRoute;
  /** Why the fast method ran ?gesdd for the layer. */
  fallback?: string;
  /** Certified lower bound on every kept matrix's smallest singular value. */
  svMinLow: number;
  /** With `verify`, on a Gram route: the layer kept for the last rung. Release it. */
  handle?: LayerHandle;
}

/** Process-wide counts since the addon loaded (tests and diagnostics). */
export interface SpectrumCounters {
  /** layerSpectrum calls. */
  layerCalls: number;
  /** LayerHandle.finish() calls. */
  finishes: number;
  /** Handles that still pin their matrices. */
  liveHandles: number;
  /** Passes over a matrix's stored values, by what they fed: Gram matrices, σmin refinements, ?gesdd working copies. */
  gramPasses: number;
  refineCopies: number;
  gesddCopies: number;
}

export interface MatrixSpectrum {
  /** Singular values, ascending. */
  sv: Float64Array;
  /** Their squares, ascending (the Gram eigenvalues themselves on the Gram routes). */
  evals: Float64Array;
  route: SvdRoute;
  /** Bound on the absolute error of every Gram eigenvalue (σmin excepted when refined); 0 on ?gesdd routes. */
  errorBound: number;
  /** Σ w² of the matrix, summed with compensation (Gram routes; 0 on ?gesdd routes): what Σ evals must equal. */
  sumOfSquares: number;
  /** Why the fast method fell back to ?gesdd. */
  fallback?: string;
  refineIterations: number;
  refineBlock: number;
  /** Seconds spent in each phase (benchmarks). */
  gramSeconds: number;
  refineSeconds: number;
  gesddSeconds: number;
  /** Gram routes: the eigensolver that ran. */
  eigensolver?: GramEigensolver;
}

/** Options of the powerlaw-package (1.5) port: R20. */
export interface PlPackageOptions {
  /** xmin_distribution: 'power_law' (default) or 'truncated_power_law' (fit='TPL'/'E_TPL'). */
  distribution?: 'power_law' | 'truncated_power_law';
  /** Given xmax (xmax='force', clip_xmax steps): values above are dropped, fits are xmax-normalised. */
  xmax?: number;
  /** Only xmin candidates within [min, max] of this pair (the reference's xmin tuple). */
  xminRange?: [number, number];
  /** fix_fingers='xmin_peak': compute the candidate range from the ESD peak (R22). */
  xminPeak?: boolean;
  /** Upper end of the xmin_peak range (default 1.5 × peak). */
  xminMax?: number;
  /** Return the per-candidate arrays. */
  arrays?: boolean;
}

export interface PlPackageFit {
  /** NaN when fewer than 2 unique values are left (the reference reports a failed fit). */
  alpha: number;
  xmin: number;
  D: number;
  /** (alpha − 1)/√n for the power law; NaN for the truncated power law. */
  sigma: number;
  /** Truncated power law's Λ; NaN for the power law. */
  Lambda: number;
  tailCount: number;
  candidates: number;
  inRange: boolean;
  noiseFlag: boolean;
  /** With xminPeak: the range used, and the ESD peak. */
  xminRange?: [number, number];
  peak?: number;
  xmins?: Float64Array;
  alphas?: Float64Array;
  Ds?: Float64Array;
  sigmas?: Float64Array;
  Lambdas?: Float64Array;
}

export interface NelderMeadResult {
  x: number[];
  fval: number;
  iterations: number;
  fcalls: number;
  /** 1: evaluation budget exhausted, 2: iteration budget exhausted. */
  warnflag: number;
}

/** Eigen-decomposition of a symmetric n×n matrix (LAPACK dsyevd). */
export interface SymmetricEigen {
  n: number;
  /** Ascending. */
  values: Float64Array;
  /** n×n; eigenvector j (unit 2-norm) is vectors.subarray(j·n, j·n + n). */
  vectors: Float64Array;
}

/** A truncated-SVD reconstruction (lowRankApprox). */
export interface LowRank {
  /** rows×cols, row-major, same layout as the input. */
  matrix: Float64Array;
  /** All min(rows, cols) singular values of the input, ascending. */
  singular: Float64Array;
}

export interface LowRankOptions {
  /** 'keep' (default): the best rank-k approximation; 'drop': the k largest singular triplets removed. */
  mode?: 'keep' | 'drop';
}

interface RawNativeInfo {
  blas: string;
  blasConfig: string;
  coreType: string;
  blasThreads: number;
  blasParallel: string;
  lapackVersion: string;
  napiVersion: number;
}

export interface NativeInfo extends RawNativeInfo {
  /** Where OPENBLAS_CORETYPE came from: set by the user, chosen by us from /proc/cpuinfo, or not set. */
  coreTypeSource: 'user' | 'auto' | 'none';
  coreTypeRequested: string | undefined;
}

interface NativeBinding {
  spectrum(data: MatrixData, rows: number, cols: number, opts?: SpectrumOptions): Promise<MatrixSpectrum>;
  spectrumSync(data: MatrixData, rows: number, cols: number, opts?: SpectrumOptions): MatrixSpectrum;
  layerSpectrum(mats: LayerMatrixArg[], opts: LayerSpectrumOptions): Promise<LayerSpectrumResult>;
  spectrumCounters(): SpectrumCounters;
  eigensolverFor(n: number, threads: number, exclusive: boolean): GramEigensolver;
  fitPowerLaw(evals: Float64Array, opts?: NativeFitOptions): Promise<NativeFit>;
  fitPowerLawSync(evals: Float64Array, opts?: NativeFitOptions): NativeFit;
  nativeInfo(): RawNativeInfo;
  setBlasThreads(n: number): boolean;
  fitPowerLawPackage(data: Float64Array, opts?: PlPackageOptions): Promise<PlPackageFit>;
  fitPowerLawPackageSync(data: Float64Array, opts?: PlPackageOptions): PlPackageFit;
  upperIncompleteGamma(s: number, x: number): number;
  nelderMeadSync(fn: (x: number[]) => number, x0: number[]): NelderMeadResult;
  gramEigen(data: Float32Array | Float64Array, rows: number, cols: number): Promise<SymmetricEigen>;
  gramEigenSync(data: Float32Array | Float64Array, rows: number, cols: number): SymmetricEigen;
  symmetricEigenSync(data: Float64Array, n: number): SymmetricEigen;
  matmul<T extends Float32Array | Float64Array>(a: T, b: T, m: number, k: number, n: number): Promise<Float64Array>;
  /** Only with WW_NATIVE_TEST_HOOKS=1 in the environment when the addon loads. */
  simulateAllocFailure?: (site: string) => void;
  lowRankApprox(data: Float32Array | Float64Array, rows: number, cols: number, k: number, opts?: LowRankOptions): Promise<LowRank>;
  lowRankApproxSync(data: Float32Array | Float64Array, rows: number, cols: number, k: number, opts?: LowRankOptions): LowRank;
  farmsWindowEigs(data: Float32Array | Float64Array, rows: number, cols: number, windows: Float64Array, opts?: WindowEigsOptions): Promise<WindowEigs>;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function chooseCoreType(): NativeInfo['coreTypeSource'] {
  if (process.env.OPENBLAS_CORETYPE) return 'user';
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'none';
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    return 'none';
  }
  const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
  if (has('avx512f')) process.env.OPENBLAS_CORETYPE = 'SKYLAKEX';
  else if (has('avx2')) process.env.OPENBLAS_CORETYPE = 'HASWELL';
  else return 'none';
  return 'auto';
}

let loaded: { binding: NativeBinding; coreTypeSource: NativeInfo['coreTypeSource'] } | undefined;

function load(): { binding: NativeBinding; coreTypeSource: NativeInfo['coreTypeSource'] } {
  if (loaded) return loaded;
  const coreTypeSource = chooseCoreType();
  const require = createRequire(import.meta.url);
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    loaded = { binding: nodeGypBuild(packageRoot), coreTypeSource };
  } catch (e) {
    throw new WeightWatcherError(
      'E_NATIVE',
      `the native addon could not be loaded from ${packageRoot} (${e instanceof Error ? e.message : String(e)}).\n` +
        '  Build it with `npm run build:native` (needs: apt-get install -y g++ make python3 pkg-config libopenblas-dev liblapacke-dev).',
      { cause: e },
    );
  }
  return loaded;
}

/** Re-throw a native error as WeightWatcherError, keeping the caller's stack (captured before the call). */
function rethrow(e: unknown, callerStack: Error | undefined): never {
  if (e instanceof WeightWatcherError) throw e;
  const code = (e as { code?: string }).code;
  const err = new WeightWatcherError(isErrorCode(code) ? code : 'E_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
  if (callerStack?.stack) err.stack = `WeightWatcherError: ${err.message}\n${callerStack.stack.split('\n').slice(1).join('\n')}`;
  throw err;
}

function syncCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    rethrow(e, undefined);
  }
}

async function asyncCall<T>(fn: () => Promise<T>): Promise<T> {
  const callerStack = new Error();
  try {
    return await fn();
  } catch (e) {
    rethrow(e, callerStack);
  }
}

/**
 * Singular values (ascending) of a row-major rows×cols matrix, computed off the event loop, by
 * ?gesdd (method 'accurate', the default) or the guarded Gram route (method 'fast'; σmin and the
 * rank under numpy's default tolerance are as accurate as ?gesdd's, the other values accurate to
 * `errorBound` in σ²: see svdvalsDetailed). The buffer is read in place by a worker thread: do not
 * mutate or transfer it until the Promise settles.
 */
export async function svdvals(data: Float32Array | Float64Array, rows: number, cols: number, opts: SvdOptions = {}): Promise<Float64Array> {
  return (await svdvalsDetailed(data, rows, cols, opts)).sv;
}

/** Synchronous twin of svdvals, for small matrices and scripts: blocks the event loop. */
export function svdvalsSync(data: Float32Array | Float64Array, rows: number, cols: number, opts: SvdOptions = {}): Float64Array {
  return svdvalsDetailedSync(data, rows, cols, opts).sv;
}

function spectrumDefaults(rows: number, cols: number, opts: SpectrumOptions): SpectrumOptions {
  return { rankN: Math.max(rows, cols), ...opts };
}

/**
 * svdvals with everything behind the values: the squares, which route ran (`route`), the error
 * bound of the Gram eigenvalues and, when the fast method fell back to ?gesdd, why. Also takes the
 * raw bytes of F32/F16/BF16 tensors (with `dtype`), converted to float64 on the worker thread.
 */
export function svdvalsDetailed(data: MatrixData, rows: number, cols: number, opts: SpectrumOptions = {}): Promise<MatrixSpectrum> {
  return asyncCall(() => load().binding.spectrum(data, rows, cols, spectrumDefaults(rows, cols, opts)));
}

export function svdvalsDetailedSync(data: MatrixData, rows: number, cols: number, opts: SpectrumOptions = {}): MatrixSpectrum {
  return syncCall(() => load().binding.spectrumSync(data, rows, cols, spectrumDefaults(rows, cols, opts)));
}

/**
 * The spectra of one layer's matrices in one native call, off the event loop: the route ladder
 * (gram, gram+lu/qr, ?gesdd), the rule that a layer never mixes routes and, with `layerGuard`, the
 * layer's own accuracy guard all run natively (native/core/spectrum.h). With `verify`, a layer left
 * on a Gram route comes with a `handle`: its finish() is the last rung, ?gesdd on the same matrices,
 * for a check that can only run after the call. The buffers are read in place by a worker thread:
 * do not mutate them until the Promise settles (with a handle: until it is released).
 */
export async function layerSpectrum(mats: LayerMatrixArg[], opts: LayerSpectrumOptions): Promise<LayerSpectrumResult> {
  const result = await asyncCall(() => load().binding.layerSpectrum(mats, opts));
  const native = result.handle;
  if (!native) return result;
  // the native handle's errors become WeightWatcherErrors like every other call's
  const handle: LayerHandle = {
    finish: (reason) => asyncCall(() => native.finish(reason)),
    release: () => syncCall(() => native.release()),
  };
  return { ...result, handle };
}

/** The addon's process-wide layer and pass counts (tests: one crossing per layer, handles released). */
export function spectrumCounters(): SpectrumCounters {
  return syncCall(() => load().binding.spectrumCounters());
}

/**
 * The Gram route's eigensolver for an n×n Gram matrix on `threads` BLAS threads, for a call that is
 * (`exclusive`) or is not the process's only OpenBLAS user: a pure function of the plan
 * (native/core/gram.cc `gramSolverFor`, measured in docs/performance.md).
 */
export function eigensolverFor(n: number, threads: number, exclusive = false): GramEigensolver {
  return syncCall(() => load().binding.eigensolverFor(n, threads, exclusive));
}

/** The reference 'ww' power-law fit (R19) of `evals` (any order), off the event loop. */
export function fitPowerLaw(evals: Float64Array, opts: NativeFitOptions = {}): Promise<NativeFit> {
  return asyncCall(() => load().binding.fitPowerLaw(evals, opts));
}

export function fitPowerLawSync(evals: Float64Array, opts: NativeFitOptions = {}): NativeFit {
  return syncCall(() => load().binding.fitPowerLawSync(evals, opts));
}

/** BLAS/LAPACK build, OpenBLAS kernel family and thread count, for bug reports and benchmarks. */
export function nativeInfo(): NativeInfo {
  const { binding, coreTypeSource } = load();
  return { ...binding.nativeInfo(), coreTypeSource, coreTypeRequested: process.env.OPENBLAS_CORETYPE };
}

/** Set OpenBLAS's thread count (process-wide). Returns false if the BLAS has no such control. */
export function setBlasThreads(n: number): boolean {
  if (!Number.isInteger(n) || n < 1) throw new WeightWatcherError('E_USAGE', `threads must be a positive integer, got ${String(n)}`);
  return syncCall(() => load().binding.setBlasThreads(n));
}

/** The powerlaw package's Fit (version 1.5 semantics, R20) of `data`, off the event loop. */
export function fitPowerLawPackage(data: Float64Array, opts: PlPackageOptions = {}): Promise<PlPackageFit> {
  return asyncCall(() => load().binding.fitPowerLawPackage(data, opts));
}

export function fitPowerLawPackageSync(data: Float64Array, opts: PlPackageOptions = {}): PlPackageFit {
  return syncCall(() => load().binding.fitPowerLawPackageSync(data, opts));
}

/** Upper incomplete gamma Γ(s, x) for any real s and x > 0 (as mpmath.gammainc(s, x)). */
export function upperIncompleteGamma(s: number, x: number): number {
  return syncCall(() => load().binding.upperIncompleteGamma(s, x));
}

/**
 * scipy.optimize.fmin with its default settings (R24), step for step, minimising a JS
 * objective of 1 or 2 parameters on the calling thread.
 */
export function nelderMeadSync(fn: (x: number[]) => number, x0: readonly number[]): NelderMeadResult {
  return syncCall(() => load().binding.nelderMeadSync(fn, [...x0]));
}

/**
 * Eigenvalues (ascending) and unit eigenvectors of the smaller Gram matrix of a row-major
 * rows×cols matrix — W·Wᵀ when rows ≤ cols, else Wᵀ·W — in float64, off the event loop.
 * The buffer is read in place by a worker thread: do not mutate it until the Promise settles.
 */
export function gramEigen(data: Float32Array | Float64Array, rows: number, cols: number): Promise<SymmetricEigen> {
  return asyncCall(() => load().binding.gramEigen(data, rows, cols));
}

export function gramEigenSync(data: Float32Array | Float64Array, rows: number, cols: number): SymmetricEigen {
  return syncCall(() => load().binding.gramEigenSync(data, rows, cols));
}

/** Eigen-decomposition of a symmetric n×n matrix (only its upper triangle is read). */
export function symmetricEigenSync(data: Float64Array, n: number): SymmetricEigen {
  return syncCall(() => load().binding.symmetricEigenSync(data, n));
}

/** Row-major product a·b (a m×k, b k×n) in float64 with BLAS dgemm, off the event loop. */
export function matmul<T extends Float32Array | Float64Array>(a: T, b: T, m: number, k: number, n: number): Promise<Float64Array> {
  return asyncCall(() => load().binding.matmul(a, b, m, k, n));
}

/**
 * Exact truncated SVD of a row-major rows×cols matrix (LAPACK dgesdd with U and Vᵀ, float64),
 * rebuilt from its k largest singular triplets ('keep') or from all but those ('drop'), off the
 * event loop. Deterministic for a given OpenBLAS thread count. The buffer is read in place by a
 * worker thread: do not mutate it until the Promise settles.
 */
export function lowRankApprox(data: Float32Array | Float64Array, rows: number, cols: number, k: number, opts: LowRankOptions = {}): Promise<LowRank> {
  return asyncCall(() => load().binding.lowRankApprox(data, rows, cols, k, opts));
}

export function lowRankApproxSync(data: Float32Array | Float64Array, rows: number, cols: number, k: number, opts: LowRankOptions = {}): LowRank {
  return syncCall(() => load().binding.lowRankApproxSync(data, rows, cols, k, opts));
}

export interface WindowEigsOptions extends SvdOptions {
  /** Threads taking windows in turn (run OpenBLAS with one thread meanwhile); default 1. */
  workers?: number;
  /** fast method: refine each window's smallest value to ?gesdd's accuracy (default false). */
  refineMin?: boolean;
}

/** The pooled σ² of many windows of one matrix (FARMS, src/recipes/farms.ts). */
export interface WindowEigs {
  /** Every window's σ², windows in the given order, each ascending. */
  evals: Float64Array;
  /** The strongest route any window took. */
  route: SvdRoute;
  /** The largest window error bound (0 when every window used ?gesdd). */
  errorBound: number;
  fallback?: string;
}

/**
 * σ² of the windows [row, col, rows, cols] (quadruples in `windows`) of a row-major matrix, each by
 * the spectrum route of `opts` (Gram values unrefined: only the ESD matters), in one call off the
 * event loop. The buffers are read in place: do not mutate them until the Promise settles.
 */
export function farmsWindowEigs(
  data: Float32Array | Float64Array,
  rows: number,
  cols: number,
  windows: Float64Array,
  opts: WindowEigsOptions = {},
): Promise<WindowEigs> {
  return asyncCall(() => load().binding.farmsWindowEigs(data, rows, cols, windows, opts));
}

/**
 * Test hook: the next native call throws std::bad_alloc at `site` (the argument copy, the core
 * computation, or the conversion of its result), to prove it surfaces as E_NOMEM. Available only
 * when the process started with WW_NATIVE_TEST_HOOKS=1.
 */
export function simulateNativeAllocFailure(site: 'arguments' | 'compute' | 'result' | 'none'): void {
  const hook = load().binding.simulateAllocFailure;
  if (!hook) throw new WeightWatcherError('E_USAGE', 'simulateNativeAllocFailure needs WW_NATIVE_TEST_HOOKS=1 in the environment before the addon loads');
  syncCall(() => hook(site));
}
