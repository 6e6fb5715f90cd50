/** intra=True (R37): alignment, the product, unsquared ESD (Q15) and the row's shape. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, svdvalsSync } from '../../src/index.js';
import { alignPair, intraProduct } from '../../src/engine/intra.js';
import { Random } from '../../src/shared/random.js';
import { dense } from '../helpers/formula.js';

const m = (rows: number, cols: number) => ({ data: new Float64Array(rows * cols), rows, cols });

describe('intra-layer analysis', () => {
  it('aligns on the largest repeated dimension like the reference (Q34)', () => {
    const [a, b] = alignPair(m(64, 392), m(64, 64)); // like VGG fc1 [4096, 25088], fc2 [4096, 4096] ([out, in])
    expect([a.rows, a.cols, b.rows, b.cols]).toEqual([392, 64, 64, 64]);
    const [c, d] = alignPair(m(48, 144), m(48, 48)); // like GPT-2 Conv1D c_attn [768, 2304], c_proj [768, 768] ([in, out])
    expect([c.rows, c.cols, d.rows, d.cols]).toEqual([144, 48, 48, 48]);
    const [e, f] = alignPair(m(10, 20), m(30, 40)); // nothing shared: left as is
    expect([e.rows, e.cols, f.rows, f.cols]).toEqual([10, 20, 30, 40]);
  });

  it('without sparsify the row is the singular values of W0ᵀ·W1/(‖W0‖‖W1‖), unsquared', async () => {
    const w0 = dense(40, 30);
    const w1 = dense(40, 25, 0.2);
    const ww = new WeightWatcher([
      { name: 'a.weight', shape: [40, 30], data: w0 },
      { name: 'b.weight', shape: [40, 25], data: w1 },
    ]);
    const rows = await ww.analyze({ intra: true, sparsify: false, keep_evals: true });
    expect(rows.length).toBe(1);
    const r = rows[0]!;
    expect(r).toMatchObject({ layer_id: 2, name: '1 X 2 ', Xflag: true, N: 30, M: 25, layer_type: 'dense' });
    expect(Object.keys(r).slice(0, 7)).toEqual(['layer_id', 'name', 'D', 'M', 'N', 'Q', 'Xflag']);
    const x = await intraProduct({ data: w0, rows: 40, cols: 30 }, { data: w1, rows: 40, cols: 25 }, false, new Random(1));
    const sv = svdvalsSync(x!.data, x!.rows, x!.cols);
    const evals = ww.getLayerResults()[0]!.evals!;
    expect(Array.from(evals)).toEqual(Array.from(sv));
    expect(r.lambda_max).toBe(sv[sv.length - 1]);
    expect(r.sv_max).toBeCloseTo(Math.sqrt(sv[sv.length - 1]!), 15);
  });

  it('sparsify draws S from the seeded generator: same seed, same row', async () => {
    const tensors = () => [
      { name: 'a.weight', shape: [40, 30], data: dense(40, 30) },
      { name: 'b.weight', shape: [40, 25], data: dense(40, 25, 0.2) },
      { name: 'c.weight', shape: [25, 33], data: dense(25, 33, 0.3) },
    ];
    const r1 = await new WeightWatcher(tensors()).analyze({ intra: true, seed: 3 });
    const r2 = await new WeightWatcher(tensors()).analyze({ intra: true, seed: 3 });
    expect(r1.map((r) => r.name)).toEqual(['1 X 2 ', '2 X 3 ']);
    expect(r1).toEqual(r2);
    const unsparse = await new WeightWatcher(tensors()).analyze({ intra: true, sparsify: false });
    expect(unsparse[0]!.lambda_max).not.toBe(r1[0]!.lambda_max);
  });

  it('is refused together with randomize or vectors', async () => {
    await expect(
      new WeightWatcher([{ name: 'a.weight', shape: [20, 20], data: dense(20, 20) }]).analyze({ intra: true, randomize: true }),
    ).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
