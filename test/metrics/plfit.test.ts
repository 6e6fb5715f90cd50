/**
 * The powerlaw-package port (pl_package='powerlaw', fit='TPL'), its incomplete gamma function and
 * scipy's Nelder–Mead, against the reference's numbers (G1) and mpmath / scipy.
 */
import { describe, expect, it } from 'vitest';
import { fitPowerLawPackage, fitPowerLawPackageSync, nelderMeadSync, upperIncompleteGamma } from '../../src/native/binding.js';
import { fitLayerPowerLaw, type PowerLawParams } from '../../src/metrics/powerlaw.js';
import { powerlawPackageFitter } from '../../src/metrics/plpackage.js';

const A = Float64Array.from({ length: 200 }, (_, k) => (1 - k / 200) ** (-1 / 1.5));
const B = Float64Array.from([
  ...Array.from({ length: 150 }, (_, k) => 0.01 + k * ((1.0 - 0.01) / 149)),
  ...Array.from({ length: 50 }, (_, k) => 1 + (1 - k / 50) ** (-1 / 2)),
]).sort();
const C = Float64Array.from({ length: 100 }, (_, k) => ((k + 1) * (k + 1)) / 100);
const max = (a: Float64Array) => a[a.length - 1]!;

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

// G1: powerlaw package with xmax = max(data), and the truncated power law.
const golden = [
  {
    name: 'A',
    data: A,
    force: { alpha: 2.527250065302685, xmin: 1.0, D: 0.009717126875489535, sigma: 0.10799288777431261 },
    tpl: { alpha: 2.4425692077548584, Lambda: 0.015600580575193757, xmin: 1.0, D: 0.005068725003393504 },
    plain: { alpha: 2.527250065302685, xmin: 1.0, D: 0.006623054542484019, sigma: 0.10799288777431261 },
  },
  {
    name: 'B',
    data: B,
    force: { alpha: 4.515498812124508, xmin: 2.0, D: 0.030864985820175384, sigma: 0.49716660986129846 },
    tpl: { alpha: 4.5155695789881625, Lambda: 3.0700121299393973e-7, xmin: 2.0, D: 0.023969105439485383 },
    plain: { alpha: 4.515498812124509, xmin: 2.0, D: 0.02396509137208258, sigma: 0.49716660986129857 },
  },
  {
    name: 'C',
    data: C,
    force: { alpha: 5.328614251541486, xmin: 64.0, D: 0.2761920851854984, sigma: 0.9445810696168324 },
    tpl: { alpha: 1.000004708388783, Lambda: 0.017090684557096555, xmin: 30.25, D: 0.13651428099218993 },
    plain: { alpha: 5.089412395607698, xmin: 62.41, D: 0.1824330509645648, sigma: 0.8718656522170741 },
  },
];

describe('powerlaw package port (G1)', () => {
  for (const g of golden) {
    it(`data set ${g.name}: xmax = max`, async () => {
      const f = await fitPowerLawPackage(g.data, { xmax: max(g.data) });
      expect(rel(f.alpha, g.force.alpha)).toBeLessThanOrEqual(1e-12);
      expect(rel(f.D, g.force.D)).toBeLessThanOrEqual(1e-12);
      expect(rel(f.sigma, g.force.sigma)).toBeLessThanOrEqual(1e-12);
      expect(f.xmin).toBe(g.force.xmin);
      expect(f.Lambda).toBeNaN();
    });
    it(`data set ${g.name}: truncated power law`, async () => {
      const f = await fitPowerLawPackage(g.data, { distribution: 'truncated_power_law' });
      expect(rel(f.alpha, g.tpl.alpha)).toBeLessThanOrEqual(1e-12);
      expect(rel(f.Lambda, g.tpl.Lambda)).toBeLessThanOrEqual(1e-12);
      expect(rel(f.D, g.tpl.D)).toBeLessThanOrEqual(1e-12);
      expect(f.xmin).toBe(g.tpl.xmin);
      expect(f.sigma).toBeNaN();
      expect(f.inRange).toBe(true);
    });
    it(`data set ${g.name}: no xmax (= the ww fitter on tie-free data)`, () => {
      const f = fitPowerLawPackageSync(g.data);
      expect(rel(f.alpha, g.plain.alpha)).toBeLessThanOrEqual(1e-13);
      expect(rel(f.D, g.plain.D)).toBeLessThanOrEqual(1e-12);
      expect(rel(f.sigma, g.plain.sigma)).toBeLessThanOrEqual(1e-13);
      expect(f.xmin).toBe(g.plain.xmin);
    });
  }

  it('candidates are unique values without the largest; ties use the unique-value KS', () => {
    const d = Float64Array.from([1, 1, 2, 2, 2, 3, 4, 4, 5, 8, 8, 13]);
    const f = fitPowerLawPackageSync(d, { arrays: true });
    expect(Array.from(f.xmins!)).toEqual([1, 2, 3, 4, 5, 8]);
    expect(f.candidates).toBe(6);
    // KS at xmin = 1 by hand: unique bins, empirical CDF #{x < v}/n, theoretical 1 − v^(1−α)
    const alpha = f.alphas![0]!;
    const bins = [1, 2, 3, 4, 5, 8, 13];
    const emp = [0, 2, 5, 6, 8, 9, 11].map((k) => k / 12);
    const D = Math.max(...bins.map((v, i) => Math.abs(1 - v ** (1 - alpha) - emp[i]!)));
    expect(rel(f.Ds![0]!, D)).toBeLessThanOrEqual(1e-12);
  });

  it('xmin range restricts candidates (and drops the largest in-range value)', () => {
    const f = fitPowerLawPackageSync(A, { xminRange: [-3, 2.0], arrays: true });
    expect(Math.max(...f.xmins!)).toBeLessThan(2.0);
    expect(f.xmins!.length).toBe(A.filter((v) => v <= 2.0).length - 1);
  });

  it('fewer than 2 unique values: NaN alpha (the reference then fails the layer)', () => {
    const f = fitPowerLawPackageSync(Float64Array.from([2, 2, 2]));
    expect(f.alpha).toBeNaN();
    expect(f.candidates).toBe(0);
  });

  it('xmin_peak: range from the ESD peak (log lower bound, Q23), only with candidates below it', () => {
    const f = fitPowerLawPackageSync(B, { xminPeak: true, arrays: true });
    expect(f.xminRange).toBeDefined();
    const [lo, hi] = f.xminRange!;
    expect(lo).toBeCloseTo(Math.log10(0.95 * f.peak!), 14);
    expect(hi).toBeCloseTo(1.5 * f.peak!, 14);
    expect(Math.max(...f.xmins!)).toBeLessThanOrEqual(hi);
  });
});

