/**
 * `npx vite-node bench/recipes.bench.ts`: the recipes (docs/recipes.md) at the papers' scale.
 *
 *  minigpt  each recipe on the three minigpt models: our time (in process, best of two after a warm-up) next
 *           to the papers' own code run by the oracle (../shared/reference/downstream, a process:
 *           python + torch import included) in the same run. FARMS-LLM and Adaptive-Rank-LoRA have
 *           no licence file, so the oracle cannot run them: their row shows ours only.
 *  llama    a Llama-7B-shaped model (generated, BF16, real layer names and shapes; --blocks N
 *           decoder blocks, default 1, projected to 32): alphapruning-sparsity against analyze
 *           with the fast route on the same file (the requirement: ≤ analyze + 5%).
 *  farms    FARMS at the paper's LLM settings (2000×2000 windows, 15 per dimension) per Llama layer
 *           shape, timed on --farms-windows windows of each shape and projected to the 225 of the paper.
 *
 *   npx vite-node bench/recipes.bench.ts [--only minigpt,llama,farms] [--blocks 1] [--farms-windows 4] [--model FILE]
 */
import '../src/cli/threadpool.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openModel } from '../src/formats/open.js';
import { RECIPE_NAMES } from '../src/recipes/run.js';
import { fixedWindows, windowEigs } from '../src/recipes/farms.js';
import { WeightWatcher } from '../src/watcher.js';
import { writeBigModel, type GeneratedTensor } from './model-gen.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const only = new Set((opt('only') ?? 'minigpt,llama,farms').split(','));
const blocks = Number(opt('blocks') ?? 1);
const farmsWindows = Number(opt('farms-windows') ?? 4);
const root = resolve(import.meta.dirname, '..');
const shared = process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared');
const oracle = join(shared, 'reference', 'downstream', 'downstream');
const work = mkdtempSync(join(tmpdir(), 'ww-recipes-bench-'));

const now = () => performance.now() / 1000;
const load = () => loadavg()[0]!.toFixed(1);

