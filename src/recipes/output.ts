/**
 * A recipe's outputs (docs/recipes.md#output): JSON `{method, options, layers, summary}` with
 * NaN/±inf written as null and named in the row's `nonfinite`, as the oracle does; CSV with one
 * row per layer; the per-layer array as a 1-D float64 .npy (np.save of a list of floats:
 * AlphaPruning's `alpha_peak.npy` cache layout); and lora-rank's PEFT LoraConfig fields.
 */
import type { RecipeCell, RecipeLayer, RecipeResult } from './run.js';

function nonfinite(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

/** A layer row for JSON: non-finite numbers become null and are listed in `nonfinite`. */
export function jsonLayer(l: RecipeLayer): Record<string, RecipeCell> {
  const out: Record<string, RecipeCell> = {};
  const marks: Record<string, string> = {};
  for (const [k, v] of Object.entries(l)) {
    if (v === undefined) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      out[k] = null;
      marks[k] = nonfinite(v);
    } else out[k] = v;
  }
  if (Object.keys(marks).length) out.nonfinite = marks;
  return out;
}

function finiteReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

export function recipeJson(r: RecipeResult): string {
  return (
    JSON.stringify({ method: r.method, options: r.options, layers: r.layers.map(jsonLayer), summary: r.summary }, finiteReplacer, 1) + '\n'
  );
}

function csvCell(v: RecipeCell | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : nonfinite(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  const s = typeof v === 'string' ? v : Array.isArray(v) ? v.join('x') : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per layer; columns in first-seen order; shape as `256x768`. */
export function recipeCsv(r: RecipeResult): string {
  const cols: string[] = [];
  const seen = new Set<string>();
  for (const l of r.layers) {
    for (const k of Object.keys(l)) {
      if (!seen.has(k)) {
        seen.add(k);
        cols.push(k);
      }
    }
  }
  const lines = [cols.join(',')];
  for (const l of r.layers) lines.push(cols.map((c) => csvCell(l[c])).join(','));
  return lines.join('\n') + '\n';
}

/** A 1-D little-endian float64 .npy (format 1.0, header padded to 64 bytes as numpy does). */
export function npyFloat64(values: Float64Array): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${values.length},), }`;
  const pre = 10;
  while ((pre + header.length + 1) % 64) header += ' ';
  header += '\n';
  const out = new Uint8Array(pre + header.length + values.length * 8);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const dv = new DataView(out.buffer);
  dv.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  for (let i = 0; i < values.length; i++) dv.setFloat64(pre + header.length + 8 * i, values[i]!, true);
  return out;
}

/** lora-rank: an adapter_config.json that `LoraConfig.from_pretrained(dir)` / `LoraConfig(**json)` read. */
export function peftConfigJson(r: RecipeResult): string {
  if (!r.peft) throw new Error(`${r.method} has no PEFT config (lora-rank only)`);
  return JSON.stringify(r.peft, null, 1) + '\n';
}
