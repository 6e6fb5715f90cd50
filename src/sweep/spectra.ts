/**
 * Layer spectra of a sweep: the eigenvalues behind each stored row, kept in the results database
 * (table layer_spectra, db.ts) so that sweep-report can draw a layer's ESD at any checkpoint.
 *
 * - One spectrum per row, keyed like the rows: (run_key, layer_id, slice), slice −1 when pooled.
 * - float32, little-endian, ascending (as the analysis sorts them): 4 bytes per eigenvalue, half of
 *   float64. A figure needs no more, and a 7B model (≈ 0.93 M eigenvalues: min(N, M) per matrix)
 *   then costs 3.7 MB per checkpoint. The rows (alpha, xmin, …) are computed from the float64
 *   eigenvalues as before; storing them changes no stored number and no run key.
 * - The same bytes travel from queue workers to the coordinator (codec.ts, base64), so a queued
 *   sweep stores exactly what a local one does.
 */
import type { LayerResult } from '../engine/layer.js';

export interface LayerSpectrum {
  readonly layer_id: number;
  /** slice_id of an unpooled conv2d row, else −1 (as layer_rows.slice). */
  readonly slice: number;
  /** The row's eigenvalues, rounded to float32, ascending. */
  readonly evals: Float32Array;
}

/** Bytes per stored eigenvalue. */
export const SPECTRUM_BYTES_PER_VALUE = 4;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A finished layer's spectrum (undefined when the analysis kept no eigenvalues for it). */
export function spectrumOf(r: Pick<LayerResult, 'row' | 'evals'>): LayerSpectrum | undefined {
  if (!r.evals || typeof r.row.layer_id !== 'number') return undefined;
  return { layer_id: r.row.layer_id, slice: typeof r.row.slice_id === 'number' ? r.row.slice_id : -1, evals: Float32Array.from(r.evals) };
}

/** Spectra in reference order (layers finish in any order). */
export function sortSpectra(s: LayerSpectrum[]): LayerSpectrum[] {
  return s.sort((a, b) => a.layer_id - b.layer_id || a.slice - b.slice);
}

/** float32 little-endian bytes of `evals` (the BLOB stored, and what the queue sends in base64). */
export function encodeEvals(evals: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(evals.buffer, evals.byteOffset, evals.byteLength);
  const out = Buffer.alloc(evals.length * SPECTRUM_BYTES_PER_VALUE);
  for (let i = 0; i < evals.length; i++) out.writeFloatLE(evals[i]!, i * SPECTRUM_BYTES_PER_VALUE);
  return out;
}

/** Inverse of encodeEvals. A length that is not a multiple of 4 is a corrupt value: undefined. */
export function decodeEvals(bytes: Uint8Array): Float32Array | undefined {
  if (bytes.byteLength % SPECTRUM_BYTES_PER_VALUE !== 0) return undefined;
  const n = bytes.byteLength / SPECTRUM_BYTES_PER_VALUE;
  // A copy: SQLite's and Buffer's bytes need not sit at a 4-byte boundary.
  if (LITTLE_ENDIAN) return new Float32Array(Uint8Array.from(bytes).buffer, 0, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * SPECTRUM_BYTES_PER_VALUE, true);
  return out;
}
