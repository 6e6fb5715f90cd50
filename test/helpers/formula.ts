/** The formula-defined state dict of G2 (float64 arithmetic, cast to float32). */
import type { InMemoryTensor } from '../../src/index.js';

export function dense(n: number, m: number, a = 0.1, b = 0.05, c = 0.3): Float32Array {
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = Math.sin(a * (i + 1) * (j + 1)) + Math.cos(b * i - c * j);
  return out;
}

export function conv(o: number, inp: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(o * inp * kh * kw);
  for (let p = 0; p < kh; p++) {
    for (let q = 0; q < kw; q++) {
      const d = dense(o, inp, 0.1 + 0.01 * p, 0.05 + 0.02 * q, 0.3);
      for (let i = 0; i < o; i++) for (let j = 0; j < inp; j++) out[((i * inp + j) * kh + p) * kw + q] = d[i * inp + j]!;
    }
  }
  return out;
}

export function formulaDict(): InMemoryTensor[] {
  return [
    { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
    { name: 'fc1.bias', shape: [100], data: new Float32Array(100).fill(1) },
    { name: 'norm.weight', shape: [60], data: new Float32Array(60).fill(1) },
    { name: 'conv.weight', shape: [16, 8, 3, 3], data: conv(16, 8, 3, 3) },
  ];
}
