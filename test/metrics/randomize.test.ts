/** Randomized-ESD metrics (R32): formulas checked exactly on the reference's own draws. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { jensenShannonDistance, randomEigenvalues, shuffledMatrix } from '../../src/metrics/randomize.js';
import { Random } from '../../src/shared/random.js';
import { svdvalsSync } from '../../src/native/binding.js';
import { formulaDict } from '../helpers/formula.js';
import { golden, goldenEvals, haveCorpus } from '../helpers/corpus.js';

describe('Jensen–Shannon distance (element-wise, Q38)', () => {
  it('G1 value', () => {
    expect(jensenShannonDistance([1, 2, 3, 4], [2, 2, 2, 6])).toBeCloseTo(0.1324925226247764, 15);
  });
  it('identical vectors → 0, zeros contribute 0', () => {
    expect(jensenShannonDistance([0, 1, 2], [0, 1, 2])).toBe(0);
    expect(jensenShannonDistance([0, 1], [1, 0])).toBeCloseTo(Math.sqrt(Math.log(2)), 15);
  });
});

describe('shuffles', () => {
  it('a shuffle is a permutation: same multiset, same Frobenius norm', () => {
    const data = Float32Array.from({ length: 600 }, (_, i) => Math.sin(i) * i);
    const s = shuffledMatrix({ data, rows: 20, cols: 30 }, new Random(1));
    expect(Array.from(s.data).sort()).toEqual(Array.from(data).sort());
    expect(Array.from(s.data)).not.toEqual(Array.from(data));
    const ev = (d: Float32Array) => svdvalsSync(d, 20, 30).reduce((a, v) => a + v * v, 0);
    // Σσ² = ‖W‖²_F ≈ 3.6e7 here: compare relative to it (the last bits depend on the BLAS kernels).
    expect(Math.abs(ev(s.data as Float32Array) - ev(data)) / ev(data)).toBeLessThan(1e-13);
  });
  it('replicas concatenate, sorted', async () => {
    const data = Float32Array.from({ length: 60 }, (_, i) => Math.cos(i));
    const r = await randomEigenvalues([{ data, rows: 6, cols: 10 }], 6, 5, new Random(3));
    expect(r.length).toBe(30);
    expect(Array.from(r)).toEqual(Array.from(r).sort((a, b) => a - b));
  });
});

describe('randomize on the formula dict', () => {
  it('columns, 5 replicas below 100 components, seeded reproducibility', async () => {
    const ww = new WeightWatcher(formulaDict());
    const rows = await ww.analyze({ randomize: true, seed: 7, keep_evals: true });
    const res = ww.getLayerResults();
    const again = await ww.analyze({ randomize: true, seed: 7 });
    expect(again).toEqual(rows);
    const [fc1, conv] = rows;
    for (const r of [fc1!, conv!]) {
      const lmax = r.lambda_max;
      expect((r.ww_softrank as number) * lmax).toBeCloseTo(lmax - (r.ww_maxdist as number), 9);
      expect(r.rand_distance as number).toBeGreaterThan(0);
      expect(r.rand_distance as number).toBeLessThan(Math.sqrt(Math.log(2)));
      // the Frobenius norm is permutation-invariant: rand_W_scale = sqrt(n / Σλ) of the real ESD
      expect(r.rand_W_scale as number).toBeCloseTo(Math.sqrt(r.num_evals / r.norm), 10);
    }
    // fc1 has 60 < 100 components → 5 replicas; conv has 72 → 5 replicas
    expect((res[0]!.extra!.get('rand_evals') as Float64Array).length).toBe(300);
    expect((res[1]!.extra!.get('rand_evals') as Float64Array).length).toBe(360);
    const keys = Object.keys(fc1!);
    expect(keys.slice(keys.indexOf('longname'))).toEqual([
      'longname',
      'matrix_rank',
      'max_rand_eval',
      'norm',
      'num_evals',
      'num_pl_spikes',
      'rand_W_scale',
      'rand_bulk_max',
      'rand_bulk_min',
      'rand_distance',
      'rand_mp_softrank',
      'rand_num_spikes',
      'rand_sigma_mp',
      'rank_loss',
      'rf',
      'sigma',
      'spectral_norm',
      'stable_rank',
      'status',
      'sv_max',
      'sv_min',
      'svd_route',
      'warning',
      'weak_rank_loss',
      'ww_maxdist',
      'ww_softrank',
      'xmax',
      'xmin',
    ]);
  });
});

describe.skipIf(!haveCorpus)("the reference's randomized ESDs give its randomized columns", () => {
  for (const [model, set] of [
    ['pareto', 'rand_mp_detx'],
    ['gaussian', 'rand_mp_detx'],
    ['convnet', 'rand_mp_detx'],
    ['minigpt-big-data', 'rand_mp_detx'],
    ['convnet', 'no_pool_rand_mp_detx'],
  ] as const) {
    it(`${model} / ${set}: rand_distance, ww_softrank, ww_maxdist, max_rand_eval`, () => {
      const g = golden(model, set);
      const e = goldenEvals(model, set)! as unknown as {
        layers: { evals: number[]; rand_evals: number[]; rand_evals_calls: { num_replicas: number; evals: number[] }[] }[];
      };
      e.layers.forEach((L, i) => {
        const r = g.details[i]!;
        const ev = Float64Array.from(L.evals);
        const R1 = L.rand_evals_calls[0]!;
        const R2 = Float64Array.from(L.rand_evals_calls[1]!.evals);
        expect(R1.num_replicas).toBe((r.M as number) * (r.rf as number) < 100 ? 5 : 1);
        const lmax = Math.max(...ev);
        const rmax = Math.max(...R2);
        expect(Math.abs(jensenShannonDistance(ev, R2) - (r.rand_distance as number)) / (r.rand_distance as number)).toBeLessThanOrEqual(
          1e-12,
        );
        expect(rmax / lmax).toBe(r.ww_softrank);
        expect(lmax - rmax).toBe(r.ww_maxdist);
        expect(Math.max(...R1.evals)).toBe(r.max_rand_eval);
      });
    });
  }
});
