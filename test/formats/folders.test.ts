/** Folder layouts: Hugging Face model folders, PEFT adapters, and clear messages for empty folders. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, openModel } from '../../src/index.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { modelFiles, openModelDetailed } from '../../src/formats/open.js';
import { safetensorsBytes } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';
import { npyF32 } from '../helpers/npy-writer.js';
import { zipBytes } from '../helpers/zip-writer.js';

const dirs: string[] = [];
function folder(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'ww-folder-'));
  dirs.push(d);
  for (const [name, src] of Object.entries(files)) {
    if (src.startsWith('/')) copyFileSync(src, join(d, name));
    else writeFileSync(join(d, name), src);
  }
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.skipIf(!haveCorpus)('model folders', () => {
  it('a Hugging Face folder with both safetensors and .bin uses safetensors', async () => {
    const d = folder({
      'config.json': '{}',
      'model.safetensors': corpus('minigpt/big-data/model.safetensors'),
      'pytorch_model.bin': corpus('minigpt/big-data/pytorch_model.bin'),
    });
    const store = await openModel(d);
    expect(store.format).toBe('safetensors');
    await store.close();
  });

  it('a folder with only pytorch_model.bin is read as PyTorch, ids over its key order', async () => {
    const d = folder({ 'config.json': '{}', 'pytorch_model.bin': corpus('minigpt/big-data/pytorch_model.bin') });
    const rows = await new WeightWatcher(d).describe();
    expect(rows[0]).toMatchObject({ layer_id: 0, name: 'wte' });
    expect(rows.length).toBe(18);
  });

  it('model.safetensors next to model.bf16.safetensors: the canonical file is used', async () => {
    const rows = await new WeightWatcher(corpus('minigpt/big-data')).describe();
    expect(rows.length).toBe(18);
  });

  it('PEFT adapter folders (adapter_model.safetensors) are found', async () => {
    const d = folder({ 'adapter_config.json': '{}', 'adapter_model.safetensors': corpus('synthetic/gaussian.safetensors') });
    const rows = await new WeightWatcher(d).describe();
    expect(rows.length).toBe(2);
  });

  it('onnx_constants adds Constant-node weights after the reference rows, ids unchanged', async () => {
    const plain = await new WeightWatcher(corpus('minigpt/big-data/model.onnx')).describe({ min_evals: 1 });
    const ext = await new WeightWatcher(corpus('minigpt/big-data/model.onnx')).describe({ min_evals: 1, onnx_constants: true });
    expect(ext.slice(0, plain.length)).toEqual(plain);
    expect(ext.length).toBeGreaterThanOrEqual(plain.length);
  });

  it('shards without an index are combined in file-name order', async () => {
    const d = folder({
      'model-00001-of-00002.safetensors': corpus('minigpt/big-data/sharded/model-00001-of-00002.safetensors'),
      'model-00002-of-00002.safetensors': corpus('minigpt/big-data/sharded/model-00002-of-00002.safetensors'),
    });
    const rows = await new WeightWatcher(d).analyze();
    expect(rows.length).toBe(18);
  });
});

describe('folder errors', () => {
  it('an empty folder names the supported formats', async () => {
    const d = folder({ 'README.md': 'nothing here' });
    await expect(openModel(d)).rejects.toMatchObject({
      code: 'E_FORMAT',
      message: expect.stringMatching(/no model weights found.*supported: safetensors/),
    });
  });

  it('an unknown file is refused with the list of formats', async () => {
    const d = folder({ 'weights.xyz': 'hello world, not a model' });
    await expect(openModel(join(d, 'weights.xyz'))).rejects.toMatchObject({
      code: 'E_FORMAT',
      message: expect.stringMatching(/unrecognised model file.*GGUF/),
    });
  });

  it('a missing path is E_NOT_FOUND', async () => {
    await expect(new WeightWatcher('/no/such/model').analyze()).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('format is detected from content, not the extension', async () => {
    const d = folder({});
    mkdirSync(join(d, 'x'));
    if (haveCorpus) {
      copyFileSync(corpus('synthetic/gaussian.safetensors'), join(d, 'x', 'weights.dat'));
      const store = await openModel(join(d, 'x', 'weights.dat'));
      expect(store.format).toBe('safetensors');
      await store.close();
    }
  });
});

describe('folder layouts: recognition by name and content, precedence, --format', () => {
  const st = () => safetensorsBytes([{ name: 'fc.weight', shape: [30, 20], data: dense(30, 20) }]);
  const npz = () => zipBytes([{ name: 'fc.weight.npy', data: npyF32([30, 20], dense(30, 20)) }]);
  function layout(files: Record<string, Uint8Array | string>): string {
    const d = mkdtempSync(join(tmpdir(), 'ww-layout-'));
    dirs.push(d);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(d, name), data);
    return d;
  }

  it('configs, tokenizers, docs, images, other .json and training state are not weight files', async () => {
    const d = layout({
      'weights.npz': npz(),
      'config.json': '{}',
      'tokenizer.json': '{}',
      'tokenizer_config.json': '{}',
      'generation_config.json': '{}',
      'notes.json': '[1, 2]',
      'README.md': '# m',
      'logo.png': new Uint8Array([0x89, 0x50]),
      'training_args.bin': new Uint8Array([0x80, 2]),
    });
    const { store, notes } = await openModelDetailed(d);
    expect([store.format, store.source, notes]).toEqual(['npz', join(d, 'weights.npz'), []]);
    await store.close();
  });

  it('several formats: safetensors > bin > onnx > gguf > tfjs > keras > npz > npy, with a note; format picks another', async () => {
    const d = layout({ 'model.safetensors': st(), 'weights.npz': npz(), 'model.json': '{"weightsManifest": []}' });
    const { store, notes } = await openModelDetailed(d);
    expect(store.format).toBe('safetensors');
    expect(notes).toEqual([
      `${d} also holds TF.js (model.json), npz (weights.npz); using safetensors (precedence safetensors > pytorch > onnx > gguf > tfjs > keras > npz > npy; --format NAME to choose)`,
    ]);
    await store.close();
    const forced = await openModelDetailed(d, { format: 'npz' });
    expect([forced.store.format, forced.notes]).toEqual(['npz', []]);
    await forced.store.close();
    await expect(openModelDetailed(d, { format: 'gguf' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringMatching(/no GGUF files in this folder \(it holds safetensors, TF\.js, npz\)/),
    });
    const rows = await new WeightWatcher(d).describe({ format: 'npz' });
    expect(rows.map((r) => r.name)).toEqual(['fc']);
  });

  it('a file whose name says nothing is recognised by its first bytes; symlinks count', async () => {
    // Hugging Face's cache: a snapshot folder of symlinks to blobs.
    const blobs = layout({ '8f2c9a': st() });
    const snapshot = layout({ 'config.json': '{}' });
    symlinkSync(join(blobs, '8f2c9a'), join(snapshot, 'model.safetensors'));
    const { store } = await openModelDetailed(snapshot);
    expect([store.format, store.source]).toEqual(['safetensors', join(snapshot, 'model.safetensors')]);
    await store.close();
    const only = layout({ blob: st(), 'config.json': '{}' });
    const o = await openModelDetailed(only);
    expect(o.store.source).toBe(join(only, 'blob'));
    await o.store.close();
  });

  it('several files of the chosen format without an index is an error listing them', async () => {
    const d = layout({ 'a.npz': npz(), 'b.npz': npz() });
    await expect(openModel(d)).rejects.toMatchObject({
      code: 'E_FORMAT',
      message: expect.stringMatching(/several npz files and no index to combine them: a\.npz, b\.npz; pass one file/),
    });
  });

  it('modelFiles lists what outputs must not overwrite', async () => {
    const d = layout({ 'model.safetensors': st(), 'model.safetensors.index.json': '{}', 'config.json': '{}' });
    expect((await modelFiles(d)).sort()).toEqual([join(d, 'model.safetensors'), join(d, 'model.safetensors.index.json')]);
    expect(await modelFiles(join(d, 'config.json'))).toEqual([join(d, 'config.json')]);
  });
});
