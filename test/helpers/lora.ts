/**
 * LoRA adapters built from a model's shapes for tests: deterministic factors (closed-form
 * formulas), in PEFT's naming (`base_model.model.<module>.lora_A[.default].weight`, `…lora_B…`).
 */
import { SafetensorsFile } from '../../src/formats/safetensors.js';

export interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A deterministic r×c factor with entries of size ~scale. */
export function factor(rows: number, cols: number, seed: number, scale = 0.02): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, k) => {
    const i = Math.floor(k / cols) + 1;
    const j = (k % cols) + 1;
    return scale * Math.sin(0.37 * i * j + seed) * Math.cos(0.011 * (i + 3 * j) * seed);
  });
}

export async function readAll(path: string): Promise<Map<string, Tensor>> {
  const f = await SafetensorsFile.open(path);
  const out = new Map<string, Tensor>();
  for (const t of f.tensors.values()) out.set(t.name, { name: t.name, shape: [...t.shape], data: await f.readFloat32(t.name) });
  await f.close();
  return out;
}

export interface LoraOptions {
  rank: number;
  /** Module names (weight key minus `.weight`). */
  modules: readonly string[];
  /**
   * 'linear': B·A has the weight's shape ([out, in] = the stored shape);
   * 'conv1d': the weight is stored [in, out] (GPT-2 Conv1D), so B·A is its transpose.
   */
  layout: 'linear' | 'conv1d';
  /** PEFT adapter name suffix, e.g. 'default' → `lora_A.default.weight`. */
  adapter?: string;
}

/** lora_A / lora_B tensors for `modules` of a model whose weights are `weights`. */
export function loraTensors(weights: ReadonlyMap<string, Tensor>, o: LoraOptions): Tensor[] {
  const suffix = o.adapter ? `.${o.adapter}` : '';
  const out: Tensor[] = [];
  o.modules.forEach((m, idx) => {
    const w = weights.get(`${m}.weight`);
    if (!w) throw new Error(`no weight for ${m}`);
    const [r0, r1] = w.shape as [number, number];
    const [outDim, inDim] = o.layout === 'linear' ? [r0, r1] : [r1, r0];
    out.push({ name: `base_model.model.${m}.lora_A${suffix}.weight`, shape: [o.rank, inDim], data: factor(o.rank, inDim, 2 * idx + 1) });
    out.push({ name: `base_model.model.${m}.lora_B${suffix}.weight`, shape: [outDim, o.rank], data: factor(outDim, o.rank, 2 * idx + 2) });
  });
  return out;
}

/** B·A in float64 (out×in) by plain loops. */
export function product(A: Tensor, B: Tensor): Float64Array {
  const [r, inDim] = A.shape as [number, number];
  const outDim = B.shape[0]!;
  const out = new Float64Array(outDim * inDim);
  for (let i = 0; i < outDim; i++)
    for (let j = 0; j < inDim; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B.data[i * r + k]! * A.data[k * inDim + j]!;
      out[i * inDim + j] = s;
    }
  return out;
}
