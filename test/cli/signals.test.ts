/**
 * The built CLI interrupted by SIGINT / SIGTERM in the middle of an analysis: it says how far it got
 * ("interrupted after k of n layers", from the scheduler's tally) and exits 130 / 143, leaving no
 * output file behind. Needs dist/ (npm run build).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtCliSkipReason, haveBuiltCli, startCli } from '../helpers/cli-process.js';
import { safetensorsBytes } from '../helpers/safetensors-writer.js';
import { Random } from '../../src/shared/random.js';

if (!haveBuiltCli) console.warn(builtCliSkipReason);

const LAYERS = 30;
const N = 1024;
let dir = '';
let model = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-signals-'));
  model = join(dir, 'model.safetensors');
  // 30 layers of 1024² half floats (60 MB): ?gesdd on one thread takes seconds for the whole model
  const rng = new Random(3);
  const tensors = Array.from({ length: LAYERS }, (_, l) => {
    const h = new Uint16Array(N * N);
    for (let i = 0; i < h.length; i++) h[i] = (rng.int(2) << 15) | ((10 + rng.int(6)) << 10) | rng.int(1024);
    return { name: `layer${l}.weight`, shape: [N, N], dtype: 'F16', bytes: new Uint8Array(h.buffer) };
  });
  writeFileSync(model, safetensorsBytes(tensors));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveBuiltCli)('CLI signals', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} during analyze prints "interrupted after k of n layers" and exits ${code}`, async () => {
      const out = join(dir, `rows-${signal}.csv`);
      const cli = startCli(signal, ['analyze', model, '--svd-method', 'accurate', '--threads', '1', '--csv', out]);
      // give it time to start and finish a layer or two of the 30
      await new Promise((r) => setTimeout(r, 3000));
      cli.kill(signal);
      const { code: exit } = await cli.exited;
      const m = /interrupted after (\d+) of (\d+) layers/.exec(cli.output());
      expect(m, cli.output()).not.toBeNull();
      expect(Number(m![2])).toBe(LAYERS);
      expect(Number(m![1])).toBeLessThan(LAYERS);
      expect(exit).toBe(code);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.startsWith('rows-'))).toEqual([]);
    }, 60_000);
  }
});
