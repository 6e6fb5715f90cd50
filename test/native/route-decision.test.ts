/**
 * The spectrum route is decided in one place (native/core/spectrum.cc `computeLayerSpectrum`, issue
 * 18): one call per layer gives the route with the values. The ladder (gram → gram+lu / gram+qr →
 * ?gesdd), the never-mixed layer, the layer's own guard, the options that always take ?gesdd, and
 * the Gram route's eigensolver chosen from (order, threads) only (issue 23). The check that needs the
 * fit (`verify`) can only reject the Gram values: the same call's handle then finishes the layer
 * with ?gesdd, and is released on every path.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  eigensolverFor,
  layerSpectrum,
  nativeInfo,
  setBlasThreads,
  spectrumCounters,
  svdvalsDetailed,
  type LayerMatrixArg,
} from '../../src/native/binding.js';
import { computeEsd, type Esd, type EsdOptions, type StoredMatrix } from '../../src/spectra/esd.js';
import { Random } from '../../src/shared/random.js';
import { projectRoot } from '../helpers/corpus.js';
import { bf16Bits, countersSince } from '../helpers/native-counters.js';

function gaussian(rows: number, cols: number, seed: number, scale = 0.02): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(rows * cols);
  for (let k = 0; k < out.length; k++) out[k] = scale * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return out;
}

/** Column 0 scaled by `f`: σmin ≈ f·σ, so f sets the condition number. */
function withWeakColumn(rows: number, cols: number, seed: number, f: number): Float32Array {
  const w = gaussian(rows, cols, seed);
  for (let i = 0; i < rows; i++) w[i * cols] = w[i * cols]! * f;
  return w;
}

const mat = (data: Float32Array, rows: number, cols: number): LayerMatrixArg => ({ data, rows, cols });

