/** The model-operation commands: distances, smooth, sharpen, and --base-model / --peft on analyze, describe and compare. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { runCli } from '../helpers/run-cli.js';
import { dense } from '../helpers/formula.js';
import { factor } from '../helpers/lora.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-cli-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = writeSafetensors(join(dir, 'base.safetensors'), [
  { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
  { name: 'fc1.bias', shape: [100], data: new Float32Array(100).fill(0.5) },
  { name: 'fc2.weight', shape: [60, 40], data: dense(60, 40, 0.2, 0.1) },
]);
const tuned = writeSafetensors(join(dir, 'tuned.safetensors'), [
  { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60).map((x, i) => x + 0.01 * Math.sin(i)) },
  { name: 'fc1.bias', shape: [100], data: new Float32Array(100).fill(0.25) },
  { name: 'fc2.weight', shape: [60, 40], data: dense(60, 40, 0.2, 0.1).map((x, i) => x + 0.02 * Math.cos(i)) },
  { name: 'extra.weight', shape: [30, 30], data: dense(30, 30) },
]);
const adapter = join(dir, 'adapter');
mkdirSync(adapter);
writeSafetensors(join(adapter, 'adapter_model.safetensors'), [
  { name: 'base_model.model.fc1.lora_A.weight', shape: [8, 60], data: factor(8, 60, 1) },
  { name: 'base_model.model.fc1.lora_B.weight', shape: [100, 8], data: factor(100, 8, 2) },
]);

const run = runCli;

describe('weightwatcher distances', () => {
  it('prints the rows, the averages and the unmatched layers; writes CSV in the reference column order and JSON', async () => {
    const csv = join(dir, 'd.csv');
    const json = join(dir, 'd.json');
    const r = await run('distances', base, tuned, '--csv', csv, '--json', json);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^id\s+name\s+M\s+N\s+delta_W \(raw\)\s+delta_b\s+b_shape/);
    expect(r.out).toMatch(/2 rows \(layers paired by name\); avg delta_W [\d.]+, avg delta_b 1\.2500/);
    expect(r.out).toMatch(/1 layers not compared:\n\s+B\s+0\s+extra: no analysed layer named "extra"/);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('layer_id,method,name,delta_W,delta_b,M,N,b_shape,longname');
    expect(lines[1]).toMatch(/^0,raw,fc1,[\d.]+,2\.5,60,100,"\(100,\)",fc1$/);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as {
      method: string;
      rows: unknown[];
      unmatched: unknown[];
      meta: { other: string };
    };
    expect([parsed.method, parsed.rows.length, parsed.unmatched.length, parsed.meta.other]).toEqual(['raw', 2, 1, tuned]);
  });

  it('--method cka against itself is 1; bad method and arity are usage errors; nothing paired is a failure', async () => {
    const r = await run('distances', base, base, '--method', 'CKA', '--csv', '-');
    expect(
      r.out
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[3]),
    ).toEqual(['1', '1']);
    expect((await run('distances', base, tuned, '--method', 'cosine')).code).toBe(2);
    expect((await run('distances', base)).code).toBe(2);
    const lone = writeSafetensors(join(dir, 'lone.safetensors'), [{ name: 'other.weight', shape: [20, 20], data: dense(20, 20) }]);
    const none = await run('distances', base, lone, '-q');
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no layer of .* could be paired/);
  });
});

describe('weightwatcher smooth / sharpen', () => {
  it('smooth writes a new file and reports per layer; the input is untouched', async () => {
    const before = readFileSync(base);
    const out = join(dir, 'smoothed.safetensors');
    const json = join(dir, 'smooth.json');
    const r = await run('smooth', base, out, '--method', 'svd', '--percent', '0.2', '--json', json);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/fc1\s+F32\s+100\s+60\s+1\s+12\s+kept top 12/);
    expect(r.out).toMatch(/2 of 2 layers changed; wrote .*smoothed\.safetensors/);
    expect(readFileSync(base).equals(before)).toBe(true);
    expect((JSON.parse(readFileSync(json, 'utf8')) as { layers: { k: number }[] }).layers.map((l) => l.k)).toEqual([12, 8]);
    const a = await run('analyze', out, '--json', '-', '-q');
    const rows = (JSON.parse(a.out) as { details: { M: number; weak_rank_loss: number }[] }).details;
    expect(rows.map((x) => x.M - x.weak_rank_loss)).toEqual([12, 8]);
  });

  it('usage errors: bad method or percent, missing OUT, OUT = IN', async () => {
    expect((await run('smooth', base, join(dir, 'x.safetensors'), '--method', 'magic')).code).toBe(2);
    expect((await run('smooth', base, join(dir, 'x.safetensors'), '--percent', '1.5')).code).toBe(2);
    expect((await run('smooth', base)).code).toBe(2);
    const same = await run('smooth', base, base);
    expect([same.code, same.err]).toEqual([2, expect.stringMatching(/is the input model/)]); // checked before any work (cli/output-paths.ts)
    expect(existsSync(join(dir, 'x.safetensors'))).toBe(false);
  });

  it('sharpen with a seed; help of the three commands', async () => {
    const r = await run('sharpen', base, join(dir, 'sharp.safetensors'), '--seed', '3', '--layers', 'fc1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/of 1 layers changed/);
    for (const cmd of ['distances', 'smooth', 'sharpen']) {
      const h = await run(cmd, '--help');
      expect([h.code, h.out]).toEqual([0, expect.stringMatching(new RegExp(`^usage: weightwatcher ${cmd} `))]);
    }
  });
});

describe('--base-model and --peft', () => {
  it('analyze --base-model: deltas, unmatched layers listed as skipped', async () => {
    const r = await run('analyze', tuned, '--base-model', base, '--json', '-', '-q');
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as {
      details: { name: string }[];
      meta: { base_model: string; skipped: { name: string; kind: string }[] };
    };
    expect(parsed.details.map((d) => d.name)).toEqual(['fc1', 'fc2']);
    expect(parsed.meta.base_model).toBe(base);
    expect(parsed.meta.skipped).toContainEqual(expect.objectContaining({ name: 'extra', kind: 'base_unmatched' }));
  });

  it('--peft with and without a value, before or after the model path', async () => {
    const only = await run('describe', '--peft', adapter, '--csv', '-');
    expect(only.code).toBe(0);
    expect(only.out.split('\n')[1]).toMatch(/^0,base_model\.model\.fc1\.lora_BA,60,100,.*,8,true,1$/);
    const withBase = await run('analyze', adapter, '--peft', 'with-base', '--base-model', base, '--json', '-', '-q');
    expect(
      (JSON.parse(withBase.out) as { details: { name: string; num_evals: number }[] }).details.map((d) => [d.name, d.num_evals]),
    ).toEqual([
      ['base_model.model.fc1.lora_W_plus_AB', 8],
      ['base_model.model.fc1.lora_BA', 8],
    ]);
    expect((await run('analyze', adapter, '--peft', 'sometimes')).code).toBe(2);
    expect((await run('analyze', adapter, '--base-match', 'fuzzy')).code).toBe(2);
  });

  it('compare --base-model analyses each model as its delta; analysis options reach the models', async () => {
    const r = await run('compare', tuned, base, '--base-model', base, '--min-evals', '50');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Fine-tune deltas: each model analysed as W − W_base against /);
    expect(r.out).toMatch(/layers\s+1\s+1/); // only fc1 has ≥ 50 eigenvalues
    expect((await run('compare', join(dir, 'd.json'), base, '--base-model', base)).code).toBe(2);
  });
});
