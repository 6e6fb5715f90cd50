/**
 * stacked=True (R36): all supported layers combined into one synthetic layer. Per layer,
 * its matrices side by side (conv slices as stored, no transposes), robust-standardised with the
 * median of all entries and the per-column median absolute deviation (scipy's axis-0 default, scale
 * 1, float32 arithmetic as numpy does on float32 weights), right-padded with zero columns to the
 * widest layer, stacked vertically, transposed if it has fewer rows than columns.
 *
 * Divergence (Q33/Q48, documented): the reference keeps the first layer's num_components and so
 * computes only the top num_components eigenvalues when that is smaller than the stacked M; here
 * the stacked layer gets its full ESD (num_components = M). lambda_max and the rest of the spectrum
 * top are unchanged; alpha and the count columns can differ.
 */
import type { Matrix } from '../spectra/esd.js';
import type { Random } from '../shared/random.js';
import type { ResolvedOptions } from '../shared/options.js';
import { analyzeLayer, type LayerResult } from './layer.js';
import type { LayerSource, PlannedLayer, SkippedLayers } from './plan.js';
import type { Geometry } from '../tensors/geometry.js';

const f32 = Math.fround;

/** np.median of float32 values (mean of the two middle values in float32 for an even count). */
export function medianF32(values: Float32Array): number {
  const s = Float32Array.from(values).sort();
  const n = s.length;
  if (n === 0) return NaN;
  if (n % 2 === 1) return s[(n - 1) / 2]!;
  return f32(f32(s[n / 2 - 1]! + s[n / 2]!) / 2);
}

/** One layer's matrices side by side (rows must agree), row-major. */
export function hstack(mats: readonly Matrix[]): Matrix {
  const rows = mats[0]!.rows;
  const cols = mats.reduce((s, m) => s + m.cols, 0);
  const out = new Float32Array(rows * cols);
  let off = 0;
  for (const m of mats) {
    if (m.rows !== rows) throw new Error(`stacked: slices of one layer have different row counts (${m.rows} vs ${rows})`);
    for (let i = 0; i < rows; i++) for (let j = 0; j < m.cols; j++) out[i * cols + off + j] = m.data[i * m.cols + j]!;
    off += m.cols;
  }
  return { data: out, rows, cols };
}

/** (W − median(W)) / MAD_col(W), in float32 like numpy on float32 weights. */
export function robustStandardise(m: Matrix): Matrix {
  const { rows, cols } = m;
  const data = Float32Array.from(m.data);
  const med = medianF32(data);
  const mad = new Float32Array(cols);
  const col = new Float32Array(rows);
  for (let j = 0; j < cols; j++) {
    for (let i = 0; i < rows; i++) col[i] = data[i * cols + j]!;
    const c = medianF32(col);
    for (let i = 0; i < rows; i++) col[i] = Math.abs(f32(col[i]! - c));
    mad[j] = medianF32(col);
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = f32(f32(data[i * cols + j]! - med) / mad[j]!);
  return { data: out, rows, cols };
}

/** The stacked matrix of the layers' matrices (one entry per layer). */
export function stackLayers(layers: readonly (readonly Matrix[])[]): Matrix {
  const parts = layers.map((mats) => robustStandardise(hstack(mats)));
  const width = Math.max(...parts.map((p) => p.cols));
  const rows = parts.reduce((s, p) => s + p.rows, 0);
  const out = new Float32Array(rows * width);
  let r0 = 0;
  for (const p of parts) {
    for (let i = 0; i < p.rows; i++) out.set(p.data.subarray(i * p.cols, (i + 1) * p.cols), (r0 + i) * width);
    r0 += p.rows;
  }
  if (rows >= width) return { data: out, rows, cols: width };
  const t = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) for (let j = 0; j < width; j++) t[j * rows + i] = out[i * width + j]!;
  return { data: t, rows: width, cols: rows };
}

/** analyze(stacked=True): one row, layer_id 0, name 'Stacked Layer', type 'stacked', rf 1. */
export async function analyzeStacked(
  source: LayerSource,
  o: ResolvedOptions,
  random: Random,
): Promise<{ results: LayerResult[]; skipped: SkippedLayers }> {
  const { layers, skipped } = source;
  if (layers.length === 0) return { results: [], skipped };
  const mats: Matrix[][] = [];
  for (const l of layers) mats.push(await l.read());
  const W = stackLayers(mats);
  const first = layers[0]!;
  const N = Math.max(W.rows, W.cols);
  const M = Math.min(W.rows, W.cols);
  const geometry: Geometry = { N, M, rf: 1, numComponents: M, slices: [{ a: 0, b: 0 }], sliceAxes: 'dense', rows: W.rows, cols: W.cols };
  const synthetic: PlannedLayer = {
    spec: {
      ...first.spec,
      id: 0,
      name: 'Stacked Layer',
      longname: first.spec.longname,
      type: 'stacked',
      tensor: undefined,
      shape: [W.rows, W.cols],
      bias: undefined,
    },
    geometry,
  };
  return { results: await analyzeLayer(synthetic, [W], o, random), skipped };
}
