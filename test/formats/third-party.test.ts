/**
 * Real models shipped inside npm packages (TF.js weight manifests of @vladmandic/face-api) load and
 * analyse without errors; every row's N, M and rf agree with the kernel shapes in the manifest.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightWatcher, openModel, type TensorStore } from '../../src/index.js';
import { projectRoot } from '../helpers/corpus.js';

const modelDir = join(projectRoot, 'node_modules', '@vladmandic', 'face-api', 'model');
const manifests = existsSync(modelDir) ? readdirSync(modelDir).filter((f) => f.endsWith('-weights_manifest.json')) : [];

interface ManifestWeight {
  name: string;
  shape: number[];
}

describe.skipIf(manifests.length === 0)('third-party TF.js models (@vladmandic/face-api)', () => {
  for (const file of manifests) {
    it(`${file} analyses, with N/M/rf from the manifest shapes`, async () => {
      const path = join(modelDir, file);
      const shapes = new Map<string, number[]>();
      for (const group of JSON.parse(readFileSync(path, 'utf8')) as { weights: ManifestWeight[] }[])
        for (const w of group.weights) shapes.set(w.name, w.shape);
      const store = (await openModel(path)) as TensorStore & { layers(): { name: string; kernel?: string }[] };
      const kernelOf = new Map(store.layers().map((l) => [l.name, l.kernel]));
      await store.close();
      const ww = new WeightWatcher(path);
      const rows = await ww.analyze();
      expect(ww.lastRun!.failures).toEqual([]);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        const kernel = kernelOf.get(String(r.name));
        expect(kernel, `kernel of ${String(r.name)}`).toBeDefined();
        const s = shapes.get(kernel!)!;
        expect(s, `manifest shape of ${kernel}`).toBeDefined();
        if (s.length === 2) {
          expect([r.N, r.M, r.rf]).toEqual([Math.max(...s), Math.min(...s), 1]);
        } else {
          // Keras layout [kh, kw, in, out]: rf = kh·kw, N/M from the channel dims (R13, the 'FIRST' layout).
          const [kh, kw, cin, cout] = s as [number, number, number, number];
          expect(r.rf).toBe(kh * kw);
          expect([r.N, r.M].sort((a, b) => Number(a) - Number(b))).toEqual([Math.min(cin, cout), Math.max(cin, cout)]);
          expect(r.num_evals).toBe(Math.min(cin, cout) * kh * kw);
        }
        // A fit can only fail when nothing is above the 1e-5 threshold (one tiny-model layer is all zeros).
        if (r.status !== 'success') expect(r.lambda_max).toBeLessThanOrEqual(1e-5);
        else expect(Number.isFinite(r.alpha)).toBe(true);
      }
    });
  }
});
