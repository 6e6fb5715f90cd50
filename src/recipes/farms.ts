/**
 * FARMS (Fixed-Aspect-Ratio Matrix Subsampling, ICML 2025; docs/recipes.md#farms-alpha): the ESD
 * of a layer is pooled from many r×c windows of the weight (c = int(r·Q)), which removes the
 * aspect-ratio bias of the full matrix's ESD. The window geometry is computed here; every window
 * of a layer is decomposed in one native call (farmsWindowEigs), each by the project's spectrum
 * route.
 */
import { farmsWindowEigs, type WindowEigsOptions } from '../native/binding.js';
import { scaleFloat32 } from '../tensors/geometry.js';
import { gramGuard, type LayerSpectrum } from './spectrum.js';
import type { Arith } from './hill.js';

export interface Window {
  readonly row: number;
  readonly col: number;
  readonly rows: number;
  readonly cols: number;
}

/** A Python slice [start, start + len) of a dimension of size n (negative starts count from the end, bounds clip). */
function pySlice(start: number, len: number, n: number): [number, number] {
  let a = start < 0 ? Math.max(0, n + start) : Math.min(start, n);
  const endRaw = start + len;
  let b = endRaw < 0 ? Math.max(0, n + endRaw) : Math.min(endRaw, n);
  if (b < a) b = a;
  a = Math.min(a, n);
  return [a, b - a];
}

/**
 * FARMS-LLM windows (`fixed_sampling`): r = min(num_row_samples, m, n), c = int(r·Q), at most
 * `ops` evenly stepped starts per dimension, clamped to the last full window. When c > n the
 * paper's clamp `n − c` is negative and Python slices from the end (a window of 2n − c columns);
 * here the window is the whole width instead (RQ11, docs/recipes.md#quirks).
 */
export function fixedWindows(m: number, n: number, numRowSamples: number, q: number, ops: number): Window[] {
  const r = Math.min(numRowSamples, m, n);
  const c = Math.trunc(r * q);
  const rowStep = Math.max(1, Math.floor((m - r) / (ops - 1)));
  const colStep = Math.max(1, Math.floor((n - c) / (ops - 1)));
  const R = Math.min(ops, Math.max(1, Math.floor((m - r) / rowStep) + 1));
  const C = Math.min(ops, Math.max(1, Math.floor((n - c) / colStep) + 1));
  const out: Window[] = [];
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) {
      const row = Math.min(i * rowStep, m - r);
      const col = Math.max(0, Math.min(j * colStep, n - c));
      out.push({ row, col, rows: r, cols: Math.min(c, n) });
    }
  }
  return out;
}

/**
 * Sliding windows (`matrix_size_dependent_sampling`, FARMS image classification and FARMS-LLM
 * without sampling_ops_per_dim): starts every `step` rows/columns; edge windows are truncated by
 * Python slicing as in the paper's code.
 */
export function slidingWindows(m: number, n: number, r: number, q: number, step: number): Window[] {
  const c = Math.trunc(r * q);
  const R = Math.max(1, Math.floor((m - r) / step) + 1);
  const C = Math.max(1, Math.floor((n - c) / step) + 1);
  const out: Window[] = [];
  for (let i = 0; i < R; i++) {
    const [row, rows] = pySlice(i * step, r, m);
    for (let j = 0; j < C; j++) {
      const [col, cols] = pySlice(j * step, c, n);
      if (rows > 0 && cols > 0) out.push({ row, col, rows, cols });
    }
  }
  return out;
}

/**
 * The windows are small (100×200 by default): each is decomposed on one thread (OpenBLAS threads
 * only add synchronisation there, 2.5× slower measured). The recipe runs FARMS layers with one
 * OpenBLAS thread each and several layers at once (run.ts); `workers` > 1 is for callers that
 * own the machine (the native call then takes windows in turn on that many threads).
 */
function windowsCall(data: Float32Array, rows: number, cols: number, packed: Float64Array, o: WindowEigsOptions) {
  return farmsWindowEigs(data, rows, cols, packed, o);
}

function packWindows(windows: readonly Window[]): Float64Array {
  const w = new Float64Array(windows.length * 4);
  windows.forEach((x, k) => w.set([x.row, x.col, x.rows, x.cols], 4 * k));
  return w;
}

/**
 * The σ² of every window (windows in order, each ascending), by the fast route in float64 with the
 * recipes' guard (spectrum.ts) and ?gesdd as the fallback, or ?sgesdd on float32 weights rounded
 * to float32 (`arith` 'float32'). `scale` multiplies the weights (conv_norm: √ of it on the weights).
 */
export async function windowEigs(
  data: Float32Array,
  rows: number,
  cols: number,
  windows: readonly Window[],
  scale: number,
  arith: Arith,
  check?: (s: LayerSpectrum) => string | undefined,
): Promise<LayerSpectrum> {
  const packed = packWindows(windows);
  if (arith === 'float32') {
    const d = scale === 1 ? data : scaleFloat32(data, Math.sqrt(scale));
    const r = await windowsCall(d, rows, cols, packed, { method: 'accurate', precision: 'float32' });
    return { evals: r.evals.map((v) => Math.fround(v)), route: r.route, errorBound: 0 };
  }
  const run = async (method: 'fast' | 'accurate', refineMin = false): Promise<LayerSpectrum> => {
    const r = await windowsCall(data, rows, cols, packed, { method, precision: 'float64', refineMin });
    const evals = scale === 1 ? r.evals : r.evals.map((v) => v * scale);
    const s = { evals, route: r.route, errorBound: r.errorBound * scale };
    return r.fallback !== undefined ? { ...s, fallback: r.fallback } : s;
  };
  const guard = (s: LayerSpectrum) => {
    const sorted = { ...s, evals: s.evals.slice().sort() };
    return gramGuard(sorted.evals, s.errorBound, s.route) ?? check?.(sorted);
  };
  // Plain Gram values first; windows with a tiny σmin get it refined natively (half the cost of
  // ?gesdd on 2000×2000 windows), and ?gesdd only if that is not enough. Square windows (Q = 1, the
  // paper's LLM runs) nearly always have a tiny σmin: they are refined from the start.
  const square = windows.every((w) => w.rows === w.cols);
  const first = await run('fast', square);
  if (first.errorBound === 0) return first;
  const why = guard(first);
  if (why === undefined) return first;
  if (first.route === 'gram' && !square) {
    const refined = await run('fast', true);
    if (refined.errorBound === 0 || guard(refined) === undefined) return refined;
  }
  return { ...(await run('accurate')), fallback: why };
}
