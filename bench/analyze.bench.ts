/**
 * Our analyze() against the same per-layer work done the way Python WeightWatcher does it
 * (bench/reference_baseline.py: scipy.linalg.svd on float64 copies + its numpy fitter), run in the
 * same script on the same files; prints times and ratios.
 *
 *   npm run bench                 # minigpt (if ../shared is present) + generated GPT-2-small
 *   npm run bench -- --runs 3     # best of N for both sides
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WeightWatcher, nativeInfo } from '../src/index.js';
import { writeGpt2Small } from './model-gen.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 3;
const python = process.env.WW_BENCH_PYTHON ?? 'python3';
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const shared = process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared');

function pythonBaseline(model: string): { seconds: number; layers: number; alphas: number[] } {
  // The reference's bundled OpenBLAS picks its own kernels; don't let this machine's
  // OPENBLAS_CORETYPE override (set for old OpenBLAS builds) slow the baseline down.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const out = execFileSync(python, [join(root, 'bench', 'reference_baseline.py'), model], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; layers: number; alphas: number[] };
}

async function ours(model: string, options: object = {}): Promise<{ seconds: number; layers: number; alphas: number[] }> {
  const ww = new WeightWatcher(model);
  const t0 = performance.now();
  const rows = await ww.analyze(options);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, layers: rows.length, alphas: rows.map((r) => r.alpha as number) };
}

function best<T extends { seconds: number }>(f: () => T): T {
  let b: T | undefined;
  for (let i = 0; i < runs; i++) {
    const r = f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

async function bestAsync<T extends { seconds: number }>(f: () => Promise<T>): Promise<T> {
  let b: T | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

async function compare(label: string, model: string) {
  const ref = best(() => pythonBaseline(model));
  const ww = await bestAsync(() => ours(model));
  const f32 = await bestAsync(() => ours(model, { precision: 'float32' }));
  const worstAlpha = Math.max(...ww.alphas.map((a, i) => Math.abs(a - ref.alphas[i]!) / Math.abs(ref.alphas[i]!)));
  const worstF32 = Math.max(...f32.alphas.map((a, i) => Math.abs(a - ww.alphas[i]!) / Math.abs(ww.alphas[i]!)));
  console.log(`\n${label}: ${ww.layers} layers (reference-style baseline: ${ref.layers})`);
  console.log(`  python/scipy baseline  ${ref.seconds.toFixed(3)} s`);
  console.log(`  weightwatcher float64  ${ww.seconds.toFixed(3)} s   speed-up ×${(ref.seconds / ww.seconds).toFixed(2)}   max |Δalpha|/alpha vs baseline ${worstAlpha.toExponential(1)}`);
  console.log(`  weightwatcher float32  ${f32.seconds.toFixed(3)} s   speed-up ×${(ref.seconds / f32.seconds).toFixed(2)}   max |Δalpha|/alpha vs float64 ${worstF32.toExponential(1)}`);
}

const info = nativeInfo();
console.log(`native: ${info.blasConfig} (core ${info.coreType}, ${info.coreTypeSource}), ${info.blasThreads} threads, LAPACK ${info.lapackVersion}; best of ${runs} runs`);
const minigpt = join(shared, 'corpus', 'minigpt', 'big-data', 'model.safetensors');
if (existsSync(minigpt)) await compare('minigpt big-data (18 layers, 256-wide)', minigpt);
else console.log(`(skipping minigpt: ${minigpt} not found)`);

const dir = mkdtempSync(join(tmpdir(), 'ww-bench-'));
try {
  const file = join(dir, 'gpt2-small.safetensors');
  await writeGpt2Small(file);
  await compare('generated GPT-2-small shape (49 layers up to 3072×768)', file);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
