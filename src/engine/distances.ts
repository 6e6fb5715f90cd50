/**
 * Layer-by-layer distances between two models (R43): 'raw' (Frobenius norm of the difference
 * of the stored tensors, and of the biases), 'euclidean' (the same over the layer's matrices, mean
 * over conv slices) and 'cka' (the reference's uncentered stand-in ‖W1ᵀW2‖ / √(‖W1ᵀW1‖·‖W2W2ᵀ‖),
 * mean over slices). Computed in float64 — the reference works in float32, so its values differ in
 * the 7th digit — and so that a model against itself gives exactly 0 (raw, euclidean) and 1 (cka).
 *
 * Layers are paired by name (default) or, as the reference does, by position; a layer without a
 * partner, or with a partner of another shape, is listed as unmatched, never paired silently.
 */
import type { TensorStore } from '../formats/types.js';
import { matmul } from '../native/binding.js';
import { npSum } from '../shared/numeric.js';
import type { ResolvedOptions } from '../shared/options.js';
import { WeightWatcherError } from '../shared/errors.js';
import type { Matrix } from '../spectra/esd.js';
import { readLayerMatrices } from './layer.js';
import { planLayers, type PlannedLayer, type SkippedLayer } from './plan.js';
import { transposeF32 } from './delta.js';
import { threadBudget } from './thread-policy.js';
import { blasThreadsFor, type Call } from './scheduler.js';

export const DISTANCE_METHODS = ['raw', 'euclidean', 'cka'] as const;
export type DistanceMethod = (typeof DISTANCE_METHODS)[number];
export type Pairing = 'name' | 'position';

/** One row of the distances table (the reference's columns). */
export interface DistanceRow {
  layer_id: number;
  method: DistanceMethod;
  name: string;
  delta_W: number;
  delta_b: number;
  M: number;
  N: number;
  /** Bias shape as the reference prints it, e.g. '(768,)', or 'unknown'. */
  b_shape: string;
  longname: string;
  /** pool=false (euclidean, cka): the conv kernel position. */
  slice_id?: number;
  [column: string]: string | number | undefined;
}

/** The table's column order: layer_id (the reference's index), then its lead columns. */
export const DISTANCE_COLUMNS = ['layer_id', 'method', 'name', 'delta_W', 'delta_b', 'M', 'N', 'b_shape', 'longname', 'slice_id'] as const;

export interface UnmatchedLayer {
  /** 'model': the first model (ww's), 'other': the model it is compared with. */
  readonly side: 'model' | 'other';
  readonly layer_id: number;
  readonly name: string;
  readonly reason: string;
}

