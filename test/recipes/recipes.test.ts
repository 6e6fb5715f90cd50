/**
 * The recipes' layer list, quirks (docs/recipes.md#quirks), mappings and outputs on synthetic
 * models — no shared corpus needed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, type InMemoryTensor } from '../../src/formats/memory.js';
import { listModules, blockModules } from '../../src/recipes/modules.js';
import { runRecipe } from '../../src/recipes/run.js';
import { fixedWindows, slidingWindows } from '../../src/recipes/farms.js';
import { medianFit, scanFit } from '../../src/recipes/hill.js';
import { alphaPruningSparsity, loraRanks, tempBalanceLr } from '../../src/recipes/mappings.js';
import { npyFloat64, recipeCsv, recipeJson } from '../../src/recipes/output.js';
import { torchSum32 } from '../../src/recipes/torch-sum.js';
import { Random } from '../../src/shared/random.js';
import { WeightWatcher } from '../../src/watcher.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { runCli } from '../helpers/run-cli.js';

function gaussian(n: number, seed: number, scale = 0.05): Float32Array {
  const r = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
  return out;
}

function t(name: string, shape: number[], seed = 1): InMemoryTensor {
  return {
    name,
    shape,
    data: gaussian(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  };
}

const work = mkdtempSync(join(tmpdir(), 'ww-recipes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the layers the papers see', () => {
  it('natural order, embeddings skipped, decoder blocks of GPT-2, Llama and OPT', () => {
    const gpt2 = listModules(
      new MemoryStore([t('h.10.mlp.c_fc', [8, 4]), t('wte', [50, 8]), t('h.2.attn.c_attn', [8, 24]), t('lm_head', [50, 8])]),
    );
    expect(gpt2.modules.map((m) => m.name)).toEqual(['h.2.attn.c_attn', 'h.10.mlp.c_fc', 'lm_head']);
    expect(gpt2.blocks).toEqual({ prefix: 'h', indices: [2, 10] });
    expect(gpt2.embeddings).toEqual(['wte']);
    expect(blockModules(gpt2).map((m) => m.block)).toEqual([2, 10]);
    const llama = listModules(
      new MemoryStore([
        t('model.embed_tokens', [50, 8]),
        t('model.layers.0.self_attn.q_proj', [8, 8]),
        t('model.layers.1.mlp.down_proj', [8, 16]),
      ]),
    );
    expect(llama.blocks?.prefix).toBe('model.layers');
    expect(llama.embeddings).toEqual(['model.embed_tokens']);
    const opt = listModules(new MemoryStore([t('model.decoder.layers.0.fc1', [8, 8]), t('model.decoder.layers.1.fc1', [8, 8])]));
    expect(opt.blocks?.prefix).toBe('model.decoder.layers');
  });

  it('sorted and header orders, grouped as torch named_modules() groups them', () => {
    const store = new MemoryStore([t('h.1.x', [4, 4]), t('h.0.y', [4, 4]), t('h.10.x', [4, 4]), t('h.0.x', [4, 4])]);
    expect(listModules(store, 'sorted').modules.map((m) => m.name)).toEqual(['h.0.x', 'h.0.y', 'h.1.x', 'h.10.x']);
    // header order h.1.x, h.0.y, h.10.x, h.0.x: h.0.x joins its parent h.0, inserted second
    expect(listModules(store, 'header').modules.map((m) => m.name)).toEqual(['h.1.x', 'h.0.y', 'h.0.x', 'h.10.x']);
    expect(listModules(store, 'natural').modules.map((m) => m.name)).toEqual(['h.0.x', 'h.0.y', 'h.1.x', 'h.10.x']);
  });
});

describe('fits', () => {
  it('torch.sum order: small and long vectors', () => {
    expect(torchSum32([1, 2, 3])).toBe(6);
    const x = Array.from(gaussian(1000, 3), Math.fround);
    const exact = x.reduce((a, b) => a + b, 0);
    expect(Math.abs(torchSum32(x) - exact)).toBeLessThan(1e-5);
  });

  it('a power law is recovered by the median, goodness-of-fit and xmin_peak rules', () => {
    const r = new Random(5);
    const ev = Float64Array.from({ length: 2000 }, () => (1 - r.next()) ** (-1 / 1.5)).sort(); // pdf ∝ x^-2.5
    for (const f of [medianFit(ev, 2, 'float64'), scanFit(ev, {}, 'float64'), scanFit(ev, { peakBins: 100 }, 'float64')]) {
      expect(f.alpha).toBeGreaterThan(2.2);
      expect(f.alpha).toBeLessThan(2.8);
    }
  });

  it('RQ5: a single eigenvalue gives no fit (NaN with a warning) instead of a crash or +inf', () => {
    for (const f of [medianFit(Float64Array.of(2), 2, 'float32'), scanFit(Float64Array.of(2), { peakBins: 100 }, 'float32')]) {
      expect(f.alpha).toBeNaN();
      expect(f.warning).toMatch(/single eigenvalue/);
    }
  });

  it('RQ4: zero eigenvalues neither break the histogram nor become xmin', () => {
    const ev = Float64Array.from([0, 0, 0, ...Array.from({ length: 200 }, (_, i) => 0.01 * (1 + i) ** 1.3)]);
    const f = scanFit(ev, { peakBins: 100 }, 'float32');
    expect(Number.isFinite(f.alpha)).toBe(true);
    expect(ev[f.index]!).toBeGreaterThan(0);
  });
});

describe('mappings', () => {
  it('AlphaPruning: block means mapped onto [1-ε, 1+ε], weighted mean = float32(target) (RQ6)', () => {
    const res = alphaPruningSparsity({ alphas: [2, 4, 3, 3], numel: [10, 10, 10, 10], layersPerBlock: 2, sparsity: 0.7, epsilon: 0.3 });
    expect(res.scores).toEqual([3, 3, 3, 3]);
    expect(res.uniform).toBe(true); // RQ7: equal scores give uniform ratios, not NaN
    expect(res.ratios.every((r) => r === Math.fround(Math.fround(40) * Math.fround(0.7)) / 40)).toBe(true);
    const two = alphaPruningSparsity({ alphas: [2, 2, 4, 4], numel: [10, 10, 10, 10], layersPerBlock: 2, sparsity: 0.5, epsilon: 0.2 });
    expect(two.ratios[2]! / two.ratios[0]!).toBeCloseTo(1.2 / 0.8, 12);
  });

  it('TempBalance: linear map, sqrt, log2 and step', () => {
    expect(tempBalanceLr([1, 2, 3], 0.1, 'tb_linear_map')).toEqual([0.05, 0.1, 1.5 * 0.1]);
    expect(tempBalanceLr([2, 2], 0.1, 'tb_linear_map')).toEqual([0.1, 0.1]); // RQ9
    expect(tempBalanceLr([3, 1, 2], 0.1, 'tb_step').map((x) => +x.toFixed(12))).toEqual([0.116666666667, 0.05, 0.083333333333]);
    const s = tempBalanceLr([4, 9], 1, 'tb_sqrt');
    expect(s[0]! + s[1]!).toBeCloseTo(2, 12);
  });

  it('LoRA: the int(0.5·L) smallest scores get ranks 4…64', () => {
    const r = loraRanks({ alphas: [2, 3, 4, 5], spikes: [10, 10, 0, 0] });
    expect(r.selected).toEqual([true, true, false, false]);
    expect(r.ranks).toEqual([4, 64, undefined, undefined]);
  });
});

describe('FARMS windows', () => {
  it('fixed sampling: minigpt 256×768 gives 10×10 windows of 100×200', () => {
    const w = fixedWindows(256, 768, 100, 2, 10);
    expect(w.length).toBe(100);
    expect(w.at(-1)).toEqual({ row: 153, col: 567, rows: 100, cols: 200 });
  });

  it('RQ11: a window wider than the matrix takes the whole width (the paper would slice from the end)', () => {
    const w = fixedWindows(256, 128, 100, 2, 10);
    expect(new Set(w.map((x) => `${x.col}+${x.cols}`))).toEqual(new Set(['0+128']));
  });

  it('sliding windows: starts every step, edge windows truncated', () => {
    const w = slidingWindows(256, 768, 100, 2, 10);
    expect(w.length).toBe(16 * 57);
    expect(slidingWindows(50, 300, 100, 2, 10)[0]).toEqual({ row: 0, col: 0, rows: 50, cols: 200 });
  });
});

describe('recipes on synthetic models', () => {
  const model = () =>
    new MemoryStore([
      t('wte', [100, 64], 1),
      ...[0, 1, 2].flatMap((b) => [
        t(`h.${b}.attn.c_attn`, [64, 192], 10 + b),
        t(`h.${b}.mlp.c_fc`, [64, 256], 20 + b),
        t(`h.${b}.mlp.c_proj`, [256, 64], 30 + b),
      ]),
      t('lm_head', [100, 64], 2),
    ]);

  it('every recipe runs, in both precisions, and writes JSON, CSV and npy', async () => {
    for (const name of [
      'alphapruning-alpha-peak',
      'alphapruning-sparsity',
      'tempbalance-alpha',
      'tempbalance-lr',
      'farms-alpha',
      'farms-alpha-imagecls',
      'lora-rank',
    ]) {
      for (const precision of ['float64', 'float32'] as const) {
        const r = await runRecipe(model(), name, { precision });
        expect(r.layers.length, name).toBeGreaterThan(0);
        expect(r.array.length).toBe(r.arrayNames.length);
        const json = JSON.parse(recipeJson(r)) as { method: string; layers: { name: string }[] };
        expect(json.method).toBe(name);
        expect(recipeCsv(r).split('\n')[0]).toMatch(/^name,shape,kind/);
      }
    }
    const ap = await runRecipe(model(), 'alphapruning-alpha-peak');
    expect(ap.layers.map((l) => l.name)).toEqual([
      'h.0.attn.c_attn',
      'h.0.mlp.c_fc',
      'h.0.mlp.c_proj',
      'h.1.attn.c_attn',
      'h.1.mlp.c_fc',
      'h.1.mlp.c_proj',
      'h.2.attn.c_attn',
      'h.2.mlp.c_fc',
      'h.2.mlp.c_proj',
    ]);
    const tb = await runRecipe(model(), 'tempbalance-lr');
    expect(tb.layers[0]!.tuned).toBe(false); // first and last layer are not tuned
    expect(tb.layers.at(-1)!.tuned).toBe(false);
    expect(tb.layers.filter((l) => l.tuned).length).toBe(8);
  });

  it('RQ7: one decoder block gives uniform sparsities instead of NaN', async () => {
    const r = await runRecipe(new MemoryStore([t('h.0.a', [32, 64], 1), t('h.0.b', [64, 32], 2)]), 'alphapruning-sparsity');
    expect(r.summary.uniform).toBe(true);
    for (const l of r.layers) expect(l.sparsity).toBeCloseTo(0.7, 6);
  });

  it('RQ10: FARMS on a conv2d layer gives an alpha (the paper code crashes)', async () => {
    const r = await runRecipe(new MemoryStore([t('layers.0.conv', [64, 32, 3, 3], 4), t('layers.1.fc', [64, 256], 5)]), 'farms-alpha');
    expect(r.layers[0]!.kind).toBe('conv2d');
    expect(Number.isFinite(r.layers[0]!.alpha)).toBe(true);
    expect(r.layers[0]!.eigs_num).toBe(9 * 2 * 16); // 3×3 slices, division 64//32 = 2, blocks of 16×32
  });

  it('RQ5: a 1×n layer is reported with alpha null and nonfinite in JSON', async () => {
    const r = await runRecipe(
      new MemoryStore([t('a', [32, 64], 1), t('gender_pred', [1, 64], 2), t('b', [64, 32], 3)]),
      'tempbalance-alpha',
    );
    const row = (JSON.parse(recipeJson(r)) as { layers: Record<string, unknown>[] }).layers.find((l) => l.name === 'gender_pred')!;
    expect(row.alpha).toBeNull();
    expect(row.nonfinite).toEqual({ alpha: 'nan', D: 'nan', alphahat: 'nan' });
  });

  it('validates the recipe name and options', async () => {
    await expect(runRecipe(model(), 'nope')).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runRecipe(model(), 'alphapruning-sparsity', { sparsity: 1.5 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runRecipe(model(), 'farms-alpha', { sampling_ops_per_dim: 1 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('npy: a 1-D <f8 array as np.save writes it', () => {
    const b = npyFloat64(Float64Array.of(1.5, -2));
    expect(Array.from(b.subarray(0, 6))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
    const headerLen = new DataView(b.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0);
    expect(new TextDecoder().decode(b.subarray(10, 10 + headerLen))).toMatch(/'descr': '<f8', 'fortran_order': False, 'shape': \(2,\)/);
    expect(Array.from(new Float64Array(b.slice(10 + headerLen).buffer))).toEqual([1.5, -2]);
  });

  it('ww.recipe() and the CLI: --json, --npy, --peft-config', async () => {
    const file = join(work, 'm.safetensors');
    writeSafetensors(file, [
      ...[0, 1].flatMap((b) => [
        { name: `h.${b}.attn.c_attn.weight`, shape: [32, 96], data: gaussian(32 * 96, 40 + b) },
        { name: `h.${b}.mlp.c_proj.weight`, shape: [128, 32], data: gaussian(128 * 32, 50 + b) },
      ]),
    ]);
    const api = await new WeightWatcher(file).recipe('lora-rank');
    expect(api.summary.num_selected).toBe(2);
    const out = join(work, 'r.json');
    const npy = join(work, 'r.npy');
    const peft = join(work, 'adapter_config.json');
    const res = await runCli('recipe', 'lora-rank', file, '--json', out, '--npy', npy, '--peft-config', peft);
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/h\.0\.attn\.c_attn/);
    const cfg = JSON.parse(readFileSync(peft, 'utf8')) as { rank_pattern: Record<string, number>; target_modules: string[] };
    expect(Object.keys(cfg.rank_pattern)).toEqual(cfg.target_modules);
    expect(Object.keys(cfg.rank_pattern)).toEqual(Object.keys(api.summary.rank_pattern as object));
    expect(readFileSync(npy).length).toBeGreaterThan(128);
    const bad = await runCli('recipe', 'tempbalance-lr', file, '--peft-config', peft);
    expect(bad.code).toBe(2);
    const unknown = await runCli('recipe', 'nope', file);
    expect(unknown.code).toBe(2);
  });
});
