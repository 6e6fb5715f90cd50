/**
 * The optional dependencies (package.json optionalDependencies; `npm install --omit=optional` leaves
 * them out): OPTIONAL_PACKAGES lists exactly them, and each feature, with its package missing, fails
 * with E_MISSING_DEPENDENCY naming the package and the command that installs it — from the ES
 * module build and the CommonJS build. "Missing" is simulated in a child process by
 * test/helpers/missing-packages-register.mjs (an ESM resolve hook and a CommonJS resolve patch);
 * test/package/consumer.test.ts does it for real, on an install with --omit=optional.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/corpus.js';
import { writeCheckpointModel } from '../helpers/checkpoints.js';
import { OPTIONAL_PACKAGES, installCommand, missingOptionalPackage } from '../../src/shared/optional-import.js';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
};

describe('OPTIONAL_PACKAGES', () => {
  it('lists exactly the optionalDependencies of package.json, each in one feature, at the same range', () => {
    const listed = Object.values(OPTIONAL_PACKAGES).flatMap((f) => Object.entries(f.packages));
    expect(Object.fromEntries(listed)).toEqual(pkg.optionalDependencies);
    expect(new Set(listed.map(([name]) => name)).size).toBe(listed.length);
    // Nothing the analysis path needs is optional.
    for (const name of ['node-gyp-build', 'node-addon-api']) expect(pkg.dependencies).toHaveProperty(name);
  });

  it('classifies module-not-found errors by package', () => {
    const esm = Object.assign(new Error("Cannot find package 'vega-lite' imported from /x/render.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const cjs = Object.assign(new Error("Cannot find module 'better-sqlite3'\nRequire stack:\n- /x/db.js"), { code: 'MODULE_NOT_FOUND' });
    const binary = Object.assign(new Error("Cannot find module '@resvg/resvg-js-linux-x64-gnu'"), { code: 'MODULE_NOT_FOUND' });
    const other = Object.assign(new Error("Cannot find module 'left-pad'"), { code: 'MODULE_NOT_FOUND' });
    expect(missingOptionalPackage(esm)).toEqual({ feature: 'plots', pkg: 'vega-lite' });
    expect(missingOptionalPackage(cjs)).toEqual({ feature: 'database', pkg: 'better-sqlite3' });
    expect(missingOptionalPackage(binary)).toEqual({ feature: 'plots', pkg: '@resvg/resvg-js' });
    expect(missingOptionalPackage(other)).toBeUndefined();
    expect(missingOptionalPackage(new Error("Cannot find module 'vega'"))).toBeUndefined(); // no code: not a resolution failure
    expect(installCommand('queue')).toBe('npm install bullmq@^6.7.0 ioredis@^5.11.1');
  });
});

const ALL_OPTIONAL = Object.values(OPTIONAL_PACKAGES).flatMap((f) => Object.keys(f.packages));
const esmEntry = join(projectRoot, 'dist', 'index.js');
const cjsEntry = join(projectRoot, 'dist-cjs', 'index.js');
// A dist/ built before this module existed cannot show its messages.
const built = existsSync(join(projectRoot, 'dist', 'shared', 'optional-import.js')) && existsSync(cjsEntry);
if (!built)
  console.warn('dist/ and dist-cjs/ not built with shared/optional-import.js (npm run build:ts): skipping the missing-package runs');

/** Each feature's first use, with every optional package missing; prints [label, code, message] per case. */
function cases(load: string, dir: string, model: string): string {
  const h5 = join(dir, 'model.h5');
  return `${load}
const out = [];
async function attempt(label, fn) {
  try { await fn(); out.push([label, 'ok', '']); } catch (e) { out.push([label, e.code, e.message]); }
}
const ww = new root.WeightWatcher(${JSON.stringify(model)});
await attempt('analyze', async () => { await ww.analyze({ keep_evals: true }); });
await attempt('renderLayerPlots', () => root.renderLayerPlots(ww.getLayerResults()[0]));
await attempt('createPlotRenderer', () => plots.createPlotRenderer({ workers: 1 }).close());
await attempt('renderSvg', () => plots.renderSvg(plots.layerFigureSpecs(ww.getLayerResults()[0]).esd));
await attempt('svgToPng', () => plots.svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'));
await attempt('sweep', () => root.sweep([${JSON.stringify(model)}], { db: ${JSON.stringify(join(dir, 'r.sqlite'))} }));
await attempt('openResults', () => root.openResults(${JSON.stringify(join(dir, 'existing.sqlite'))}));
await attempt('startWorker', () => sweepApi.startWorker({ queue: 'redis://127.0.0.1:1' }));
await attempt('openKeras', () => root.openKeras(${JSON.stringify(h5)}));
process.stdout.write(JSON.stringify(out));`;
}

