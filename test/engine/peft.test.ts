/**
 * LoRA adapters (R40, Q31, Q32) built here from minigpt's shapes: B·A rows with the adapter rank's
 * eigenvalues (ranks 4, 8, 16: none vanish under the default min_evals), W + BA equal to an explicit
 * sum, within one file and against a base model given by path, and the reference's numbers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, svdvalsSync } from '../../src/index.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { factor, loraTensors, product, readAll, type Tensor } from '../helpers/lora.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-peft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const INIT = corpus('minigpt/init/model.safetensors');
const MODULES = [0, 1, 2, 3].flatMap((i) => [`h.${i}.attn.c_attn`, `h.${i}.attn.c_proj`]);

function adapterFolder(name: string, tensors: Tensor[], config?: object): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeSafetensors(join(folder, 'adapter_model.safetensors'), tensors);
  if (config) writeFileSync(join(folder, 'adapter_config.json'), JSON.stringify(config));
  return folder;
}

/** Top-r eigenvalues (σ², ascending) of a row-major matrix. */
function topEvals(m: Float64Array, rows: number, cols: number, r: number): number[] {
  return Array.from(svdvalsSync(m, rows, cols))
    .slice(-r)
    .map((s) => s * s);
}

/** A python3 that can import torch (the reference's environment), for a real torch.save adapter. */
const torchPython = ['python3', '/usr/bin/python3'].find((py) => {
  try {
    execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
    return true;
  } catch {
    return false;
  }
});

const relErr = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

describe.skipIf(!haveCorpus)('LoRA adapters on minigpt shapes', () => {
  it('ranks 4, 8 and 16: one lora_BA row per module with r eigenvalues and matrix_rank r (Q32 fixed)', async () => {
    const W = await readAll(INIT);
    for (const rank of [4, 8, 16]) {
      const lora = loraTensors(W, { rank, modules: MODULES, layout: 'conv1d', adapter: 'default' });
      const ww = new WeightWatcher(adapterFolder(`r${rank}`, lora));
      const rows = await ww.analyze({ peft: true, keep_evals: true });
      expect(rows.map((r) => r.name)).toEqual(MODULES.map((m) => `base_model.model.${m}.lora_BA.default`));
      expect(rows.map((r) => r.layer_id)).toEqual(MODULES.map((_, i) => 2 * i));
      for (const [i, row] of rows.entries()) {
        expect([row.num_evals, row.matrix_rank, row.peft, row.layer_type]).toEqual([rank, rank, true, 'dense']);
        // the eigenvalues are the top r of B·A, computed here
        const [A, B] = [lora[2 * i]!, lora[2 * i + 1]!];
        const ba = product(A, B);
        expect(relErr(Array.from(ww.getLayerResults()[i]!.evals!), topEvals(ba, B.shape[0]!, A.shape[1]!, rank))).toBeLessThan(1e-10);
      }
      const described = await ww.describe({ peft: true });
      expect(described.map((r) => r.num_evals)).toEqual(MODULES.map(() => rank));
    }
  });

  it('W + B·Aᵀ against the base model by path (GPT-2 Conv1D layout from adapter_config.json) equals the explicit sum', async () => {
    const W = await readAll(INIT);
    const rank = 8;
    const lora = loraTensors(W, { rank, modules: MODULES, layout: 'conv1d' });
    const folder = adapterFolder('conv1d', lora, { r: rank, lora_alpha: 16, fan_in_fan_out: true });
    const ww = new WeightWatcher(folder);
    const rows = await ww.analyze({ peft: 'with_base', baseModel: INIT, keep_evals: true });
    expect(rows.map((r) => r.name)).toEqual(
      MODULES.flatMap((m) => [`base_model.model.${m}.lora_W_plus_AB`, `base_model.model.${m}.lora_BA`]),
    );
    for (const [i, m] of MODULES.entries()) {
      const w = W.get(`${m}.weight`)!;
      const [rows0, cols0] = w.shape as [number, number]; // [in, out]
      const ba = product(lora[2 * i]!, lora[2 * i + 1]!); // [out, in]
      const sum = Float64Array.from(w.data, (x, k) => x + ba[(k % cols0) * rows0 + Math.floor(k / cols0)]!);
      const row = rows[2 * i]!;
      expect([row.N, row.M, row.num_evals, row.peft]).toEqual([Math.max(rows0, cols0), Math.min(rows0, cols0), rank, true]);
      expect(relErr(Array.from(ww.getLayerResults()[2 * i]!.evals!), topEvals(sum, rows0, cols0, rank))).toBeLessThan(1e-10);
    }
  });

  it("within one file (base_layer + factors), with the reference's rows and numbers", async () => {
    const W = await readAll(INIT);
    const lora = loraTensors(W, { rank: 16, modules: MODULES, layout: 'linear' });
    const merged = [...W.values()].map((t) => {
      const m = t.name.slice(0, -'.weight'.length);
      return {
        ...t,
        name: MODULES.includes(m) && t.name.endsWith('.weight') ? `base_model.model.${m}.base_layer.weight` : `base_model.model.${t.name}`,
      };
    });
    const file = writeSafetensors(join(dir, 'merged.safetensors'), [...merged, ...lora]);
    const withBase = await new WeightWatcher(file).analyze({ peft: 'with_base' });
    // reference 0.7.5.5 on the same file: 34 rows; the first module's three rows
    expect(withBase.length).toBe(34);
    const expected: [number, string, number, number, number, boolean][] = [
      [0, 'base_model.model.h.0.attn.c_attn.base_layer', 16.681260461342987, 0.750712226205925, 256, false],
      [2, 'base_model.model.h.0.attn.c_attn.lora_W_plus_AB', 16.403868311028408, 0.751356002724698, 16, true],
      [1, 'base_model.model.h.0.attn.c_attn.lora_BA', 24.60348627082175, 0.002353148947958, 16, true],
      [3, 'base_model.model.h.0.attn.c_proj.base_layer', 6.742489495248492, 0.050522791215608, 256, false],
      [5, 'base_model.model.h.0.attn.c_proj.lora_W_plus_AB', 11.306938883672807, 0.050737864347179, 16, true],
      [4, 'base_model.model.h.0.attn.c_proj.lora_BA', 2.313989420605218, 0.001437385539168, 16, true],
    ];
    expected.forEach(([id, name, alpha, lmax, n, peft], i) => {
      const r = withBase[i]!;
      expect([r.layer_id, r.name, r.num_evals, r.peft]).toEqual([id, name, n, peft]);
      // the reference forms B·A and W + B·A in float32; we use float64 (≈1e-8 relative)
      expect(Math.abs(r.alpha - alpha) / alpha).toBeLessThan(1e-6);
      expect(Math.abs(r.lambda_max - lmax) / lmax).toBeLessThan(1e-7);
    });
    const adapterOnly = await new WeightWatcher(file).analyze({ peft: true });
    expect(adapterOnly.map((r) => r.alpha)).toEqual(withBase.filter((r) => String(r.name).endsWith('lora_BA')).map((r) => r.alpha));
  });
});

