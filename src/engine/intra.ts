/**
 * intra=True (R37, experimental in the reference): correlations between consecutive layers.
 * For each pair of analysed layers, their first matrices are aligned on a shared dimension and
 * multiplied — through a random 0/1 matrix when sparsify is on — and the product's singular values
 * are analysed as one row named "<prev_id> X <cur_id> ".
 */
import type { Matrix } from '../spectra/esd.js';
import { matmul } from '../native/binding.js';
import type { Random } from '../shared/random.js';
import { analyzeLayer, type LayerResult } from './layer.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { LayerSource, PlannedLayer, SkippedLayers } from './plan.js';

function transpose(m: Matrix): Matrix {
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j]!;
  return { data: out, rows: m.cols, cols: m.rows };
}

function toFloat64(m: Matrix): Matrix {
  return m.data instanceof Float64Array ? m : { ...m, data: Float64Array.from(m.data) };
}

function frobenius(m: Matrix): number {
  let s = 0;
  for (let i = 0; i < m.data.length; i++) s += m.data[i]! * m.data[i]!;
  return Math.sqrt(s);
}

/**
 * The reference's alignment: drop one occurrence of each distinct dimension among
 * [W0.rows, W0.cols, W1.rows, W1.cols]; the largest repeated value is the shared dimension, and W0
 * is transposed unless its columns, W1 unless its rows, are that dimension (Q34: for PyTorch layouts
 * this pairs the two output dimensions).
 */
export function alignPair(w0: Matrix, w1: Matrix): [Matrix, Matrix] {
  const dims = [w0.rows, w0.cols, w1.rows, w1.cols];
  const remaining = [...dims];
  for (const d of new Set(dims)) remaining.splice(remaining.indexOf(d), 1);
  if (remaining.length === 0) return [w0, w1];
  const shared = Math.max(...remaining);
  return [w0.cols !== shared ? transpose(w0) : w0, w1.rows !== shared ? transpose(w1) : w1];
}

/** X = W0·S·W1 / (‖W0‖·‖W1‖ + sqrt(‖S‖)) with S a random 0/1 matrix, or W0·W1 / (‖W0‖·‖W1‖). */
export async function intraProduct(prev: Matrix, cur: Matrix, sparsify: boolean, random: Random): Promise<Matrix | undefined> {
  const [a, b] = alignPair(toFloat64(prev), toFloat64(cur));
  if (a.cols !== b.rows) return undefined;
  let norm12 = frobenius(a) * frobenius(b);
  let left = a;
  if (sparsify) {
    const m = b.rows;
    const s = new Float64Array(m * m);
    let ones = 0;
    for (let i = 0; i < s.length; i++) if ((s[i] = random.nextU32() & 1)) ones++;
    norm12 += Math.sqrt(Math.sqrt(ones)); // sqrt(‖S‖_F), ‖S‖_F = sqrt(#ones)
    left = { data: await matmul(a.data as Float64Array, s, a.rows, m, m), rows: a.rows, cols: m };
  }
  const x = await matmul(left.data as Float64Array, b.data as Float64Array, left.rows, left.cols, b.cols);
  for (let i = 0; i < x.length; i++) x[i]! /= norm12;
  return { data: x, rows: left.rows, cols: b.cols };
}

/** `source` must be planned with pool: true (intra uses each layer's pooled first matrix). */
export async function analyzeIntra(
  source: LayerSource,
  o: ResolvedOptions,
  random: Random,
): Promise<{ results: LayerResult[]; skipped: SkippedLayers }> {
  const { layers } = source;
  const skipped = source.skipped;
  const results: LayerResult[] = [];
  let prev: { layer: PlannedLayer; w: Matrix } | undefined;
  for (const layer of layers) {
    const w = (await layer.read())[0]!;
    if (prev) {
      const x = await intraProduct(prev.w, w, o.sparsify, random);
      if (x) {
        const N = Math.max(x.rows, x.cols);
        const M = Math.min(x.rows, x.cols);
        const synthetic: PlannedLayer = {
          spec: { ...layer.spec, name: `${prev.layer.spec.id} X ${layer.spec.id} ` },
          geometry: { ...layer.geometry, N, M, numComponents: M, slices: [{ a: 0, b: 0 }], sliceAxes: 'dense', rows: x.rows, cols: x.cols },
        };
        results.push(...(await analyzeLayer(synthetic, [x], { ...o, pool: true }, random, { intra: true })));
      } else {
        skipped.add(layer.spec.id, `${prev.layer.spec.id} X ${layer.spec.id} `, 'intra', 'the two layers share no dimension');
      }
    }
    prev = { layer, w };
  }
  return { results, skipped };
}