function section(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 90 - title.length))}  (load ${load()}, ${cpus()[0]?.model ?? '?'})`);
}

/** Our time through the library (the process scheduler, as the CLI runs it): best of `runs`. */
async function ours(model: string, method: string, runs = 2): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < runs; k++) {
    const t = now();
    await new WeightWatcher(model).recipe(method as (typeof RECIPE_NAMES)[number]);
    best = Math.min(best, now() - t);
  }
  return best;
}

function theirs(model: string, method: string): number | string {
  const t = now();
  const r = spawnSync(oracle, [method, model, '--out', join(work, `${method}.json`)], { encoding: 'utf8' });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split('\n').pop()?.slice(0, 60) ?? `exit ${r.status}`;
  return now() - t;
}

async function minigpt(): Promise<void> {
  section('minigpt: ours (in process) vs the papers’ code (oracle process), same run');
  if (!existsSync(oracle)) return void console.log(`oracle not found at ${oracle}: skipped`);
  console.log(`${'recipe'.padEnd(26)}${'model'.padEnd(12)}${'ours s'.padStart(9)}${'oracle s'.padStart(10)}${'ratio'.padStart(8)}`);
  for (const m of ['init', 'small-data', 'big-data']) {
    const file = join(shared, 'corpus', 'minigpt', m, 'model.safetensors');
    for (const method of RECIPE_NAMES) {
      await ours(file, method, 1); // warm-up (addon load, JIT)
      const a = await ours(file, method);
      const b = theirs(file, method);
      const ratio = typeof b === 'number' ? `${(b / a).toFixed(1)}×` : '';
      console.log(
        `${method.padEnd(26)}${m.padEnd(12)}${a.toFixed(2).padStart(9)}${(typeof b === 'number' ? b.toFixed(2) : 'n/a').padStart(10)}${ratio.padStart(8)}${typeof b === 'number' ? '' : `  (${b})`}`,
      );
    }
  }
}

/** Llama-7B's decoder block: real names and [out, in] shapes. */
function llamaLayout(n: number): GeneratedTensor[] {
  const t: GeneratedTensor[] = [];
  for (let b = 0; b < n; b++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj'])
      t.push({ name: `model.layers.${b}.self_attn.${p}.weight`, rows: 4096, cols: 4096, heavy: p === 'o_proj' });
    t.push({ name: `model.layers.${b}.mlp.gate_proj.weight`, rows: 11008, cols: 4096, heavy: false });
    t.push({ name: `model.layers.${b}.mlp.up_proj.weight`, rows: 11008, cols: 4096, heavy: false });
    t.push({ name: `model.layers.${b}.mlp.down_proj.weight`, rows: 4096, cols: 11008, heavy: b % 2 === 0 });
  }
  return t;
}

/**
 * Generating 400 MB per block takes minutes on a loaded machine: the file is kept in the temporary
 * folder and reused by the next run (--model FILE names another copy).
 */
async function llamaFile(): Promise<string> {
  const file = opt('model') ?? join(tmpdir(), `ww-recipes-llama-${blocks}.safetensors`);
  if (existsSync(file)) {
    console.log(`reusing ${file}`);
    return file;
  }
  const t = now();
  await writeBigModel(file, llamaLayout(blocks), 11);
  console.log(`generated ${file} in ${(now() - t).toFixed(1)} s`);
  return file;
}

async function llama(): Promise<void> {
  section(`Llama-7B shapes, ${blocks} decoder block(s) of 7 projections, BF16`);
  const file = await llamaFile();
  let t: number;
  // analyze, fast route (the default), and the recipe, alternated twice; the best of each
  const an: number[] = [];
  const ap: number[] = [];
  for (let k = 0; k < 2; k++) {
    t = now();
    await new WeightWatcher(file).analyze({ svd_method: 'fast' });
    an.push(now() - t);
    t = now();
    await new WeightWatcher(file).recipe('alphapruning-sparsity');
    ap.push(now() - t);
  }
  const a = Math.min(...an);
  const b = Math.min(...ap);
  console.log(`analyze (fast)         ${a.toFixed(1)} s  (runs ${an.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(
    `alphapruning-sparsity  ${b.toFixed(1)} s  (runs ${ap.map((x) => x.toFixed(1)).join(', ')})  = ${((b / a - 1) * 100).toFixed(1)}% vs analyze (limit +5%)`,
  );
  console.log(
    `projected to 32 blocks: analyze ${((a * 32) / blocks / 60).toFixed(1)} min, alphapruning-sparsity ${((b * 32) / blocks / 60).toFixed(1)} min`,
  );
}

/** FARMS at the paper's LLM settings: windows of each Llama shape, projected to the 225 windows per layer. */
async function farms(): Promise<void> {
  section('farms-alpha at the paper LLM settings, per Llama-7B layer shape');
  const file = await llamaFile();
  const layout = llamaLayout(blocks);
  const store = await openModel(file);
  try {
    console.log(
      `farms-alpha, paper LLM settings (num_row_samples 2000, Q 1, 15 windows per dimension), ${farmsWindows} windows timed per shape:`,
    );
    for (const name of [layout[0]!, layout[4]!, layout[6]!]) {
      const data = await store.read(name.name);
      const all = fixedWindows(name.rows, name.cols, 2000, 1.0, 15);
      const some = all.filter((_, i) => i % Math.ceil(all.length / farmsWindows) === 0).slice(0, farmsWindows);
      const t = now();
      const s = await windowEigs(data, name.rows, name.cols, some, 1, 'float64');
      const per = (now() - t) / some.length;
      console.log(
        `  ${`${name.rows}×${name.cols}`.padEnd(12)} ${all.length} windows of ${some[0]!.rows}×${some[0]!.cols}: ${per.toFixed(2)} s/window (route ${s.route}) → ${((per * all.length) / 60).toFixed(1)} min per layer`,
      );
    }
  } finally {
    await store.close();
  }
}

try {
  if (only.has('minigpt')) await minigpt();
  if (only.has('llama')) await llama();
  if (only.has('farms')) await farms();
} finally {
  rmSync(work, { recursive: true, force: true });
}
