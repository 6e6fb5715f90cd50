/**
 * The measured error of the opt-in float32 routes, per column (docs/numerics.md): every model of the
 * shared corpus and the generated GPT-2-small-shaped model, analysed with precision 'float32' and
 * both methods (sgram = ssyrk + ssyevd, sgesdd), against float64 ?gesdd (which matches the
 * reference to ~1e-12). Prints, per column, the worst relative difference over all rows, and for
 * count columns how many rows differ.
 *
 *   npm run bench:float32
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WeightWatcher, type Row } from '../src/index.js';
import { writeGpt2Small } from './model-gen.js';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const corpus = join(process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared'), 'corpus');
const COUNTS = ['num_pl_spikes', 'rank_loss', 'weak_rank_loss', 'matrix_rank', 'num_evals'];
const SHOWN = [
  'alpha',
  'D',
  'xmin',
  'sigma',
  'lambda_max',
  'log_norm',
  'log_spectral_norm',
  'alpha_weighted',
  'log_alpha_norm',
  'stable_rank',
  'entropy',
  'sv_max',
  'sv_min',
];

interface Tally {
  worst: Map<string, number>;
  differing: Map<string, number>;
  rows: number;
}

function tally(t: Tally, ours: Row[], base: Row[]): void {
  t.rows += base.length;
  base.forEach((b, i) => {
    const a = ours[i]!;
    for (const c of SHOWN) {
      const x = a[c] as number;
      const y = b[c] as number;
      const d = x === y ? 0 : Math.abs(x - y) / Math.abs(y);
      t.worst.set(c, Math.max(t.worst.get(c) ?? 0, d));
    }
    for (const c of COUNTS) if (a[c] !== b[c]) t.differing.set(c, (t.differing.get(c) ?? 0) + 1);
  });
}

async function measure(label: string, models: string[]): Promise<void> {
  const t: { sgram: Tally; sgesdd: Tally } = {
    sgram: { worst: new Map(), differing: new Map(), rows: 0 },
    sgesdd: { worst: new Map(), differing: new Map(), rows: 0 },
  };
  for (const m of models) {
    const base = await new WeightWatcher(m).analyze({ svd_method: 'accurate' });
    tally(t.sgram, await new WeightWatcher(m).analyze({ precision: 'float32' }), base);
    tally(t.sgesdd, await new WeightWatcher(m).analyze({ precision: 'float32', svd_method: 'accurate' }), base);
  }
  console.log(`\n${label}: ${t.sgram.rows} rows; worst relative difference from float64 ?gesdd`);
  console.log(`column               sgram (fast)   sgesdd (accurate)`);
  for (const c of SHOWN)
    console.log(
      `${c.padEnd(20)} ${(t.sgram.worst.get(c) ?? 0).toExponential(1).padStart(12)} ${(t.sgesdd.worst.get(c) ?? 0).toExponential(1).padStart(19)}`,
    );
  for (const c of COUNTS)
    console.log(
      `${c.padEnd(20)} ${`${t.sgram.differing.get(c) ?? 0} rows differ`.padStart(12)} ${`${t.sgesdd.differing.get(c) ?? 0} rows differ`.padStart(19)}`,
    );
}

const names = [
  'minigpt/big-data/model.safetensors',
  'minigpt/small-data/model.safetensors',
  'minigpt/init/model.safetensors',
  'synthetic/gaussian.safetensors',
  'synthetic/spiked.safetensors',
  'synthetic/pareto.safetensors',
  'synthetic/powerlaw_sv_bf16.safetensors',
  'synthetic/convnet.safetensors',
];
const present = names.map((n) => join(corpus, n)).filter(existsSync);
if (present.length) await measure(`shared corpus (${present.length} models)`, present);
else console.log(`(corpus not found at ${corpus})`);
const dir = mkdtempSync(join(tmpdir(), 'ww-f32-'));
try {
  const gpt2 = join(dir, 'gpt2-small.safetensors');
  await writeGpt2Small(gpt2);
  await measure('generated GPT-2-small shape', [gpt2]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
