/**
 * Benchmark models. writeGpt2Small: a GPT-2-small-shaped safetensors file: 12 blocks of 768×2304, 768×768,
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

/**
 * Streams a safetensors file of 2-D tensors to disk, one tensor at a time: `data(t, rng)` makes
 * each tensor's bytes (little-endian `dtype`) when it is written.
 */
async function writeSafetensorsStream(
  path: string,
  layout: readonly GeneratedTensor[],
  dtype: 'F32' | 'BF16',
  seed: number,
  data: (t: GeneratedTensor, rng: Random) => Uint8Array,
  onTensor?: (i: number, total: number) => void,
): Promise<void> {
  const size = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of layout) {
    const bytes = t.rows * t.cols * size;
    header[t.name] = { dtype, shape: [t.rows, t.cols], data_offsets: [offset, offset + bytes] };
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
    for (let i = 0; i < layout.length; i++) {
      await fh.write(data(layout[i]!, rng));
      onTensor?.(i + 1, layout.length);
    }
  } finally {
    await fh.close();
  }
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
  await writeSafetensorsStream(path, layout, 'F32', seed, (t, rng) => new Uint8Array(fill(rng, t.rows * t.cols, t.heavy, 0.02).buffer));
  return layout;
}

/**
 * The "4 GB bf16 model" of bench/big.bench.ts: 32 blocks of four 2048×8192 matrices (two stored
 * 8192×2048, like up/gate projections, two 2048×8192, like down/output ones), BF16, 4.3 GB.
 * Gaussian weights; in every fourth block the down projection is heavy-tailed (Student-t, 3 degrees
 * of freedom). Seeded; streamed to disk one tensor at a time (peak memory ≈ one float32 tensor).
 */
export function bigLayout(blocks = 32, d = 2048, f = 8192): GeneratedTensor[] {
  const t: GeneratedTensor[] = [];
  for (let b = 0; b < blocks; b++) {
    t.push({ name: `model.layers.${b}.mlp.gate_proj.weight`, rows: f, cols: d, heavy: false });
    t.push({ name: `model.layers.${b}.mlp.up_proj.weight`, rows: f, cols: d, heavy: false });
    t.push({ name: `model.layers.${b}.mlp.down_proj.weight`, rows: d, cols: f, heavy: b % 4 === 1 });
    t.push({ name: `model.layers.${b}.mlp.out_proj.weight`, rows: d, cols: f, heavy: false });
  }
  return t;
}

/** Gaussian (both Box–Muller outputs) or Student-t(3) values, rounded to BF16 (nearest even). */
function fillBf16(rng: Random, n: number, heavy: boolean, scale: number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let spare = NaN;
  const gauss = () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const a = 2 * Math.PI * rng.next();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  for (let i = 0; i < n; i++) {
    f[0] = heavy ? (scale * gauss()) / Math.sqrt((gauss() ** 2 + gauss() ** 2 + gauss() ** 2) / 3) : scale * gauss();
    const bits = u[0]!;
    out[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  }
  return out;
}

export async function writeBigModel(
  path: string,
  layout = bigLayout(),
  seed = 7,
  onTensor?: (i: number, total: number) => void,
): Promise<GeneratedTensor[]> {
  await writeSafetensorsStream(
    path,
    layout,
    'BF16',
    seed,
    (t, rng) => new Uint8Array(fillBf16(rng, t.rows * t.cols, t.heavy, 0.02).buffer),
    onTensor,
  );
  return layout;
}
