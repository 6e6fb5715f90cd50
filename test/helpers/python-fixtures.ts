/**
 * Fixtures written by python3 + numpy (tests skip without them): a generator script writes files
 * and `expected.json` ({group: [{name, dtype, shape, file}]}, `file` holding the raw float32 values),
 * and stores are compared with it bit for bit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { TensorStore } from '../../src/formats/types.js';

export const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
})();

/**
 * A Python interpreter that can import `module`, or undefined. Debian's python3-h5py installs for
 * /usr/bin/python3, which need not be the `python3` first on PATH (pyenv and the like).
 */
export function pythonWith(module: string): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(python, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 60_000 });
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Run a Python script (source text) with arguments; its stdout. */
export function runPython(python: string, source: string, args: readonly string[] = []): string {
  return execFileSync(python, ['-c', source, ...args], { timeout: 120_000, encoding: 'utf8' });
}

export interface Expected {
  name: string;
  dtype: string;
  shape: number[];
  file: string;
}

/** Run `generator` (Python source) with a fresh fixtures folder; returns the folder and expected.json. */
export function generateFixtures(
  tmp: string,
  generator: string,
  scriptName: string,
): { dir: string; expected: Record<string, Expected[]> } {
  const dir = path.join(tmp, 'fixtures');
  mkdirSync(dir);
  const script = path.join(tmp, scriptName);
  writeFileSync(script, generator);
  execFileSync('python3', [script, dir], { timeout: 120_000 });
  return { dir, expected: JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Expected[]> };
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Names, shapes, dtypes and every float bit of the store equal the generator's expectations. */
export async function expectMatches(store: TensorStore, exp: Expected[]): Promise<void> {
  expect(store.list().map((e) => e.name)).toEqual(exp.map((e) => e.name));
  for (const [i, e] of store.list().entries()) {
    const x = exp[i]!;
    expect(e.shape, e.name).toEqual(x.shape);
    expect(e.dtype, e.name).toBe(x.dtype);
    const want = new Float32Array(new Uint8Array(readFileSync(x.file)).buffer);
    expect(Array.from(bits(await store.read(e.name))), e.name).toEqual(Array.from(bits(want)));
  }
}
