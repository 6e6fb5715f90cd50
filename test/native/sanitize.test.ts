/**
 * The pure C++ core under AddressSanitizer + UndefinedBehaviorSanitizer: random and hostile inputs
 * (NaN, Inf, empty, ties, huge ranges) must produce statuses, not memory errors or undefined behaviour.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../helpers/corpus.js';

const haveCompiler = (() => {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!haveCompiler)('native core under ASan/UBSan (g++ required)', () => {
  it('runs clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ww-asan-'));
    try {
      const out = execFileSync('bash', [join(projectRoot, 'scripts', 'sanitize.sh'), join(dir, 'sanitize')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
      expect(out).toContain('sanitize: ok');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
