/**
 * Layer selection and its explanations: --layers validation (nearest names), id ranges, name
 * exclusion, all_tensors numbering, skip reasons for every tensor without a row, the one-line
 * explanation of an empty plan, run status and failures in the library.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, WeightWatcherError, type InMemoryTensor } from '../../src/index.js';
import { LayerFailuresError } from '../../src/shared/errors.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';
import { npyF32 } from '../helpers/npy-writer.js';
import { zipBytes } from '../helpers/zip-writer.js';
import { attr, graph, model, node, tensor } from '../helpers/onnx-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-select-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const gpt = writeSafetensors(join(dir, 'gpt.safetensors'), [
  { name: 'h.0.attn.c_attn.weight', shape: [64, 48], data: dense(64, 48) },
  { name: 'h.0.attn.c_attn.bias', shape: [48], data: new Float32Array(48) },
  { name: 'h.0.ln_1.weight', shape: [64], data: new Float32Array(64).fill(1) },
  { name: 'h.0.mlp.c_fc.weight', shape: [64, 40], data: dense(64, 40, 0.2) },
  { name: 'lm_head.weight', shape: [1, 64], data: dense(1, 64) },
  { name: 'pos_ids', shape: [2, 8], dtype: 'I64', bytes: new Uint8Array(128) },
  { name: 'extra_proj', shape: [30, 20], data: dense(30, 20, 0.3) },
]);
// Sorted key order: h.0.attn.c_attn.bias, h.0.attn.c_attn.weight, h.0.ln_1.weight, h.0.mlp.c_fc.weight, extra_proj… (code points: 'e' < 'h')

const names = (rows: { name: string }[]) => rows.map((r) => r.name);

describe('--layers (layers option)', () => {
  it('an entry that matches no layer is E_USAGE naming the nearest layers', async () => {
    const ww = new WeightWatcher(gpt);
    await expect(ww.describe({ layers: ['attn'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/'attn' matches no layer id, name or type \(nearest: h\.0\.attn\.c_attn/),
    });
    await expect(ww.describe({ layers: ['h.0.mlp.c_fx'] })).rejects.toMatchObject({
      message: expect.stringMatching(/nearest: h\.0\.mlp\.c_fc/),
    });
    await expect(ww.describe({ layers: [9] })).rejects.toMatchObject({ message: expect.stringMatching(/no layer has id 9 \(ids 0–3\)/) });
    await expect(ww.describe({ layers: ['conv2d'] })).rejects.toMatchObject({
      message: expect.stringMatching(/no layer of type conv2d \(types here: dense, unknown\)/),
    });
    await expect(ww.describe({ layers: ['7-9'] })).rejects.toMatchObject({ message: expect.stringMatching(/no layer id in 7-9/) });
    await expect(ww.describe({ layers: ['5-2'] })).rejects.toMatchObject({ message: expect.stringMatching(/runs backwards/) });
  });

  it('id ranges, -name exclusion, mixing rules', async () => {
    const ww = new WeightWatcher(gpt);
    expect(names(await ww.describe({ layers: ['0-1'] }))).toEqual(['h.0.attn.c_attn']);
    expect(names(await ww.describe({ layers: ['-h.0.attn.c_attn'] }))).toEqual(['h.0.mlp.c_fc']);
    expect(names(await ww.describe({ layers: [2, 'dense'] }))).toEqual(['h.0.mlp.c_fc']); // Q5: the id filter overwrites the type filter
    expect(names(await ww.describe({ layers: [-2] }))).toEqual(['h.0.attn.c_attn']);
    await expect(ww.describe({ layers: ['h.0.mlp.c_fc', '-h.0.attn.c_attn'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/cannot be mixed/),
    });
    await expect(ww.describe({ layers: ['0-1', -2] })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('a layer literally named like a range is a name, not a range', async () => {
    const p = writeSafetensors(join(dir, 'range-name.safetensors'), [
      { name: '0-1.weight', shape: [30, 20], data: dense(30, 20) },
      { name: 'a.weight', shape: [30, 20], data: dense(30, 20, 0.2) },
      { name: 'b.weight', shape: [30, 20], data: dense(30, 20, 0.3) },
    ]);
    expect(names(await new WeightWatcher(p).describe({ layers: ['0-1'] }))).toEqual(['0-1']);
  });
});

describe('skip reasons and all_tensors', () => {
  it('every enumerated tensor without a row has a reason; [1, N] is skipped for its shape', async () => {
    const ww = new WeightWatcher(gpt);
    await ww.describe();
    expect(ww.lastRun!.skipped).toEqual([
      { layer_id: 1, name: 'h.0.ln_1', kind: 'type', reason: '1-D tensor [64]: not a weight matrix (bias, norm scale, buffer)' },
      { layer_id: 3, name: 'lm_head', kind: 'shape', reason: 'shape [1, 64]: a weight matrix needs at least 2 rows' },
    ]);
    // Tensors outside the *.weight numbering are not layers, but a matrix among them is pointed out.
    expect(ww.lastRun!.notes).toEqual(['1 other 2-D/4-D tensor not named *.weight was not considered (--all-tensors analyses it)']);
    await ww.describe({ all_tensors: true });
    expect(ww.lastRun!.notes).toEqual([]);
  });

  it('all_tensors: ids over every tensor in file order, integer tensors skipped for their dtype; default numbering unchanged', async () => {
    const plain = await new WeightWatcher(gpt).describe();
    expect(plain.map((r) => [r.layer_id, r.name])).toEqual([
      [0, 'h.0.attn.c_attn'],
      [2, 'h.0.mlp.c_fc'],
    ]);
    const ww = new WeightWatcher(gpt);
    const all = await ww.describe({ all_tensors: true });
    expect(all.map((r) => [r.layer_id, r.name])).toEqual([
      [0, 'extra_proj'],
      [2, 'h.0.attn.c_attn'],
      [4, 'h.0.mlp.c_fc'],
    ]);
    expect(ww.lastRun!.skipped.map((s) => [s.layer_id, s.name, s.kind])).toEqual([
      [1, 'h.0.attn.c_attn.bias', 'type'],
      [3, 'h.0.ln_1', 'type'],
      [5, 'lm_head', 'shape'],
      [6, 'pos_ids', 'dtype'],
    ]);
  });
});

describe('empty plans are explained', () => {
  it('tensors without .weight names point to all_tensors', async () => {
    const p = join(dir, 'arrays.npz');
    writeFileSync(
      p,
      zipBytes([
        { name: 'q.npy', data: npyF32([40, 30], dense(40, 30)) },
        { name: 'k.npy', data: npyF32([40, 30], dense(40, 30, 0.2)) },
      ]),
    );
    const ww = new WeightWatcher(p);
    expect(await ww.analyze()).toEqual([]);
    expect(ww.lastRun).toMatchObject({
      status: 'empty',
      planned: 0,
      explanation: '2 tensors, none named *.weight: pass --all-tensors to treat every 2-D tensor as a layer',
    });
    expect(names(await ww.analyze({ all_tensors: true }))).toEqual(['q', 'k']);
  });

  it('ONNX weights held in Constant nodes point to onnx_constants', async () => {
    const constant = (out: string, dims: number[], values: Float32Array) =>
      node('Constant', [out], [attr('value', { t: tensor({ name: '', dims, dataType: 1, floats: Array.from(values) }) })]);
    const p = join(dir, 'consts.onnx');
    writeFileSync(
      p,
      model(graph([constant('w', [30, 20], dense(30, 20))], [tensor({ name: 'scale', dims: [1], dataType: 1, floats: [1] })])),
    );
    const ww = new WeightWatcher(p);
    await ww.describe();
    expect(ww.lastRun!.explanation).toBe(
      '1 initializer but no weight matrix; this ONNX keeps its weights in Constant nodes: use --onnx-constants (1 weight tensor there)',
    );
    expect(names(await ww.describe({ onnx_constants: true }))).toEqual(['w']);
  });

  it('support rules name the limit and the value that would pass', async () => {
    const ww = new WeightWatcher(gpt);
    await ww.describe({ min_evals: 100 });
    expect(ww.lastRun!.explanation).toBe(
      'none of 4 layers qualifies: 2 not weight matrices, 2 with fewer than 100 eigenvalues (the most: 48); lower --min-evals (to 48 or less)',
    );
  });
});

describe('run status and failures (library)', () => {
  const good = (name: string): InMemoryTensor => ({ name, shape: [30, 20], data: dense(30, 20) });
  const nan = (name: string): InMemoryTensor => ({ name, shape: [30, 20], data: new Float32Array(600).fill(NaN) });

  it('every layer failed: analyze() throws LayerFailuresError with the failures, lastRun says failed', async () => {
    const ww = new WeightWatcher([nan('a'), nan('b')]);
    const e = await ww.analyze().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LayerFailuresError);
    expect(e).toMatchObject({
      code: 'E_LAYERS_FAILED',
      failures: [
        { name: 'a', code: 'E_NONFINITE' },
        { name: 'b', code: 'E_NONFINITE' },
      ],
      rows: [],
    });
    expect((e as Error).message).toMatch(/all 2 layers failed: layer 1 a: E_NONFINITE/);
    expect(ww.lastRun).toMatchObject({ status: 'failed', planned: 2 });
    expect(await ww.analyze({ throwOnFailure: false })).toEqual([]);
  });

  it('some failed: rows for the others, status partial; throwOnFailure: true throws', async () => {
    const ww = new WeightWatcher([good('a'), nan('b')]);
    expect(names(await ww.analyze())).toEqual(['a']);
    expect(ww.lastRun).toMatchObject({ status: 'partial', planned: 2, failures: [{ layer_id: 2, name: 'b' }] });
    await expect(ww.analyze({ throwOnFailure: true })).rejects.toMatchObject({
      code: 'E_LAYERS_FAILED',
      message: expect.stringMatching(/1 of 2 layers failed/),
      rows: [expect.objectContaining({ name: 'a' })],
    });
    expect(ww.lastRun!.status).toBe('partial');
  });

  it('non-model arguments are E_USAGE', async () => {
    for (const bad of [42, null, '', {}, true, () => 1]) {
      expect(() => new WeightWatcher(bad as never), JSON.stringify(bad) ?? typeof bad).toThrow(WeightWatcherError);
    }
    expect(() => new WeightWatcher(42 as never)).toThrow(
      /expected a model path, a TensorStore, or an array or \(async\) iterable .*got number 42/,
    );
    expect(() => new WeightWatcher(5n as never)).toThrow(/got bigint 5$/);
    expect(() => new WeightWatcher(NaN as never)).toThrow(/got number NaN$/);
    await expect(new WeightWatcher().analyze({ model: 7 as never })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('negative counts and thresholds are refused', async () => {
    const ww = new WeightWatcher([good('a')]);
    for (const o of [
      { min_evals: -5 },
      { max_fingers: -3 },
      { max_fingers: 0 },
      { xmin_max: -1 },
      { finger_thresh: -1 },
      { max_N: 0 },
      { format: 'xyz' as never },
      { all_tensors: 'yes' as never },
    ]) {
      await expect(ww.analyze(o), JSON.stringify(o)).rejects.toMatchObject({ code: 'E_USAGE' });
    }
  });
});