describe('fitLayerPowerLaw with the powerlaw fitter', () => {
  const params = (p: Partial<PowerLawParams>): PowerLawParams => ({
    xmax: null,
    fixFingers: false,
    fingerThresh: 1,
    maxFingers: 10,
    xminMax: null,
    fit: 'power_law',
    plPackage: 'powerlaw',
    keepArrays: false,
    ...p,
  });
  const fit = (evals: Float64Array, p: PowerLawParams) => fitLayerPowerLaw(evals, p, powerlawPackageFitter(p));
  it('xmax column is null unless forced (Q42); TPL adds Lambda and a NaN sigma', async () => {
    const plain = await fit(A, params({}));
    expect(plain.xmax).toBeNull();
    const forced = await fit(A, params({ xmax: 'force' }));
    expect(forced.xmax).toBe(max(A));
    expect(rel(forced.D, 0.009717126875489535)).toBeLessThanOrEqual(1e-12);
    const tpl = await fit(C, params({ fit: 'truncated_power_law' }));
    expect(rel(tpl.alpha, 1.000004708388783)).toBeLessThanOrEqual(1e-12);
    expect(rel(tpl.Lambda!, 0.017090684557096555)).toBeLessThanOrEqual(1e-12);
    expect(tpl.sigma).toBeNaN();
    expect(tpl.num_pl_spikes).toBe(C.filter((v) => v >= 30.25).length);
  });
  it('a degenerate ESD fails cleanly', async () => {
    const r = await fit(Float64Array.from([1, 1, 1, 1]), params({ fit: 'truncated_power_law' }));
    expect(r.status).toBe('failed');
    expect(r.alpha).toBe(-1);
    expect(r.Lambda).toBe(-1);
  });
});

describe('upper incomplete gamma Γ(s, x) (mpmath.gammainc values at 50 digits)', () => {
  const cases: [number, number, number][] = [
    [-1.4425692077548584, 0.0156, 268.32540400946505],
    [-0.5, 0.3, 1.1503670473551644],
    [-3.0, 1.0, 0.08606249132456073],
    [-1e-9, 0.8565, 0.280773780841298],
    [0.0, 1.0, 0.21938393439552029],
    [-2.5, 5.0, 1.4809140306086817e-5],
    // mpmath at its default 53-bit working precision gives 3.7593937001185737e-31 here (3e-15 off)
    [-6.0, 43.5, 3.759393700118561e-31],
    [-0.999999, 1e-7, 9999832.279439712],
    [1.5, 0.2, 0.8332682153815174],
    [2.5, 3.0, 0.407069175871303],
    [-10.3, 0.05, 2310626959364.7095],
  ];
  for (const [s, x, v] of cases) {
    it(`Γ(${s}, ${x})`, () => {
      expect(rel(upperIncompleteGamma(s, x), v)).toBeLessThanOrEqual(4.5e-16);
    });
  }
});

describe('Nelder–Mead = scipy.optimize.fmin defaults (values from scipy)', () => {
  it('Rosenbrock from (-1.2, 1)', () => {
    const r = nelderMeadSync(([x, y]) => 100 * (y! - x! * x!) ** 2 + (1 - x!) ** 2, [-1.2, 1.0]);
    expect(r.x[0]).toBeCloseTo(1.0000220217835696, 12);
    expect(r.x[1]).toBeCloseTo(1.0000422197517715, 12);
    expect(r.iterations).toBe(85);
    expect(r.fcalls).toBe(159);
    expect(r.warnflag).toBe(0);
  });
  it('1-D quadratic, and a flat start that shrinks onto the first vertex', () => {
    const q = nelderMeadSync(([x]) => (x! - 3.0) ** 2 + 1, [1.0]);
    expect(q.x[0]).toBeCloseTo(3.0000000000000044, 14);
    expect([q.iterations, q.fcalls]).toEqual([19, 38]);
    const flat = nelderMeadSync(([x]) => (x! > 0.5 ? Math.abs(x!) : 7.0), [0.1]);
    expect(flat.x[0]).toBe(0.1);
    expect([flat.iterations, flat.fcalls, flat.fval]).toEqual([7, 20, 7]);
  });
});
