/**
 * A llama.cpp-style GGUF with quantized tensors analyses end to end: readable long names, quantized
 * layers analysed, and a tensor of an unsupported type fails that layer only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { writeGguf } from '../helpers/gguf-writer.js';
import { dense } from '../helpers/formula.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF end to end', () => {
  it('analyses Q8_0 / Q4_K / F16 layers and reports an unsupported type per layer', async () => {
    const path = join(dir, 'tiny-llama.gguf');
    await writeGguf(
      path,
      [
        { name: 'token_embd.weight', shape: [64, 256], type: 'F16', data: dense(64, 256, 0.03) },
        { name: 'blk.0.attn_q.weight', shape: [256, 256], type: 'Q8_0', data: dense(256, 256, 0.07) },
        { name: 'blk.0.ffn_up.weight', shape: [512, 256], type: 'Q4_K', data: dense(512, 256, 0.05) },
        { name: 'blk.0.attn_norm.weight', shape: [256], type: 'F32', data: new Float32Array(256).fill(1) },
        // IQ2_XXS blocks are 66 bytes per 256 values: valid layout, no decoder.
        { name: 'blk.0.ffn_down.weight', shape: [256, 512], type: 'IQ2_XXS', raw: new Uint8Array(((256 * 512) / 256) * 66) },
      ],
      { 'general.architecture': 'llama' },
    );
    const ww = new WeightWatcher(path);
    const rows = await ww.analyze();
    expect(rows.map((r) => [r.layer_id, r.name, r.longname])).toEqual([
      [0, 'token_embd', 'embed_tokens'],
      [1, 'blk.0.attn_q', 'layers.0.self_attn.q_proj'],
      [2, 'blk.0.ffn_up', 'layers.0.mlp.up_proj'],
    ]);
    for (const r of rows) expect(r.status).toBe('success');
    expect(ww.lastRun!.failures).toEqual([
      expect.objectContaining({ layer_id: 4, code: 'E_UNSUPPORTED', message: expect.stringMatching(/IQ2_XXS/) }),
    ]);
  });
});
