/** Timing helpers for the benches: best of N, concurrent decompositions, the machine's dgemm rate. */
import { matmul, setBlasThreads, svdvalsDetailed, type MatrixSpectrum, type SpectrumOptions } from '../../src/native/binding.js';

export async function bestOf<T>(runs: number, f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  let best: { seconds: number; value: T } | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const value = await f();
    const seconds = (performance.now() - t0) / 1000;
    if (!best || seconds < best.seconds) best = { seconds, value };
  }
  return best!;
}

/** GFLOP/s of one n×n dgemm (2n³ flops) with `threads` OpenBLAS threads, best of `runs`. */
export async function dgemmRate(n: number, threads: number, runs = 3): Promise<number> {
  const a = Float64Array.from({ length: n * n }, (_, k) => Math.sin(k));
  const b = Float64Array.from({ length: n * n }, (_, k) => Math.cos(k));
  setBlasThreads(threads);
  const { seconds } = await bestOf(runs, () => matmul(a, b, n, n, n));
  return (2 * n ** 3) / seconds / 1e9;
}

export type Matrix = { data: Float32Array; rows: number; cols: number };

/** One decomposition with `threads` BLAS threads. */
export async function timeSpectrum(
  m: Matrix,
  opts: SpectrumOptions,
  threads: number,
  runs = 1,
): Promise<{ seconds: number; value: MatrixSpectrum }> {
  setBlasThreads(threads);
  return bestOf(runs, () => svdvalsDetailed(m.data, m.rows, m.cols, opts));
}

/**
 * Wall seconds for `copies` decompositions of the same matrix: all at once with one BLAS thread
 * each (the layer-parallel policy), or one after the other with `copies` threads each.
 */
export async function parallelVsThreaded(
  m: Matrix,
  opts: SpectrumOptions,
  copies: number,
): Promise<{ layerParallel: number; blasThreaded: number }> {
  setBlasThreads(1);
  let t0 = performance.now();
  await Promise.all(Array.from({ length: copies }, () => svdvalsDetailed(m.data, m.rows, m.cols, opts)));
  const layerParallel = (performance.now() - t0) / 1000;
  setBlasThreads(copies);
  t0 = performance.now();
  for (let i = 0; i < copies; i++) await svdvalsDetailed(m.data, m.rows, m.cols, opts);
  const blasThreaded = (performance.now() - t0) / 1000;
  return { layerParallel, blasThreaded };
}

/** Per-layer cost at full machine load: `cores` copies at once, one BLAS thread each, wall / cores. */
export async function loadedCost(m: Matrix, opts: SpectrumOptions, cores: number): Promise<{ seconds: number; route: string }> {
  setBlasThreads(1);
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: cores }, () => svdvalsDetailed(m.data, m.rows, m.cols, opts)));
  return { seconds: (performance.now() - t0) / 1000 / cores, route: all[0]!.route };
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  return s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(s < 10 ? 3 : 1)} s`;
}
