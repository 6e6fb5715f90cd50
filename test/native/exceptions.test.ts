/**
 * The native addon never aborts: an allocation failure anywhere in a native call — the copy of an
 * argument, the core computation, the conversion of its result, sync or async — surfaces as a
 * WeightWatcherError E_NOMEM. Provoked through the test hook (WW_NATIVE_TEST_HOOKS=1), in a child
 * process, so an abort would show as a signal instead of taking the test runner down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../helpers/corpus.js';

const dist = join(projectRoot, 'dist');
const built = existsSync(join(dist, 'native', 'binding.js'));

function run(script: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script.replaceAll('DIST/', `${dist}/`)], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, signal: r.signal, out: r.stdout.trim(), err: r.stderr.trim() };
}

const PROBE = `
import { svdvalsSync, svdvals, fitPowerLawSync, fitPowerLaw } from 'DIST/index.js';
import { simulateNativeAllocFailure, gramEigenSync, fitPowerLawPackageSync, symmetricEigenSync } from 'DIST/native/binding.js';
const m = () => new Float64Array([1, 2, 3, 4, 5, 6]);
const ev = () => new Float64Array([0.1, 0.4, 1, 2, 3, 5, 8, 13, 21, 34]);
const calls = {
  svdvalsSync: () => svdvalsSync(m(), 2, 3),
  gramEigenSync: () => gramEigenSync(m(), 2, 3),
  symmetricEigenSync: () => symmetricEigenSync(new Float64Array([2, 1, 1, 2]), 2),
  fitPowerLawSync: () => fitPowerLawSync(ev()),
  fitPowerLawPackageSync: () => fitPowerLawPackageSync(ev()),
  svdvals: () => svdvals(m(), 2, 3),
  fitPowerLaw: () => fitPowerLaw(ev()),
};
const out = [];
for (const [name, call] of Object.entries(calls)) {
  for (const site of ['arguments', 'compute', 'result']) {
    if (site === 'arguments' && !/fitPowerLaw/.test(name)) continue; // the calls that copy an argument
    simulateNativeAllocFailure(site);
    try { await call(); out.push(name + '/' + site + ':none'); } catch (e) { out.push(name + '/' + site + ':' + e.name + ':' + e.code); }
    simulateNativeAllocFailure('none');
  }
}
// The addon still works afterwards.
out.push('after:' + svdvalsSync(m(), 2, 3).length);
console.log(out.join('\\n'));
`;

describe.skipIf(!built)('native exceptions', () => {
  it('bad_alloc in argument copies, computations and result conversions is E_NOMEM, sync and async; the process lives on', () => {
    const r = run(PROBE, { WW_NATIVE_TEST_HOOKS: '1' });
    expect(r.signal, r.err).toBeNull();
    expect(r.status, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.pop()).toBe('after:2');
    expect(lines.length).toBeGreaterThanOrEqual(16);
    for (const l of lines) expect(l).toMatch(/:WeightWatcherError:E_NOMEM$/);
  });

  it('without WW_NATIVE_TEST_HOOKS the hook does not exist', () => {
    const r = run(`import { simulateNativeAllocFailure } from 'DIST/native/binding.js';
try { simulateNativeAllocFailure('compute'); console.log('present'); } catch (e) { console.log(e.code); }`);
    expect(r.out).toBe('E_USAGE');
  });
});