export interface DistanceResult {
  readonly method: DistanceMethod;
  readonly pairing: Pairing;
  /** Mean of delta_W over the rows (NaN without rows). */
  readonly avg_dW: number;
  /** Mean of delta_b over the rows. */
  readonly avg_db: number;
  readonly rows: DistanceRow[];
  /** Layers of either model that were not compared, and why. */
  readonly unmatched: UnmatchedLayer[];
  /** Layers of each model left out by the filters and support rules. */
  readonly skipped: { readonly model: SkippedLayer[]; readonly other: SkippedLayer[] };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** ‖a − b‖₂ over all elements, in float64 (exact differences of float32 values). */
export function differenceNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function asF32(m: Matrix): Float32Array {
  return m.data instanceof Float32Array ? m.data : Float32Array.from(m.data);
}

/**
 * The reference's CKA of two equally shaped matrices. ‖W1ᵀW2‖² is computed as ⟨W1W1ᵀ, W2W2ᵀ⟩ when
 * rows ≤ cols (smaller Grams), and ‖W2W2ᵀ‖ as ‖W2ᵀW2‖ (equal): identical inputs then go through
 * identical operations and give exactly 1.
 */
export async function ckaSimilarity(a: Matrix, b: Matrix): Promise<number> {
  const { rows, cols } = a;
  const A = asF32(a);
  const B = asF32(b);
  let cross2: number, normA2: number, normB2: number;
  if (rows <= cols) {
    const ga = await matmul(A, transposeF32(A, rows, cols), rows, cols, rows);
    const gb = await matmul(B, transposeF32(B, rows, cols), rows, cols, rows);
    [cross2, normA2, normB2] = [dot(ga, gb), dot(ga, ga), dot(gb, gb)];
  } else {
    const At = transposeF32(A, rows, cols);
    const Bt = transposeF32(B, rows, cols);
    const x = await matmul(At, B, cols, rows, cols);
    const ga = await matmul(At, A, cols, rows, cols);
    const gb = await matmul(Bt, B, cols, rows, cols);
    [cross2, normA2, normB2] = [dot(x, x), dot(ga, ga), dot(gb, gb)];
  }
  let norm = Math.sqrt(Math.sqrt(normA2) * Math.sqrt(normB2));
  if (norm < 1e-6) norm += 1e-6;
  return Math.sqrt(cross2) / norm;
}

async function readTensor(store: TensorStore, name: string, shape: readonly number[]): Promise<Float32Array> {
  const data = await store.read(name);
  const n = shape.reduce((x, y) => x * y, 1);
  if (data.length !== n)
    throw new WeightWatcherError('E_CORRUPT', `${store.source}: tensor "${name}" decoded to ${data.length} values, expected ${n}`, {
      tensor: name,
    });
  return data;
}

/** The rows of one pair of layers, or why the pair cannot be compared. */
async function pairRows(
  a: TensorStore,
  b: TensorStore,
  la: PlannedLayer,
  lb: PlannedLayer,
  method: DistanceMethod,
  pool: boolean,
): Promise<DistanceRow[] | string> {
  const { spec } = la;
  const base = { layer_id: spec.id, method, name: spec.name, longname: spec.longname };
  if (method === 'raw') {
    if (!sameShape(spec.shape, lb.spec.shape)) return `shape [${spec.shape.join(', ')}] vs [${lb.spec.shape.join(', ')}]`;
    const deltaW = differenceNorm(await readTensor(a, spec.tensor!, spec.shape), await readTensor(b, lb.spec.tensor!, lb.spec.shape));
    let deltaB = 0;
    let bShape = 'unknown';
    if (spec.bias && lb.spec.bias) {
      const [ba, bb] = [await a.read(spec.bias), await b.read(lb.spec.bias)];
      if (ba.length === bb.length) {
        deltaB = differenceNorm(ba, bb);
        const shape = a.list().find((e) => e.name === spec.bias)?.shape ?? [ba.length];
        bShape = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
      }
    }
    return [{ ...base, delta_W: deltaW, delta_b: deltaB, M: Math.min(...spec.shape), N: Math.max(...spec.shape), b_shape: bShape }];
  }
  const [ga, gb] = [la.geometry, lb.geometry];
  if (ga.rows !== gb.rows || ga.cols !== gb.cols || ga.slices.length !== gb.slices.length) {
    return `matrices ${ga.slices.length} × [${ga.rows}, ${ga.cols}] vs ${gb.slices.length} × [${gb.rows}, ${gb.cols}]`;
  }
  const ma = await readLayerMatrices(a, la);
  const mb = await readLayerMatrices(b, lb);
  const values: number[] = [];
  for (let i = 0; i < ma.length; i++)
    values.push(method === 'euclidean' ? differenceNorm(ma[i]!.data, mb[i]!.data) : await ckaSimilarity(ma[i]!, mb[i]!));
  const shape = { M: Math.min(ga.rows, ga.cols), N: Math.max(ga.rows, ga.cols), delta_b: 0, b_shape: 'unknown' };
  if (!pool && spec.type === 'conv2d') return values.map((v, i) => ({ ...base, ...shape, delta_W: v, slice_id: i }));
  // The reference sums in slice order and divides by the count.
  const row: DistanceRow = { ...base, ...shape, delta_W: values.reduce((s, v) => s + v, 0) / values.length };
  return [pool ? row : { ...row, slice_id: 0 }];
}

/** One pair in a scheduler slot; an abort while it waits says how far the call got. */
async function runPair<T>(call: Call, threads: number, task: () => Promise<T>, progress: { done: number; total: number }): Promise<T> {
  try {
    return await call.run(threads, task);
  } catch (e) {
    throw call.aborted ? call.abortError(progress) : e;
  }
}

/** Distances between the analysed layers of `a` and `b` (each planned with the same options). */
export async function layerDistances(
  a: TensorStore,
  b: TensorStore,
  o: ResolvedOptions,
  method: DistanceMethod,
  pairing: Pairing,
  call?: Call,
): Promise<DistanceResult> {
  if (!(DISTANCE_METHODS as readonly string[]).includes(method))
    throw new WeightWatcherError('E_USAGE', `method must be one of ${DISTANCE_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  if (pairing !== 'name' && pairing !== 'position')
    throw new WeightWatcherError('E_USAGE', `pairing must be 'name' or 'position', got ${JSON.stringify(pairing)}`);
  const pa = planLayers(a, o);
  const pb = planLayers(b, o, { checkFilter: false });
  const pairs: [PlannedLayer, PlannedLayer][] = [];
  const unmatched: UnmatchedLayer[] = [];
  const lost = (side: UnmatchedLayer['side'], l: PlannedLayer, reason: string) =>
    unmatched.push({ side, layer_id: l.spec.id, name: l.spec.name, reason });
  if (pairing === 'name') {
    const byName = new Map(pb.layers.map((l) => [l.spec.name, l]));
    const used = new Set<PlannedLayer>();
    for (const l of pa.layers) {
      const partner = byName.get(l.spec.name);
      if (partner && !used.has(partner)) {
        pairs.push([l, partner]);
        used.add(partner);
      } else lost('model', l, `no analysed layer named "${l.spec.name}" in ${b.source}`);
    }
    for (const l of pb.layers) if (!used.has(l)) lost('other', l, `no analysed layer named "${l.spec.name}" in ${a.source}`);
  } else {
    const n = Math.min(pa.layers.length, pb.layers.length);
    for (let i = 0; i < n; i++) pairs.push([pa.layers[i]!, pb.layers[i]!]);
    pa.layers.slice(n).forEach((l) => lost('model', l, `position ${pa.layers.indexOf(l)}: ${b.source} has only ${n} analysed layers`));
    pb.layers.slice(n).forEach((l) => lost('other', l, `position ${pb.layers.indexOf(l)}: ${a.source} has only ${n} analysed layers`));
  }
  const rows: DistanceRow[] = [];
  // One pair at a time, each in a scheduler slot with the whole budget (cka's products are BLAS);
  // after an abort no pair starts.
  const threads = blasThreadsFor(threadBudget(o.threads).budget, 1);
  call?.planned(pairs.length);
  let done = 0;
  for (const [la, lb] of pairs) {
    call?.throwIfAborted({ done, total: pairs.length });
    const task = () => pairRows(a, b, la, lb, method, o.pool);
    const r = call ? await runPair(call, threads, task, { done, total: pairs.length }) : await task();
    done++;
    call?.layerDone();
    if (typeof r === 'string') {
      lost('model', la, `${r} (paired with "${lb.spec.name}")`);
      lost('other', lb, `${r} (paired with "${la.spec.name}")`);
    } else rows.push(...r);
  }
  const mean = (k: 'delta_W' | 'delta_b') => (rows.length ? npSum(rows.map((r) => r[k])) / rows.length : NaN);
  return {
    method,
    pairing,
    avg_dW: mean('delta_W'),
    avg_db: mean('delta_b'),
    rows,
    unmatched,
    skipped: { model: pa.skipped.toArray(), other: pb.skipped.toArray() },
  };
}
