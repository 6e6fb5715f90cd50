/**
 * Parity of the recipes with the papers' own code (../shared/reference/downstream, goldens in
 * ../shared/goldens/downstream): with precision float32 every discrete choice (ranks, spike
 * counts, selected and tuned layers, eigenvalue counts) is exact and floats agree to 1e-5
 * relative; with float64 (the default) to 1e-4, except the ill-conditioned columns of `tolerance`;
 * eig_min is not compared (the smallest σ² of a float32 SVD carries the absolute error of σmax:
 * docs/recipes.md#parity).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldensDir, corpus, haveCorpus, skipReason } from '../helpers/corpus.js';
import { openModel } from '../../src/formats/open.js';
import { runRecipe, type RecipeOptions, type RecipeResult } from '../../src/recipes/run.js';

const dir = resolve(goldensDir, 'downstream');
const have = haveCorpus && existsSync(dir);
if (!have) console.warn(`${skipReason} (recipes: ${dir})`);

interface GoldenLayer {
  name: string;
  [k: string]: unknown;
}
interface GoldenFile {
  layers: GoldenLayer[];
  summary: Record<string, unknown>;
}

function golden(model: string, file: string): GoldenFile {
  return JSON.parse(readFileSync(resolve(dir, `minigpt-${model}`, `${file}.json`), 'utf8')) as GoldenFile;
}

/** Columns only the oracle has (its tree's module counter) or that are not comparable (see the header). */
const SKIP = new Set(['name', 'layer_index', 'eig_min', 'nonfinite']);

/**
 * Tolerance of one float column: `rel` relative, except where the column is ill-conditioned in
 * the oracle's own float32 arithmetic (docs/recipes.md#parity): D ≈ (α − 1)·δλ/λ near the tail
 * start, alphahat = α·log10 λmax near λmax = 1, and the [0, 1]-normalised LoRA scores (absolute).
 */
function tolerance(k: string, v: number, row: GoldenLayer, rel: number): number {
  const alpha = Math.abs(Number(row.alpha ?? row.alpha_hill ?? 0));
  if (k === 'D') return Math.max(rel * Math.abs(v), 1e-6 * Math.max(3, alpha - 1));
  if (k === 'alphahat' || k === 'alpha_hat') return rel * alpha * (1 + Math.abs(Math.log10(Number(row.spectral_norm))));
  if (k.endsWith('_normalized') || k === 'weighted_score') return rel;
  return rel * Math.abs(v);
}

const DISCRETE = new Set(['num_eigs', 'eigs_num', 'num_spikes', 'rank', 'lora_alpha', 'numel', 'block']);

function compare(ours: RecipeResult, g: GoldenFile, rel: number): string[] {
  const bad: string[] = [];
  expect(ours.layers.map((l) => l.name)).toEqual(g.layers.map((l) => l.name));
  g.layers.forEach((gl, i) => {
    const l = ours.layers[i]!;
    for (const [k, v] of Object.entries(gl)) {
      if (SKIP.has(k)) continue;
      const o = l[k];
      if (typeof v === 'number' && !DISCRETE.has(k)) {
        if (!(typeof o === 'number' && Math.abs(o - v) <= tolerance(k, v, gl, rel)))
          bad.push(`${gl.name}.${k}: ${JSON.stringify(o)} vs ${v}`);
      } else if (JSON.stringify(o) !== JSON.stringify(v)) {
        bad.push(`${gl.name}.${k}: ${JSON.stringify(o)} vs ${JSON.stringify(v)}`);
      }
    }
  });
  return bad;
}

async function run(model: string, method: string, o: RecipeOptions): Promise<RecipeResult> {
  const store = await openModel(corpus(`minigpt/${model}/model.safetensors`));
  try {
    return await runRecipe(store, method, o);
  } finally {
    await store.close();
  }
}

const PAPER_LLM: RecipeOptions = { fix_fingers: 'xmin_peak', num_row_samples: 2000, q_ratio: 1.0, step_size: 15, sampling_ops_per_dim: 15 };

/**
 * [model, method, golden file, options, precisions]. Default: every method on small-data in both
 * precisions (FARMS image-classification and the paper's LLM settings in float32), the cheaper
 * methods on init and big-data in float32. WW_RECIPES_FULL=1 runs every golden in both
 * precisions (about 20 minutes on a loaded 2-core machine).
 */
const FULL = process.env.WW_RECIPES_FULL === '1';
const CASES: [string, string, string, RecipeOptions, ('float32' | 'float64')[]][] = [];
const BOTH: ('float32' | 'float64')[] = ['float32', 'float64'];
for (const model of ['small-data', 'init', 'big-data']) {
  const main = model === 'small-data' || FULL;
  for (const m of ['alphapruning-alpha-peak', 'alphapruning-sparsity', 'tempbalance-alpha', 'tempbalance-lr', 'lora-rank', 'farms-alpha'])
    CASES.push([model, m, m, {}, model === 'small-data' || FULL ? BOTH : ['float32']]);
  if (main) CASES.push([model, 'farms-alpha', 'farms-alpha.paper-llm', PAPER_LLM, FULL ? BOTH : ['float32']]);
  if (main) CASES.push([model, 'farms-alpha-imagecls', 'farms-alpha-imagecls', {}, FULL ? BOTH : ['float32']]);
}
if (!FULL) console.warn('recipes parity: the default subset of the goldens; WW_RECIPES_FULL=1 compares all of them in both precisions');

describe.skipIf(!have)('recipes match the papers’ code on minigpt', () => {
  for (const [model, method, file, opts, precisions] of CASES) {
    for (const precision of precisions) {
      it(`${method} ${file.includes('paper') ? '(paper LLM settings) ' : ''}on ${model}, ${precision}`, { timeout: 600_000 }, async () => {
        const g = golden(model, file);
        const r = await run(model, method, { ...opts, precision });
        expect(compare(r, g, precision === 'float32' ? 1e-5 : 1e-4)).toEqual([]);
        for (const k of [
          'num_layers',
          'num_selected',
          'num_tuned',
          'layer_num_in_block',
          'total_prunable',
          'target_modules_regex',
          'any_ratio_above_1',
        ])
          if (k in g.summary) expect(r.summary[k], k).toEqual(g.summary[k]);
        for (const k of ['rank_pattern', 'alpha_pattern']) if (k in g.summary) expect(r.summary[k], k).toEqual(g.summary[k]);
        if ('weighted_mean_sparsity' in g.summary)
          expect(r.summary.weighted_mean_sparsity as number).toBeCloseTo(g.summary.weighted_mean_sparsity as number, 12);
        if ('param_groups' in g.summary) {
          const pg = g.summary.param_groups as { modules: string; lr: number }[];
          const ours = r.summary.param_groups as { modules: string; lr: number }[];
          expect(ours.map((p) => p.modules)).toEqual(pg.map((p) => p.modules));
          ours.forEach((p, i) => expect(Math.abs(p.lr / pg[i]!.lr - 1)).toBeLessThan(precision === 'float32' ? 1e-5 : 1e-4));
        }
      });
    }
  }
});
