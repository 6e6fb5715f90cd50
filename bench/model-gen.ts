/**
 * Writes a GPT-2-small-shaped safetensors file for benchmarks: 12 blocks of 768×2304, 768×768,
 * 768×3072, 3072×768 plus a 1024×768 position embedding; Gaussian weights, with every fourth
 * attention output made heavy-tailed (Student-t, 3 degrees of freedom) so fits see both regimes.
 * Deterministic (seeded), streamed to disk one tensor at a time.
 */
import { open } from 'node:fs/promises';
import { Random } from '../src/shared/random.js';

export interface GeneratedTensor {
  name: string;
  rows: number;
  cols: number;
  heavy: boolean;
}

export function gpt2SmallLayout(): GeneratedTensor[] {
  const t: GeneratedTensor[] = [];
  for (let b = 0; b < 12; b++) {
    t.push({ name: `h.${b}.attn.c_attn.weight`, rows: 768, cols: 2304, heavy: false });
    t.push({ name: `h.${b}.attn.c_proj.weight`, rows: 768, cols: 768, heavy: b % 4 === 0 });
    t.push({ name: `h.${b}.mlp.c_fc.weight`, rows: 768, cols: 3072, heavy: false });
    t.push({ name: `h.${b}.mlp.c_proj.weight`, rows: 3072, cols: 768, heavy: b % 4 === 2 });
  }
  t.push({ name: 'wpe.weight', rows: 1024, cols: 768, heavy: false });
  return t;
}

function fill(rng: Random, n: number, heavy: boolean, scale: number): Float32Array {
  const out = new Float32Array(n);
  const gauss = () => {
    // Box–Muller
    const u = 1 - rng.next();
    const v = rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  for (let i = 0; i < n; i++) {
    if (heavy) {
      const z = gauss();
      const chi = gauss() ** 2 + gauss() ** 2 + gauss() ** 2;
      out[i] = (scale * z) / Math.sqrt(chi / 3);
    } else out[i] = scale * gauss();
  }
  return out;
}

export async function writeGpt2Small(path: string, seed = 1): Promise<GeneratedTensor[]> {
  return writeLayout(path, gpt2SmallLayout(), seed);
}

/** `blocks` blocks of an MLP (rows×cols up-projection, cols×rows down-projection): 2·blocks layers, every fifth heavy-tailed. */
export function manyLayerLayout(blocks: number, rows = 512, cols = 256): GeneratedTensor[] {
  return Array.from({ length: blocks }, (_, b) => [
    { name: `blocks.${b}.up.weight`, rows, cols, heavy: b % 5 === 0 },
    { name: `blocks.${b}.down.weight`, rows: cols, cols: rows, heavy: b % 5 === 2 },
  ]).flat();
}

/** Write `layout` as an F32 safetensors file, one tensor at a time (seeded Gaussian / Student-t weights). */
export async function writeLayout(path: string, layout: GeneratedTensor[], seed = 1): Promise<GeneratedTensor[]> {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of layout) {
    const bytes = t.rows * t.cols * 4;
    header[t.name] = { dtype: 'F32', shape: [t.rows, t.cols], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const fh = await open(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    await fh.write(len);
    await fh.write(json);
    const rng = new Random(seed);
    for (const t of layout) {
      const data = fill(rng, t.rows * t.cols, t.heavy, 0.02);
      await fh.write(new Uint8Array(data.buffer));
    }
  } finally {
    await fh.close();
  }
  return layout;
}
