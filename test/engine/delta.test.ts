/**
 * Fine-tune deltas (R39, Q14): big-data against the init base equals an analysis of a file holding
 * the explicit differences, and the reference's numbers; a zero delta gives the reference's failed
 * row; unmatched and misshapen partners are skipped with reasons; the substring walk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { readAll } from '../helpers/lora.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-delta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const INIT = corpus('minigpt/init/model.safetensors');
const BIG = corpus('minigpt/big-data/model.safetensors');

describe.skipIf(!haveCorpus)('base model deltas on minigpt', () => {
  it('--base-model init on big-data equals the analysis of a file of the explicit differences', async () => {
    const [a, b] = [await readAll(BIG), await readAll(INIT)];
    // float32 differences, as the reference computes them (W − W_base on float32 arrays)
    const diffs = [...a.values()].map((t) => ({ ...t, data: Float32Array.from(t.data, (x, i) => x - b.get(t.name)!.data[i]!) }));
    const file = writeSafetensors(join(dir, 'diff.safetensors'), diffs);
    const delta = await new WeightWatcher(BIG).analyze({ baseModel: INIT, mp_fit: true });
    const explicit = await new WeightWatcher(file).analyze({ mp_fit: true });
    expect(delta.length).toBe(18);
    expect(delta).toEqual(explicit);
  });

  it("matches the reference's delta rows (analyze(base_model=init) on big-data)", async () => {
    const ww = new WeightWatcher(BIG, { baseModel: INIT });
    const rows = await ww.analyze();
    const expected: [string, number, number, number, number][] = [
      // name, alpha, lambda_max, D, weak_rank_loss — reference 0.7.5.5
      ['h.0.attn.c_attn', 2.9272862437682, 8.856413877701925, 0.073903163679004, 0],
      ['h.0.attn.c_proj', 1.655170714071916, 0.241566347852003, 0.084222892027135, 3],
      ['h.0.mlp.c_fc', 1.510249751316688, 6.054154506973651, 0.046126919406924, 0],
      ['wte', 1.798687842409625, 385.1705725750761, 0.058147448785139, 6],
    ];
    for (const [name, alpha, lmax, D, weak] of expected) {
      const r = rows.find((x) => x.name === name)!;
      expect(Math.abs(r.alpha - alpha) / alpha).toBeLessThan(1e-9);
      expect(Math.abs(r.lambda_max - lmax) / lmax).toBeLessThan(1e-12);
      expect(Math.abs(r.D - D)).toBeLessThan(1e-12);
      expect(r.weak_rank_loss).toBe(weak);
    }
  });

  it("a zero delta gives the reference's failed-fit row", async () => {
    const [row] = await new WeightWatcher(BIG).analyze({ baseModel: BIG, layers: [0] });
    expect(row).toMatchObject({
      layer_id: 0,
      name: 'h.0.attn.c_attn',
      alpha: -1,
      D: -1,
      xmin: -1,
      sigma: -1,
      num_pl_spikes: -1,
      status: 'failed',
      warning: 'over-trained',
      lambda_max: 0,
      norm: 0,
      matrix_rank: 0,
      rank_loss: 256,
      weak_rank_loss: 256,
      num_evals: 256,
      log_norm: -Infinity,
      alpha_weighted: Infinity,
    });
    expect(row!.stable_rank).toBeNaN();
    expect(row!.entropy).toBeNaN();
  });
});

describe('base model pairing', () => {
  const t = (name: string, shape: number[], f: (i: number) => number) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape[0]! * shape[1]! }, (_, i) => f(i)),
  });
  const model = [
    t('a.weight', [20, 12], Math.sin),
    t('b.weight', [12, 30], Math.cos),
    t('c.weight', [16, 16], (i) => Math.sin(3 * i)),
    t('d.weight', [14, 11], (i) => i % 7),
  ];

  it('by name: a missing or misshapen partner is skipped with a reason; a transposed one is transposed back', async () => {
    const base = [
      t('b.weight', [30, 12], (i) => 0.5 * Math.sin(i)),
      t('a.weight', [20, 12], (i) => 0.1 * Math.cos(i)),
      t('c.weight', [16, 15], Math.cos),
    ];
    const ww = new WeightWatcher(model);
    const rows = await ww.analyze({ baseModel: base, keep_evals: true });
    expect(rows.map((r) => r.name)).toEqual(['a', 'b']);
    expect(ww.lastRun!.skipped.filter((s) => s.kind.startsWith('base'))).toEqual([
      { layer_id: 3, name: 'c', kind: 'base_shape', reason: 'base layer "c" has shape [16, 15], this layer [16, 16]' },
      { layer_id: 4, name: 'd', kind: 'base_unmatched', reason: 'no layer named "d" in the base model in-memory tensors' },
    ]);
    // b − baseᵀ, computed here
    const [bm, bb] = [model[1]!.data, base[0]!.data];
    const expected = Float32Array.from(bm, (x, k) => x - bb[(k % 30) * 12 + Math.floor(k / 30)]!);
    const [direct] = await new WeightWatcher([{ name: 'b', shape: [12, 30], data: expected }]).analyze();
    expect(rows[1]!.lambda_max).toBe(direct!.lambda_max);
  });

  it("substring walk reproduces the reference's pairing and skips where it would use raw weights", async () => {
    const base = [t('x.a.weight', [20, 12], Math.cos), t('x.c.weight', [16, 16], Math.sin), t('x.d.weight', [14, 11], Math.cos)];
    const ww = new WeightWatcher(model);
    const rows = await ww.analyze({ baseModel: base, base_match: 'substring', min_evals: 1 });
    // a ⊂ x.a ✓ → pointer at x.c; b ⊄ x.c → skipped; c ⊂ x.c ✓; d ⊂ x.d ✓
    expect(rows.map((r) => r.name)).toEqual(['a', 'c', 'd']);
    expect(ww.lastRun!.skipped).toMatchObject([{ name: 'b', kind: 'base_unmatched' }]);
    expect(ww.lastRun!.skipped[0]!.reason).toMatch(/substring walk.*raw weights/);
  });
});