function run(build: 'esm' | 'cjs'): Map<string, [string, string]> {
  const dir = mkdtempSync(join(tmpdir(), 'ww-missing-'));
  try {
    const model = writeCheckpointModel(join(dir, 'm.safetensors'), 1);
    writeFileSync(join(dir, 'existing.sqlite'), '');
    // An HDF5 signature is enough to reach the HDF5 reader.
    writeFileSync(join(dir, 'model.h5'), Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), Buffer.alloc(2040)]));
    const load =
      build === 'esm'
        ? `const root = await import(${JSON.stringify(pathToFileURL(esmEntry).href)});
const plots = await import(${JSON.stringify(pathToFileURL(join(projectRoot, 'dist', 'plots.js')).href)});
const sweepApi = await import(${JSON.stringify(pathToFileURL(join(projectRoot, 'dist', 'sweep', 'index.js')).href)});`
        : `const { createRequire } = await import('node:module');
const require = createRequire(${JSON.stringify(pathToFileURL(join(dir, 'x.cjs')).href)});
const root = require(${JSON.stringify(cjsEntry)});
const plots = require(${JSON.stringify(join(projectRoot, 'dist-cjs', 'plots.js'))});
const sweepApi = require(${JSON.stringify(join(projectRoot, 'dist-cjs', 'sweep', 'index.js'))});`;
    const register = pathToFileURL(join(projectRoot, 'test', 'helpers', 'missing-packages-register.mjs')).href;
    const r = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', cases(load, dir, model)], {
      cwd: dir,
      env: { ...process.env, WW_MISSING_PACKAGES: ALL_OPTIONAL.join(',') },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`child exited with ${r.status}: ${r.stderr}`);
    return new Map((JSON.parse(r.stdout) as [string, string, string][]).map(([label, code, message]) => [label, [code, message]]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EXPECTED: [string, string, string][] = [
  ['renderLayerPlots', 'vega', 'npm install vega@^6.4.0 vega-lite@^6.4.3 @resvg/resvg-js@^2.6.2'],
  ['createPlotRenderer', 'vega', 'npm install vega@^6.4.0 vega-lite@^6.4.3 @resvg/resvg-js@^2.6.2'],
  ['renderSvg', 'vega', 'npm install vega@^6.4.0'],
  ['svgToPng', '@resvg/resvg-js', 'npm install vega@^6.4.0 vega-lite@^6.4.3 @resvg/resvg-js@^2.6.2'],
  ['sweep', 'better-sqlite3', 'npm install better-sqlite3@^12.11.1'],
  ['openResults', 'better-sqlite3', 'npm install better-sqlite3@^12.11.1'],
  ['startWorker', 'bullmq', 'npm install bullmq@^6.7.0 ioredis@^5.11.1'],
  ['openKeras', 'h5wasm', 'npm install h5wasm@^0.10.3'],
];

describe.skipIf(!built)('a feature whose optional package is missing', () => {
  for (const build of ['esm', 'cjs'] as const)
    it(`says which package and how to install it (${build} build); the analysis works without them`, () => {
      const got = run(build);
      expect(got.get('analyze')).toEqual(['ok', '']);
      for (const [label, missing, command] of EXPECTED) {
        const [code, message] = got.get(label)!;
        expect(code, `${label}: ${message}`).toBe('E_MISSING_DEPENDENCY');
        expect(message, label).toContain(`optional package ${missing} is not installed;`);
        expect(message, label).toContain(command);
      }
    });
});
