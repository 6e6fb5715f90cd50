/** End-to-end numbers of G2 on the formula-defined in-memory state dict. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, type InMemoryTensor } from '../../src/index.js';
import { formulaDict } from '../helpers/formula.js';

const expected: Record<string, Record<string, number | string>> = {
  fc1: {
    layer_id: 1,
    D: 0.3035713129093613,
    M: 60,
    N: 100,
    Q: 1.6666666666666667,
    alpha: 1.9188901341749132,
    alpha_weighted: 6.316045431599457,
    entropy: 0.7040145072151425,
    lambda_max: 1956.634332210847,
    layer_type: 'dense',
    log_alpha_norm: 6.482770487053566,
    log_norm: 3.783435980666365,
    log_spectral_norm: 3.2915096696326698,
    matrix_rank: 60,
    norm: 6073.457274531501,
    num_evals: 60,
    num_pl_spikes: 56,
    rank_loss: 0,
    rf: 1,
    sigma: 0.12279185922033078,
    spectral_norm: 1956.634332210847,
    stable_rank: 3.1040328663092396,
    status: 'success',
    sv_max: 44.23385956720086,
    sv_min: 3.9927180940501676,
    warning: 'over-trained',
    weak_rank_loss: 0,
    xmax: 1956.634332210847,
    xmin: 15.961683675893694,
  },
  conv: {
    layer_id: 3,
    D: 0.1926873415203849,
    M: 8,
    N: 16,
    Q: 2.0,
    alpha: 2.0140364776632307,
    alpha_weighted: 3.6680415641492203,
    entropy: 0.7340238925329173,
    lambda_max: 66.25808696303164,
    layer_type: 'conv2d',
    log_alpha_norm: 4.599923283183632,
    log_norm: 2.8943685604337346,
    log_spectral_norm: 1.821238892557217,
    matrix_rank: 72,
    norm: 784.0947760675721,
    num_evals: 72,
    num_pl_spikes: 33,
    rank_loss: 0,
    rf: 9,
    sigma: 0.17652109308518754,
    spectral_norm: 66.25808696303164,
    stable_rank: 11.83394830739761,
    status: 'success',
    sv_max: 8.139907061080713,
    sv_min: 0.01726212440063698,
    warning: '',
    weak_rank_loss: 0,
    xmax: 66.25808696303164,
    xmin: 4.978725797151494,
  },
};

function expectRow(row: Record<string, unknown>, exp: Record<string, number | string>) {
  for (const [k, v] of Object.entries(exp)) {
    if (typeof v === 'number' && !Number.isInteger(v)) expect(Math.abs((row[k] as number) - v) / Math.abs(v), k).toBeLessThanOrEqual(1e-9);
    else expect(row[k], k).toBe(v);
  }
}

describe('G2 formula dict (in-memory tensors, ids from 1)', () => {
  it('analyze: every default column', async () => {
    const ww = new WeightWatcher(formulaDict());
    const rows = await ww.analyze();
    expect(rows.map((r) => r.name)).toEqual(['fc1', 'conv']);
    expectRow(rows[0]!, expected.fc1!);
    expectRow(rows[1]!, expected.conv!);
    const s = ww.getSummary();
    expect(s.alpha!).toBeCloseTo(1.966463305919072, 12);
    expect(s.log_norm!).toBeCloseTo(3.33890227055005, 12);
    expect(s.stable_rank!).toBeCloseTo(7.468990586853425, 12);
  });

  it('accepts an async iterable of tensors', async () => {
    async function* gen() {
      for (const t of formulaDict()) yield t;
    }
    const ww = new WeightWatcher(gen());
    const rows = await ww.analyze();
    expect(rows.map((r) => [r.layer_id, r.name])).toEqual([
      [1, 'fc1'],
      [3, 'conv'],
    ]);
    expect((await ww.describe()).length).toBe(2); // the iterable was gathered once, not consumed
    expect(rows[0]!.alpha).toBeCloseTo(1.9188901341749132, 12);
  });

  it('describe ids, and filters overwrite each other like the reference', async () => {
    const ww = new WeightWatcher(formulaDict());
    const ids = async (o: object) => (await ww.describe(o)).map((r) => r.layer_id);
    expect(await ids({})).toEqual([1, 3]);
    expect(await ids({ layers: [1, 'conv2d'] })).toEqual([1]);
    expect(await ids({ layers: ['conv2d'] })).toEqual([3]);
    expect(await ids({ layers: ['dense'] })).toEqual([1]);
    expect(await ids({ layers: ['fc1'] })).toEqual([1]);
    expect(await ids({ layers: ['-fc1'] })).toEqual([3]);
    expect(await ids({ layers: [-1] })).toEqual([3]);
    expect(await ids({ layers: [3] })).toEqual([3]);
    expect(await ids({ layers: ['fc1', 'conv'] })).toEqual([1, 3]);
    expect(await ids({ layers: ['conv2d', 'fc1'] })).toEqual([1]);
    expect(await ids({ start_ids: 5 })).toEqual([5, 7]);
    expect(await ids({ max_evals: 65 })).toEqual([1]);
    expect(await ids({ min_evals: 61 })).toEqual([3]);
    await expect(ww.describe({ layers: [-1, 1] })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('pool=False slice 0 of the conv layer', async () => {
    const rows = await new WeightWatcher(formulaDict()).analyze({ pool: false, min_evals: 1 });
    const s0 = rows.find((r) => r.name === 'conv' && r.slice_id === 0)!;
    expectRow(s0, {
      N: 16,
      M: 8,
      rf: 9,
      num_evals: 8,
      lambda_max: 594.8274109087814,
      sv_max: 24.389083847262107,
      sv_min: 0.010217187541725209,
      alpha: 1.7405187446791572,
      xmin: 18.266390047930493,
      D: 0.2097940833899402,
      sigma: 0.3311700503430812,
      log_norm: 2.898271313831843,
      entropy: 0.4178270357865966,
      stable_rank: 1.330087892866997,
    });
    expect(rows.filter((r) => r.name === 'conv').length).toBe(9);
  });

  it('xmax=-1 drops the largest eigenvalue before fitting', async () => {
    const rows = await new WeightWatcher(formulaDict()).analyze({ xmax: -1 });
    expect(rows[0]!.alpha).toBeCloseTo(1.9797931824, 9);
    expect(rows[0]!.xmax as number).toBeCloseTo(1213.7690038593, 9);
    expect(rows[0]!.num_pl_spikes).toBe(55);
    expect(rows[1]!.alpha).toBeCloseTo(2.0682753306, 9);
  });

  it('clip_xmax finds no finger here; get_ESD of the conv layer is unscaled (2× analyze)', async () => {
    const ww = new WeightWatcher(formulaDict());
    const rows = await ww.analyze({ fix_fingers: 'clip_xmax' });
    expect(rows[0]!.num_fingers).toBe(0);
    expect(rows[0]!.raw_alpha).toBe(rows[0]!.alpha);
    const esd = await ww.getESD(3);
    expect(esd.length).toBe(72);
    expect(esd[71]!).toBeCloseTo(132.51617699169702, 9);
  });

  it('glorot_fix divides every matrix by the Glorot scale sqrt(2/((N+M)·count)) instead of conv2d_norm', async () => {
    const plain = await new WeightWatcher(formulaDict()).analyze();
    const glorot = await new WeightWatcher(formulaDict()).analyze({ glorot_fix: true });
    // fc1: eigenvalues × (100 + 60)/2; conv (pooled, count 1): × (16 + 8)/2 instead of conv2d_norm's × 1/2.
    expect(glorot[0]!.lambda_max / plain[0]!.lambda_max).toBeCloseTo(80, 4);
    expect(glorot[1]!.lambda_max / plain[1]!.lambda_max).toBeCloseTo(24, 4);
    expect(glorot[0]!.alpha).toBeCloseTo(plain[0]!.alpha, 5); // alpha is scale-free
  });

  it('channels overrides the kernel layout instead of crashing (Q6), tolerance sets weak_rank_loss', async () => {
    // [16, 8, 3, 3] read as Keras [kh, kw, in, out]: the reference's mismatch path takes T[i, j, :, :].
    const first = await new WeightWatcher(formulaDict()).describe({ channels: 'first', min_evals: 1 });
    expect(first.find((r) => r.name === 'conv')).toMatchObject({ N: 3, M: 3, rf: 128 });
    const last = await new WeightWatcher(formulaDict()).describe({ channels: 'LAST' as 'last' });
    expect(last.find((r) => r.name === 'conv')).toMatchObject({ N: 16, M: 8, rf: 9 });
    const rows = await new WeightWatcher(formulaDict()).analyze({ tolerance: 20 });
    const esd = await new WeightWatcher(formulaDict()).getESD(1);
    expect(rows[0]!.weak_rank_loss).toBe(esd.filter((v) => v < 20).length);
    expect(rows[0]!.weak_rank_loss).toBeGreaterThan(0);
  });

  it('conv slicing edge cases (R13, Q3)', async () => {
    const t = (shape: number[]): InMemoryTensor => ({
      name: 'w.weight',
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, k) => Math.sin(k * 1.3)),
    });
    const d = async (shape: number[]) => (await new WeightWatcher([t(shape)]).describe({ min_evals: 1 }))[0];
    expect(await d([8, 16, 2, 2])).toMatchObject({ N: 8, M: 16, Q: 0.5, rf: 4, num_evals: 64 });
    expect(await d([8, 16, 3, 3])).toMatchObject({ N: 16, M: 8, rf: 9, num_evals: 72 });
    expect(await d([3, 3, 7, 7])).toMatchObject({ N: 3, M: 3, rf: 49, num_evals: 147 });
    expect(await d([4, 6, 7, 7])).toMatchObject({ N: 4, M: 6, rf: 49, num_evals: 294 });
    expect(await d([2, 3, 4])).toBeUndefined();
    expect(await d([1, 50])).toBeUndefined();
    const a = await new WeightWatcher([t([8, 16, 2, 2])]).analyze({ min_evals: 1 });
    expect(a[0]!.num_evals).toBe(32);
    const b = await new WeightWatcher([t([4, 6, 7, 7])]).analyze({ min_evals: 1 });
    expect(b[0]!.num_evals).toBe(196);
    const one = await new WeightWatcher([t([50, 1])]).analyze({ min_evals: 1 });
    expect(one[0]).toMatchObject({ num_evals: 1, status: 'failed', alpha: -1, warning: 'over-trained' });
  });
});
