/** Folder layouts: Hugging Face model folders, PEFT adapters, and clear messages for empty folders. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, openModel } from '../../src/index.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';

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
    const d = folder({ 'config.json': '{}', 'model.safetensors': corpus('minigpt/big-data/model.safetensors'), 'pytorch_model.bin': corpus('minigpt/big-data/pytorch_model.bin') });
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
    await expect(openModel(d)).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/no model weights found.*supported: safetensors/) });
  });

  it('an unknown file is refused with the list of formats', async () => {
    const d = folder({ 'weights.xyz': 'hello world, not a model' });
    await expect(openModel(join(d, 'weights.xyz'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/unrecognised model file.*GGUF/) });
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
