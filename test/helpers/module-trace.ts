/**
 * Run an ES module script in a fresh node process with the module-trace hook
 * (module-trace-register.mjs): returns its stdout and the ESM URLs it resolved. CommonJS loads are
 * not traced by the hook; scripts print require.cache themselves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from './corpus.js';

export function runTraced(script: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { stdout: string; esm: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ww-trace-'));
  try {
    const trace = join(dir, 'trace.txt');
    const register = pathToFileURL(join(projectRoot, 'test', 'helpers', 'module-trace-register.mjs')).href;
    const r = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], {
      cwd: options.cwd ?? projectRoot,
      env: { ...process.env, ...options.env, WW_MODULE_TRACE: trace },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`traced script exited with ${r.status}: ${r.stderr}`);
    const esm = existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter(Boolean) : [];
    return { stdout: r.stdout, esm };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
