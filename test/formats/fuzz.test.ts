/**
 * Untrusted files: byte-flipped and truncated copies of real model files in every binary format
 * either analyse or fail with a WeightWatcherError — never another exception, a crash or a hang.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, WeightWatcherError } from '../../src/index.js';
import { writeGguf } from '../helpers/gguf-writer.js';
import { Random } from '../../src/shared/random.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { dense } from '../helpers/formula.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function outcome(path: string): Promise<string> {
  try {
    await new WeightWatcher(path).analyze({ min_evals: 1 });
    return 'ok';
  } catch (e) {
    if (e instanceof WeightWatcherError) return e.code;
    throw new Error(`${basename(path)}: non-WeightWatcherError ${String(e)}`, { cause: e });
  }
}

function mutants(bytes: Uint8Array, rng: Random, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const b = Uint8Array.from(bytes);
    const flips = 1 + rng.int(8);
    for (let f = 0; f < flips; f++) {
      // Mostly hit the headers/metadata at the front, sometimes anywhere.
      const pos = rng.next() < 0.7 ? rng.int(Math.min(4096, b.length)) : rng.int(b.length);
      b[pos] = rng.int(256);
    }
    out.push(k % 5 === 4 ? b.subarray(0, rng.int(b.length)) : b);
  }
  return out;
}

describe.skipIf(!haveCorpus)('mutated model files fail cleanly', () => {
  const files = ['synthetic/convnet.safetensors', 'synthetic/convnet_state_dict.pt', 'synthetic/convnet.onnx'];
  for (const rel of files) {
    it(basename(rel), async () => {
      const rng = new Random(7);
      const codes = new Map<string, number>();
      for (const [i, m] of mutants(readFileSync(corpus(rel)), rng, 40).entries()) {
        const p = join(dir, `${i}-${basename(rel)}`);
        writeFileSync(p, m);
        const c = await outcome(p);
        codes.set(c, (codes.get(c) ?? 0) + 1);
        rmSync(p);
      }
      expect([...codes.keys()].every((c) => c === 'ok' || c.startsWith('E_'))).toBe(true);
    });
  }
});

describe('mutated GGUF files fail cleanly', () => {
  it('gguf', async () => {
    const src = join(dir, 'src.gguf');
    await writeGguf(src, [
      { name: 'blk.0.attn_q.weight', shape: [64, 64], type: 'Q8_0', data: dense(64, 64) },
      { name: 'blk.0.ffn_up.weight', shape: [128, 256], type: 'Q4_K', data: dense(128, 256, 0.2) },
    ]);
    const rng = new Random(11);
    for (const [i, m] of mutants(readFileSync(src), rng, 60).entries()) {
      const p = join(dir, `${i}.gguf`);
      writeFileSync(p, m);
      expect(await outcome(p)).toMatch(/^(ok|E_\w+)$/);
    }
  });
});