describe('the route ladder, decided natively per layer', () => {
  it('well-conditioned matrices stay on the plain Gram route', async () => {
    for (const [r, c] of [
      [400, 100],
      [100, 400],
    ] as const) {
      const l = await layerSpectrum([mat(gaussian(r, c, r + c), r, c)], { method: 'fast', N: Math.max(r, c), layerGuard: true });
      expect(l.route).toBe('gram');
      expect(l.fallback).toBeUndefined();
      expect(l.matrices[0]!.eigensolver).toBe('syevd');
    }
  });

  it('σmin below the Gram accuracy is refined: LU when square, QR when tall', async () => {
    const sq = await layerSpectrum([mat(gaussian(200, 200, 7), 200, 200)], { method: 'fast', N: 200 });
    expect(sq.route).toBe('gram+lu');
    const tall = withWeakColumn(300, 100, 9, 1e-5);
    const t = await layerSpectrum([mat(tall, 300, 100)], { method: 'fast', N: 300, layerGuard: true });
    expect(t.route).toBe('gram+qr');
    const exact = await svdvalsDetailed(tall, 300, 100, { method: 'accurate' });
    expect(Math.abs(t.matrices[0]!.sv[0]! - exact.sv[0]!) / exact.sv[0]!).toBeLessThan(1e-10);
  });

  it('too close to singular for the refinement: ?gesdd, with the reason', async () => {
    const w = withWeakColumn(300, 100, 9, 1e-9); // σmin/σmax ≈ 1e-9 < 1e-6
    const l = await layerSpectrum([mat(w, 300, 100)], { method: 'fast', N: 300, layerGuard: true });
    expect(l.route).toBe('gesdd');
    expect(l.fallback).toMatch(/close to singular/);
    const exact = await svdvalsDetailed(w, 300, 100, { method: 'accurate' });
    expect(Array.from(l.matrices[0]!.sv)).toEqual(Array.from(exact.sv));
  });

  it('a layer never mixes routes: one slice on ?gesdd sends every slice there, in one call', async () => {
    const good = gaussian(300, 100, 1);
    const bad = withWeakColumn(300, 100, 2, 1e-9);
    for (const order of [
      [good, bad],
      [bad, good],
    ]) {
      const l = await layerSpectrum(
        order.map((d) => mat(d, 300, 100)),
        { method: 'fast', N: 300 },
      );
      expect(l.route).toBe('gesdd');
      expect(l.matrices.map((m) => m.route)).toEqual(['gesdd', 'gesdd']);
      expect(l.fallback).toMatch(/close to singular/);
      const exact = await svdvalsDetailed(good, 300, 100, { method: 'accurate' });
      expect(Array.from(l.matrices[order.indexOf(good)]!.sv)).toEqual(Array.from(exact.sv));
    }
    // and the strongest Gram route wins when all stay on Gram
    const mixed = await layerSpectrum([mat(gaussian(300, 100, 3), 300, 100), mat(withWeakColumn(300, 100, 4, 1e-5), 300, 100)], {
      method: 'fast',
      N: 300,
    });
    expect(mixed.matrices.map((m) => m.route)).toEqual(['gram', 'gram+qr']);
    expect(mixed.route).toBe('gram+qr');
  });

  it("the layer guard sends a layer to ?gesdd when an eigenvalue sits within δ of a threshold, and only with layerGuard", async () => {
    const w = gaussian(400, 100, 5);
    const plain = await layerSpectrum([mat(w, 400, 100)], { method: 'fast', N: 400 });
    const threshold = plain.matrices[0]!.evals[10]!;
    const thresholds = [{ value: threshold, name: 'the weak_rank_loss tolerance' }];
    const guarded = await layerSpectrum([mat(w, 400, 100)], { method: 'fast', N: 400, layerGuard: true, thresholds });
    expect(guarded.route).toBe('gesdd');
    expect(guarded.fallback).toBe('an eigenvalue lies within the error bound of the weak_rank_loss tolerance');
    expect((await layerSpectrum([mat(w, 400, 100)], { method: 'fast', N: 400, thresholds })).route).toBe('gram');
    // a threshold far from every eigenvalue changes nothing
    const far = await layerSpectrum([mat(w, 400, 100)], { method: 'fast', N: 400, layerGuard: true, thresholds: [{ value: 1e-30, name: 'x' }] });
    expect(far.route).toBe('gram');
    expect(Array.from(far.matrices[0]!.evals)).toEqual(Array.from(plain.matrices[0]!.evals));
  });

  it('the layer guard: a rank the Gram values cannot certify goes to ?gesdd', async () => {
    // truncated to its top values (keep), the matrix's own σmin is not checked per matrix; the
    // smallest kept value is, against the pooled rank tolerance σmax·N·ε: N = 1e16 puts it above σmax
    const w = gaussian(400, 100, 6);
    const l = await layerSpectrum([mat(w, 400, 100)], { method: 'fast', N: 1e16, keep: 99, layerGuard: true });
    expect(l.route).toBe('gesdd');
    expect(l.fallback).toMatch(/rank deficiency/);
  });

  it('intra (unsquared) and inverse ESDs always take ?gesdd, without a fallback reason', async () => {
    const w = gaussian(300, 100, 8);
    for (const extra of [{ unsquared: true }, { inverse: true }]) {
      const l = await layerSpectrum([mat(w, 300, 100)], { method: 'fast', N: 300, layerGuard: true, ...extra });
      expect(l.route).toBe('gesdd');
      expect(l.fallback).toBeUndefined();
    }
  });

  it('computeEsd asks once and reports the native decision', async () => {
    const esd = await computeEsd(
      [
        { data: gaussian(300, 100, 1), rows: 300, cols: 100 },
        { data: withWeakColumn(300, 100, 2, 1e-9), rows: 300, cols: 100 },
      ],
      { N: 300, method: 'fast' },
    );
    expect(esd.route).toBe('gesdd');
    expect(esd.fallback).toMatch(/close to singular/);
    expect(esd.evals.length).toBe(200);
  });

  it('bad layer arguments are usage errors', async () => {
    await expect(layerSpectrum([], { N: 1 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(layerSpectrum([mat(gaussian(4, 4, 1), 4, 5)], { N: 1 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(layerSpectrum([mat(gaussian(4, 4, 1), 4, 4)], { N: 1, threads: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(layerSpectrum([mat(gaussian(4, 4, 1), 4, 4)], { N: 1, eigensolver: 'x' as 'auto' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('the Gram route eigensolver: from (order, threads), never from load', () => {
  it('one thread: ?syevd_2stage from n = 3072; two or more: from n = 6144', () => {
    for (const n of [64, 1024, 2048, 3071]) expect(eigensolverFor(n, 1)).toBe('syevd');
    for (const n of [3072, 4096, 8192, 16384]) expect(eigensolverFor(n, 1)).toBe('syevd_2stage');
    for (const t of [2, 4, 64]) {
      for (const n of [64, 2048, 3072, 4096, 6143]) expect(eigensolverFor(n, t)).toBe('syevd');
      for (const n of [6144, 8192, 16384]) expect(eigensolverFor(n, t)).toBe('syevd_2stage');
    }
    // the same (n, threads) always gives the same answer: nothing else enters the decision
    expect(new Set(Array.from({ length: 20 }, () => eigensolverFor(3500, 1) + eigensolverFor(3500, 2)))).toEqual(new Set(['syevd_2stagesyevd']));
  });

  it('the call reports the solver it ran; forcing either gives the same values within the error bound', async () => {
    const w = gaussian(600, 300, 12);
    const auto1 = await svdvalsDetailed(w, 600, 300, { method: 'fast', threads: 1 });
    expect(auto1.eigensolver).toBe('syevd');
    const two = await svdvalsDetailed(w, 600, 300, { method: 'fast', threads: 1, eigensolver: 'syevd_2stage' });
    expect(two.eigensolver).toBe('syevd_2stage');
    expect(two.route).toBe(auto1.route);
    for (let i = 0; i < w.length / 600; i++) expect(Math.abs(two.evals[i]! - auto1.evals[i]!)).toBeLessThanOrEqual(auto1.errorBound);
    expect((await svdvalsDetailed(w, 600, 300, { method: 'accurate' })).eigensolver).toBeUndefined();
  });

  it('the route and the values do not depend on the threads given where the rule picks the same solver', async () => {
    const before = nativeInfo().blasThreads;
    try {
      setBlasThreads(1);
      const mats = [mat(gaussian(500, 200, 13), 500, 200), mat(gaussian(200, 200, 14), 200, 200)];
      const a = await layerSpectrum(mats, { method: 'fast', N: 500, layerGuard: true, threads: 1 });
      const b = await layerSpectrum(mats, { method: 'fast', N: 500, layerGuard: true, threads: 2 });
      expect(b.route).toBe(a.route);
      for (let k = 0; k < 2; k++) expect(Array.from(b.matrices[k]!.evals)).toEqual(Array.from(a.matrices[k]!.evals));
      // default threads: the process's OpenBLAS count, read once per call
      const c = await layerSpectrum(mats, { method: 'fast', N: 500, layerGuard: true });
      expect(Array.from(c.matrices[0]!.evals)).toEqual(Array.from(a.matrices[0]!.evals));
    } finally {
      setBlasThreads(Math.max(1, before));
    }
  });
});

/** The stored BF16 bytes of `w` (truncated), as a model file holds them. */
function storedBf16(w: Float32Array, rows: number, cols: number): StoredMatrix {
  return { bytes: new Uint8Array(bf16Bits(w).buffer), dtype: 'BF16', rows, cols };
}


describe('the last rung after the fit: verify and the layer handle', () => {
  // two slices of a layer, stored as BF16 bytes, both on the plain Gram route
  const layer = [storedBf16(gaussian(300, 100, 21), 300, 100), storedBf16(gaussian(300, 100, 22), 300, 100)];
  const opts: EsdOptions = { N: 300, method: 'fast', layerGuard: { thresholds: [{ value: 1e-5, name: 'the fit threshold 1e-5' }] } };
  const same = (a: Esd, b: Esd) => {
    expect(Array.from(a.evals)).toEqual(Array.from(b.evals));
    expect([a.svMax, a.svMin, a.rankLoss, a.route]).toEqual([b.svMax, b.svMin, b.rankLoss, b.route]);
  };

  it('a forced rejection gives the values of svd_method accurate bit for bit, with the reason, in one crossing', async () => {
    const before = spectrumCounters();
    const seen: string[] = [];
    const esd = await computeEsd(layer, {
      ...opts,
      verify: async (gram) => {
        seen.push(gram.route);
        return 'rejected by the test';
      },
    });
    // one layer call; each rung read the stored bytes once: the Gram values (not recomputed), then
    // the ?gesdd working copies — exactly those of an accurate run, below
    expect(countersSince(before)).toEqual({ layerCalls: 1, finishes: 1, liveHandles: 0, gramPasses: 2, refineCopies: 0, gesddCopies: 2 });
    expect(seen).toEqual(['gram']);
    expect(esd.route).toBe('gesdd');
    expect(esd.fallback).toBe('rejected by the test');
    const mid = spectrumCounters();
    const accurate = await computeEsd(layer, { ...opts, method: 'accurate' });
    expect(countersSince(mid)).toEqual({ layerCalls: 1, finishes: 0, liveHandles: 0, gramPasses: 0, refineCopies: 0, gesddCopies: 2 });
    same(esd, accurate);
    expect(accurate.fallback).toBeUndefined();
  });

  it('an accepting verify keeps the Gram values; a layer already on ?gesdd is not verified', async () => {
    const before = spectrumCounters();
    const plain = await computeEsd(layer, opts);
    const accepted = await computeEsd(layer, { ...opts, verify: async () => undefined });
    same(accepted, plain);
    expect(accepted.route).toBe('gram');
    expect(countersSince(before)).toMatchObject({ layerCalls: 2, finishes: 0, liveHandles: 0, gesddCopies: 0 });
    let called = false;
    const singular = await computeEsd([{ data: withWeakColumn(300, 100, 2, 1e-9), rows: 300, cols: 100 }], {
      N: 300,
      method: 'fast',
      verify: async () => {
        called = true;
        return 'never';
      },
    });
    expect(singular.route).toBe('gesdd');
    expect(singular.fallback).toMatch(/close to singular/);
    expect(called).toBe(false);
    expect(countersSince(before).liveHandles).toBe(0);
  });

  it('verify throwing: the error propagates, no ?gesdd runs, the handle is released', async () => {
    const before = spectrumCounters();
    const boom = new Error('fit failed in the test');
    await expect(computeEsd(layer, { ...opts, verify: () => Promise.reject(boom) })).rejects.toBe(boom);
    expect(countersSince(before)).toMatchObject({ layerCalls: 1, finishes: 0, liveHandles: 0, gesddCopies: 0 });
  });

  it('aborted while the fit ran: AbortedError instead of the ?gesdd, the handle released', async () => {
    const before = spectrumCounters();
    const c = new AbortController();
    const run = computeEsd(layer, {
      ...opts,
      signal: c.signal,
      verify: async () => {
        c.abort();
        return 'rejected by the test';
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError', code: 'E_ABORTED' });
    expect(countersSince(before)).toMatchObject({ layerCalls: 1, finishes: 0, liveHandles: 0, gesddCopies: 0 });
  });

  it('the handle: only on Gram routes with verify, finish once, release idempotent, finish after release refused', async () => {
    const m = [mat(gaussian(300, 100, 23), 300, 100)];
    expect((await layerSpectrum(m, { method: 'fast', N: 300 })).handle).toBeUndefined();
    expect((await layerSpectrum(m, { method: 'accurate', N: 300, verify: true })).handle).toBeUndefined();
    const before = spectrumCounters();
    const a = await layerSpectrum(m, { method: 'fast', N: 300, verify: true });
    const b = await layerSpectrum(m, { method: 'fast', N: 300, verify: true });
    expect(countersSince(before).liveHandles).toBe(2);
    const finishing = a.handle!.finish('x');
    a.handle!.release(); // while the finish runs: it pins the matrices itself
    expect(countersSince(before).liveHandles).toBe(1);
    const done = await finishing;
    expect(done.route).toBe('gesdd');
    expect(done.fallback).toBe('x');
    expect(done.handle).toBeUndefined();
    await expect(a.handle!.finish('again')).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(b.handle!.finish('')).resolves.toMatchObject({ route: 'gesdd' });
    await expect(b.handle!.finish('twice')).rejects.toMatchObject({ code: 'E_USAGE' });
    b.handle!.release();
    b.handle!.release();
    expect(countersSince(before).liveHandles).toBe(0);
  });

  it('a handle dropped without release() is freed by its finalizer', () => {
    // a child with --expose-gc, on the addon itself
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(projectRoot + '/package.json')});
      const addon = require('node-gyp-build')(${JSON.stringify(projectRoot)});
      let seed = 1;
      const data = Float64Array.from({ length: 300 * 100 }, () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5);
      // in a function of its own, so no frame of this module keeps the last result
      const make = async () => {
        const r = await addon.layerSpectrum([{ data, rows: 300, cols: 100 }], { method: 'fast', N: 300, verify: true });
        if (!r.handle) throw new Error('no handle on ' + r.route);
      };
      for (let i = 0; i < 4; i++) await make();
      const held = addon.spectrumCounters().liveHandles;
      for (let k = 0; k < 100 && addon.spectrumCounters().liveHandles > 0; k++) {
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
      }
      console.log(JSON.stringify({ held, after: addon.spectrumCounters().liveHandles }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ held: 4, after: 0 });
  });
});
