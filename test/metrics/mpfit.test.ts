/** Marchenko–Pastur fit (R31) against G2 and the reference's randomized ESDs. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { arange, linspace, linearKde, mpFit, mpFitDetails } from '../../src/metrics/mpfit.js';
import { formulaDict } from '../helpers/formula.js';
import { golden, goldenEvals, haveCorpus } from '../helpers/corpus.js';

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

describe('numpy building blocks', () => {
  it('arange with a float step: ceil length, start + i·((start+step)−start)', () => {
    const a = arange(0.05 * 1.3, 2.0 * 1.3, 0.01 * 1.3);
    expect(a.length).toBe(Math.ceil((2.0 * 1.3 - 0.05 * 1.3) / (0.01 * 1.3)));
    const delta = 0.05 * 1.3 + 0.01 * 1.3 - 0.05 * 1.3;
    expect(a[7]).toBe(0.05 * 1.3 + 7 * delta);
    expect(a[1]).toBe(0.05 * 1.3 + 0.01 * 1.3);
  });
  it('linspace ends exactly at stop', () => {
    const l = linspace(0, 3.7, 1000);
    expect(l[999]).toBe(3.7);
    expect(l[500]).toBe(500 * (3.7 / 999));
  });
  it('linear-kernel KDE integrates to 1 and has the triangular shape', () => {
    const f = linearKde(Float64Array.from([1]), Float64Array.from([0.9, 0.95, 1, 1.05, 1.1]), 0.1);
    expect(Array.from(f).map((v) => +v.toFixed(12))).toEqual([0, 5, 10, 5, 0]);
  });
});

describe('MP fit on the formula dict (G2)', () => {
  it('fc1: σ grid, grid minimum, Nelder–Mead polish and every column', async () => {
    const ww = new WeightWatcher(formulaDict());
    const rows = await ww.analyze({ mp_fit: true, detX: true, keep_evals: true });
    const fc1 = rows[0]!;
    const exp = {
      sigma_mp: 0.7613482829025287,
      W_scale: 0.09939342011082843,
      bulk_max: 184.77822868437121,
      bulk_min: 2.9810697253050176,
      mp_softrank: 0.09443677116489414,
    };
    for (const [k, v] of Object.entries(exp)) expect(rel(fc1[k] as number, v), k).toBeLessThanOrEqual(1e-12);
    expect(fc1.num_spikes).toBe(2);
    const d = mpFitDetails(ww.getLayerResults()[0]!.evals!, 100, 60);
    expect(d.grid.length).toBe(195);
    expect(rel(d.gridSigma, 0.7680234870379168)).toBeLessThanOrEqual(1e-12);
    expect(d.penalised).toBe(false);
  });

  it('conv: every grid σ penalised → σ_mp = 0.05·s0, mp_softrank 0.0025 (Q26)', async () => {
    const ww = new WeightWatcher(formulaDict());
    const rows = await ww.analyze({ mp_fit: true, keep_evals: true });
    const conv = rows[1]!;
    expect(rel(conv.sigma_mp as number, 0.0722454883561748)).toBeLessThanOrEqual(1e-12);
    expect(rel(conv.W_scale as number, 0.3030274477521749)).toBeLessThanOrEqual(1e-12);
    expect(rel(conv.bulk_max as number, 0.1656452174075791)).toBeLessThanOrEqual(1e-12);
    expect(rel(conv.bulk_min as number, 0.004876139928385639)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs((conv.mp_softrank as number) - 0.0025)).toBeLessThanOrEqual(1e-15);
    expect(conv.num_spikes).toBe(45);
    const d = mpFitDetails(ww.getLayerResults()[1]!.evals!, 16, 8);
    expect(d.penalised).toBe(true);
    expect(d.sigma_mp).toBe(d.grid[0]);
  });

  it('failure gives −1 in all six columns', () => {
    expect(mpFit(new Float64Array(5), 10, 5)).toEqual({
      num_spikes: -1,
      sigma_mp: -1,
      mp_softrank: -1,
      W_scale: -1,
      bulk_max: -1,
      bulk_min: -1,
    });
  });
});

describe.skipIf(!haveCorpus)('MP fit of the reference randomized ESDs = its rand_* columns', () => {
  for (const [model, set] of [
    ['pareto', 'rand_mp_detx'],
    ['spiked', 'rand_mp_detx'],
    ['convnet', 'rand_mp_detx'],
    ['minigpt-big-data', 'rand_mp_detx'],
    ['convnet', 'no_pool_rand_mp_detx'],
  ] as const) {
    it(`${model} / ${set}`, () => {
      const g = golden(model, set);
      const e = goldenEvals(model, set)!;
      let worst = 0;
      e.layers.forEach((L, i) => {
        const r = g.details[i]!;
        const f = mpFit(Float64Array.from(L.rand_evals!), r.N as number, r.M as number);
        expect(f.num_spikes).toBe(r.rand_num_spikes);
        for (const k of ['sigma_mp', 'mp_softrank', 'W_scale', 'bulk_max', 'bulk_min'] as const) {
          const d = rel(f[k], r[`rand_${k}`] as number);
          expect(d, `layer ${String(r.layer_id)} rand_${k}`).toBeLessThanOrEqual(1e-9);
          worst = Math.max(worst, d);
        }
      });
      console.log(`rand MP columns from the reference's randomized ESDs ${model}/${set}: worst ${worst.toExponential(1)}`);
    });
  }
});
