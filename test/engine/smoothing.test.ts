/**
 * SVD smoothing and sharpening (R41, R42, Q29) on the minigpt corpus: svd/0.2 keeps ⌊0.2·M⌋
 * eigenvalues per dense layer (float32: above the weak_rank_loss tolerance; bf16: above the
 * rounding floor), everything else byte for byte, bf16 stays bf16, sharded folders are mirrored,
 * the input is untouched; k per method equals the reference's; sharpening removes a planted trap.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, SafetensorsFile, svdvalsSync } from '../../src/index.js';
import { unitRoundoff } from '../../src/formats/encode.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { expectError } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-smooth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BIG = corpus('minigpt/big-data/model.safetensors');
const BIG_BF16 = corpus('minigpt/big-data/model.bf16.safetensors');
const SHARDED = corpus('minigpt/big-data/sharded');

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Raw bytes of every tensor of a file, by name. */
async function tensorBytes(path: string): Promise<Map<string, Buffer>> {
  const f = await SafetensorsFile.open(path);
  const out = new Map<string, Buffer>();
  for (const t of f.tensors.values()) out.set(t.name, Buffer.from(await f.readRange(t.begin, t.byteLength)));
  await f.close();
  return out;
}

describe.skipIf(!haveCorpus)('smoothing minigpt', () => {
  it('svd 0.2 on float32: every dense layer keeps exactly ⌊0.2·M⌋ eigenvalues above the tolerance; the rest is copied', async () => {
    const before = sha(BIG);
    const out = join(dir, 'svd.safetensors');
    const res = await new WeightWatcher(BIG).smooth(out, { method: 'svd', percent: 0.2 });
    expect(sha(BIG)).toBe(before);
    expect(res.layers.length).toBe(18);
    const rows = await new WeightWatcher(out).analyze();
    for (const r of rows) expect([r.name, r.M - r.weak_rank_loss]).toEqual([r.name, Math.floor(0.2 * r.M)]);
    // header (with __metadata__) identical; only the 18 layer weights changed
    const [a, b] = [readFileSync(BIG), readFileSync(out)];
    const f = await SafetensorsFile.open(out);
    expect(b.subarray(0, f.dataStart).equals(a.subarray(0, f.dataStart))).toBe(true);
    expect(f.metadata).toEqual({ format: 'pt' });
    await f.close();
    const [ta, tb] = [await tensorBytes(BIG), await tensorBytes(out)];
    const changed = [...ta.keys()].filter((k) => !ta.get(k)!.equals(tb.get(k)!)).sort();
    expect(changed).toEqual(res.layers.map((l) => l.tensor).sort());
  });

  it('bf16 stays bf16; ⌊0.2·M⌋ eigenvalues lie above the bf16 rounding floor (2⁻⁸/(1 − 2⁻⁸))²·Σλ', async () => {
    const out = join(dir, 'svd.bf16.safetensors');
    const res = await new WeightWatcher(BIG_BF16).smooth(out, { method: 'svd', percent: 0.2 });
    expect(new Set(res.layers.map((l) => l.dtype))).toEqual(new Set(['BF16']));
    const f = await SafetensorsFile.open(out);
    expect(new Set([...f.tensors.values()].map((t) => t.dtype))).toEqual(new Set(['BF16']));
    await f.close();
    const ww = new WeightWatcher(out);
    const rows = await ww.analyze({ keep_evals: true });
    const u = unitRoundoff('BF16');
    for (const [i, r] of rows.entries()) {
      const k = Math.floor(0.2 * r.M);
      const evals = ww.getLayerResults()[i]!.evals!;
      const floor = (u / (1 - u)) ** 2 * r.norm; // Weyl: rounding moves each σ by at most u·‖W_k‖_F
      expect([r.name, evals.filter((x) => x > floor).length]).toEqual([r.name, k]);
      // rounding noise can only add eigenvalues above the 1e-6 tolerance, never remove kept ones
      expect(r.M - r.weak_rank_loss).toBeGreaterThanOrEqual(k);
    }
  });

  it('a sharded folder becomes a folder with the same shards, index and config; same tensors as the single file', async () => {
    const out = join(dir, 'sharded-out');
    const res = await new WeightWatcher(SHARDED).smooth(out, { method: 'svd', percent: 0.2 });
    expect(readdirSync(out).sort()).toEqual(readdirSync(SHARDED).sort());
    expect(res.copied.sort()).toEqual(['config.json', 'model.safetensors.index.json']);
    expect(
      readFileSync(join(out, 'model.safetensors.index.json')).equals(readFileSync(join(SHARDED, 'model.safetensors.index.json'))),
    ).toBe(true);
    const single = await tensorBytes(join(dir, 'svd.safetensors'));
    for (const shard of readdirSync(out).filter((n) => n.endsWith('.safetensors'))) {
      for (const [name, bytes] of await tensorBytes(join(out, shard))) expect(bytes.equals(single.get(name)!), name).toBe(true);
    }
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it("k per layer equals the reference's for detX, rmt and alpha_min", async () => {
    const reference: Record<string, number[]> = {
      // ranks of the reference's SVDSmoothing output on big-data (0.7.5.5), layers in key order
      detX: [174, 149, 155, 98, 177, 96, 144, 106, 178, 93, 156, 118, 171, 92, 159, 112, 65, 16],
      rmt: [34, 16, 42, 49, 19, 14, 29, 48, 19, 13, 27, 49, 20, 14, 26, 47, 17, 1],
      alpha_min: [22, 89, 169, 222, 113, 101, 166, 202, 109, 106, 144, 191, 116, 109, 141, 185, 25, 65],
    };
    for (const [method, ks] of Object.entries(reference)) {
      const res = await new WeightWatcher(BIG).smooth(join(dir, `${method}.safetensors`), { method: method as 'detX' });
      expect(res.layers.map((l) => l.k)).toEqual(ks);
    }
  });

  it('a negative percent removes the top components', async () => {
    const out = join(dir, 'neg.safetensors');
    const res = await new WeightWatcher(BIG).smooth(out, { method: 'svd', percent: -0.2, layers: ['wpe'] });
    expect(res.layers).toMatchObject([{ name: 'wpe', k: -25, action: 'removed top' }]);
    const [before, after] = [await new WeightWatcher(BIG).getESD('wpe'), await new WeightWatcher(out).getESD('wpe')];
    expect(after[after.length - 1]).toBeCloseTo(before[before.length - 1 - 25]!, 6);
  });

  it('conv2d: ceil(k / rf) per kernel position, every slice truncated', async () => {
    const input = corpus('synthetic/convnet.safetensors');
    const out = join(dir, 'conv.safetensors');
    const res = await new WeightWatcher(input).smooth(out, { method: 'svd', percent: 0.3 });
    const smoothed = new WeightWatcher(out);
    for (const l of res.layers) {
      expect(l.k).toBe(Math.trunc(0.3 * l.M * l.rf));
      expect(l.k_per_matrix).toBe(Math.ceil(l.k! / l.rf));
      for (const m of await smoothed.getWeights(l.name)) {
        const sv = svdvalsSync(m.data, m.rows, m.cols);
        expect(Array.from(sv).filter((x) => x > sv[sv.length - 1]! * 1e-5).length, l.name).toBe(l.k_per_matrix);
      }
    }
    expect(res.layers.filter((l) => l.rf === 9).length).toBeGreaterThan(0);
  });

  it('refuses to write over the input, a non-safetensors input and a non-empty folder', async () => {
    await expectError(new WeightWatcher(BIG).smooth(BIG), 'E_USAGE', 'never modified');
    await expectError(
      new WeightWatcher(corpus('minigpt/big-data/model.onnx')).smooth(join(dir, 'x.safetensors')),
      'E_UNSUPPORTED',
      'safetensors',
    );
    await expectError(new WeightWatcher(SHARDED).smooth(join(dir, 'sharded-out')), 'E_USAGE', 'not empty');
    await expectError(new WeightWatcher(BIG).smooth(join(dir, 'y.safetensors'), { method: 'svd', percent: 2 }), 'E_USAGE', 'percent');
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
  });
});

describe('failures', () => {
  it('a bad layer fails the whole write with the tensor named; nothing is left behind', async () => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const bad = Float32Array.from({ length: 40 * 30 }, (_, i) => Math.sin(i));
    bad[77] = NaN;
    const file = writeSafetensors(join(sub, 'bad.safetensors'), [
      { name: 'a.weight', shape: [40, 30], data: Float32Array.from({ length: 1200 }, (_, i) => Math.cos(i)) },
      { name: 'b.weight', shape: [40, 30], data: bad },
      { name: 'c.weight', shape: [40, 30], data: Float32Array.from({ length: 1200 }, (_, i) => Math.sin(3 * i)) },
    ]);
    const err = await expectError(
      new WeightWatcher(file).smooth(join(sub, 'out.safetensors'), { method: 'svd', percent: 0.5 }),
      'E_NONFINITE',
    );
    expect(err.tensor).toBe('b.weight');
    expect(readdirSync(sub)).toEqual(['bad.safetensors']);
  });
});

describe('sharpening', () => {
  // A noise matrix (deterministic Box–Muller) with a planted correlation trap: a few huge entries
  // survive any permutation, so the permuted matrix's MP fit shows spikes.
  function trapped(rows: number, cols: number): Float32Array {
    let s = 12345;
    const uniform = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) + 0.5) / 2 ** 32;
    const w = Float32Array.from(
      { length: rows * cols },
      () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) * 0.05,
    );
    for (const k of [17, 4001, 9999, 15000]) w[k] = 3;
    return w;
  }

  it('removes the trap (λ_max drops by far), reproducibly with a seed; a layer without spikes is left alone', async () => {
    const file = writeSafetensors(join(dir, 'trap.safetensors'), [
      { name: 'trap.weight', shape: [200, 100], data: trapped(200, 100) },
      { name: 'clean.weight', shape: [200, 100], data: trapped(200, 100).map((x) => (x === 3 ? 0.01 : x)) },
    ]);
    const [o1, o2] = [join(dir, 'sharp1.safetensors'), join(dir, 'sharp2.safetensors')];
    const res = await new WeightWatcher(file).sharpen(o1, { seed: 7 });
    await new WeightWatcher(file).sharpen(o2, { seed: 7 });
    expect(sha(o1)).toBe(sha(o2));
    const trap = res.layers.find((l) => l.name === 'trap')!;
    expect(trap.action).toBe('removed top');
    expect(trap.k!).toBeLessThan(0);
    expect(res.layers.find((l) => l.name === 'clean')).toMatchObject({ k: 0, action: 'unchanged' });
    const [before, after] = [await new WeightWatcher(file).getESD('trap'), await new WeightWatcher(o1).getESD('trap')];
    expect(after[after.length - 1]!).toBeLessThan(before[before.length - 1]! / 4);
  });
});