describe.skipIf(!torchPython)('adapter_model.bin written by torch.save (needs a python3 with torch)', () => {
  it('an adapter analysed without --peft: the explanation points to --peft, not to a lower --min-evals', async () => {
    const lora = loraTensors(await readAll(INIT), { rank: 4, modules: MODULES, layout: 'conv1d', adapter: 'default' });
    const ww = new WeightWatcher(adapterFolder('no-peft', lora));
    expect(await ww.analyze()).toEqual([]);
    expect(ww.lastRun?.status).toBe('empty');
    expect(ww.lastRun?.explanation).toMatch(/LoRA adapter \(16 lora_A\/lora_B factors\): pass --peft/);
    expect(ww.lastRun?.explanation).not.toMatch(/min-evals/);
  });

  it('pairs `.default` factors from a .bin adapter folder like the safetensors one', async () => {
    const folder = join(dir, 'bin-adapter');
    mkdirSync(folder);
    const A = Array.from(factor(4, 20, 1));
    const B = Array.from(factor(30, 4, 2));
    const script = `import torch, sys
A = torch.tensor(${JSON.stringify(A)}, dtype=torch.float32).reshape(4, 20)
B = torch.tensor(${JSON.stringify(B)}, dtype=torch.float32).reshape(30, 4)
torch.save({'base_model.model.fc.lora_A.default.weight': A, 'base_model.model.fc.lora_B.default.weight': B}, sys.argv[1])`;
    execFileSync(torchPython!, ['-c', script, join(folder, 'adapter_model.bin')], { timeout: 120_000 });
    const ww = new WeightWatcher(folder);
    const rows = await ww.analyze({ peft: true, keep_evals: true });
    expect(rows.map((r) => [r.name, r.N, r.M, r.num_evals, r.matrix_rank])).toEqual([
      ['base_model.model.fc.lora_BA.default', 30, 20, 4, 4],
    ]);
    const a = { name: 'A', shape: [4, 20], data: Float32Array.from(A) };
    const b = { name: 'B', shape: [30, 4], data: Float32Array.from(B) };
    expect(relErr(Array.from(ww.getLayerResults()[0]!.evals!), topEvals(product(a, b), 30, 20, 4))).toBeLessThan(1e-10);
  });
});

describe('LoRA pairing rules', () => {
  const m = (name: string, rows: number, cols: number, seed: number) => ({
    name,
    shape: [rows, cols],
    data: Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(seed * (i + 1))),
  });

  it('pairs by module name, reports unpaired factors and non-LoRA layers, filters the product rows', async () => {
    const tensors = [
      m('q.lora_B.weight', 24, 3, 1),
      m('k.lora_A.weight', 3, 20, 2),
      m('q.lora_A.weight', 3, 20, 3),
      m('v.lora_A.weight', 3, 20, 4),
      m('fc.weight', 24, 20, 5),
    ];
    const ww = new WeightWatcher(tensors);
    const rows = await ww.analyze({ peft: true });
    expect(rows.map((r) => [r.layer_id, r.name, r.N, r.M, r.num_evals])).toEqual([[3, 'q.lora_BA', 24, 20, 3]]);
    expect(ww.lastRun!.skipped.map((s) => [s.name, s.kind, s.reason])).toEqual([
      ['k.lora_A', 'peft', 'lora_A without a matching lora_B'],
      ['v.lora_A', 'peft', 'lora_A without a matching lora_B'],
      ['fc', 'peft', "not a LoRA factor (peft analyses only the adapters' B·A; use peft 'with_base' for every layer)"],
    ]);
    expect(await ww.analyze({ peft: true, layers: [1] })).toEqual([]);
    await expect(ww.analyze({ peft: true, baseModel: tensors })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
