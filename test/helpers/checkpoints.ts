/**
 * Generated "training runs" for sweep tests: safetensors checkpoints whose layers are seeded
 * Gaussian noise plus a low-rank heavy-tailed signal that grows with the step (so alpha moves
 * over the checkpoints, as in training).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../../src/shared/random.js';
import { writeSafetensors } from './safetensors-writer.js';

function gaussian(r: Random): number {
  const u = Math.max(r.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

/** One layer: N(0,1)/√m noise plus `strength` × a rank-8 signal with power-law singular values. */
export function layerMatrix(n: number, m: number, seed: number, strength: number): Float32Array {
  const r = new Random(seed);
  const out = new Float32Array(n * m);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(r) / Math.sqrt(m);
  const rank = 8;
  for (let k = 0; k < rank; k++) {
    const s = strength / (k + 1) ** 0.8;
    const u = Array.from({ length: n }, () => gaussian(r) / Math.sqrt(n));
    const v = Array.from({ length: m }, () => gaussian(r) / Math.sqrt(m));
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j]! += s * u[i]! * v[j]!;
  }
  return out;
}

export const DEFAULT_SHAPES: readonly [number, number][] = [
  [96, 64],
  [64, 64],
  [128, 48],
  [80, 40],
];

/** A checkpoint model file: layers `layer<i>.weight` with the given shapes. */
export function writeCheckpointModel(file: string, step: number, shapes: readonly [number, number][] = DEFAULT_SHAPES, seed = 1): string {
  return writeSafetensors(
    file,
    shapes.map(([n, m], i) => ({ name: `layer${i}.weight`, shape: [n, m], data: layerMatrix(n, m, seed * 1000 + i, 1 + step / 25) })),
  );
}

/** A trainer-style output folder: `<dir>/checkpoint-<step>/model.safetensors` for each step. */
export function writeTrainingRun(dir: string, steps: readonly number[], shapes?: readonly [number, number][]): string[] {
  return steps.map((s) => {
    const d = join(dir, `checkpoint-${s}`);
    mkdirSync(d, { recursive: true });
    writeCheckpointModel(join(d, 'model.safetensors'), s, shapes, 7);
    return d;
  });
}
