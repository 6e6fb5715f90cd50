/**
 * One list of error codes: every code the native addon can raise (codeName() in
 * native/core/status.h and the literal codes thrown by the N-API layer) is in ERROR_CODES, and
 * native errors keep their code when rewrapped as WeightWatcherError.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode } from '../../src/shared/errors.js';
import { svdvalsSync } from '../../src/native/binding.js';

const nativeDir = join(import.meta.dirname, '..', '..', 'native');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : /\.(h|cc|cpp)$/.test(d.name) ? [join(dir, d.name)] : [],
  );
}

describe('error codes', () => {
  it("every code of native/core/status.h's codeName() is in ERROR_CODES", () => {
    const status = readFileSync(join(nativeDir, 'core', 'status.h'), 'utf8');
    const body = /codeName\(Code c\)\s*\{([\s\S]*?)\n\}/.exec(status)?.[1];
    expect(body, 'codeName() not found in status.h').toBeDefined();
    const names = [...body!.matchAll(/return "([A-Z_]+)"/g)].map((m) => m[1]!).filter((n) => n !== 'OK');
    const enumCodes = /enum class Code \{([^}]*)\}/
      .exec(status)![1]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== 'Ok');
    // One case per enum value (plus the fallback after the switch).
    for (const c of enumCodes) expect(body, `Code::${c} has no case`).toContain(`case Code::${c}:`);
    expect(names.length).toBeGreaterThanOrEqual(enumCodes.length);
    for (const n of names) expect(ERROR_CODES, n).toContain(n);
    expect(names).toContain('E_NOMEM');
    expect(names).toContain('E_INTERNAL');
  });

  it('every literal error code in the native sources is in ERROR_CODES', () => {
    const literals = new Set(sources(nativeDir).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/"(E_[A-Z_]+)"/g)].map((m) => m[1]!)));
    expect(literals.size).toBeGreaterThan(5);
    for (const c of literals) expect(isErrorCode(c), c).toBe(true);
  });

  it('a native error keeps its code as a WeightWatcherError', () => {
    expect(() => svdvalsSync(new Float64Array([1, NaN, 3, 4]), 2, 2)).toThrowError(
      expect.objectContaining({ name: 'WeightWatcherError', code: 'E_NONFINITE' }),
    );
  });
});
