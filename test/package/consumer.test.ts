/**
 * The package as another project gets it: `npm pack` of the built package (dist/ and dist-cjs/),
 * installed into empty consumer folders that have no dev dependencies:
 * - "full": a plain `npm install <tarball>` (optional dependencies included). Type-checked with
 *   tsc under module nodenext, node16, commonjs (moduleResolution node10) and esnext/bundler, with
 *   skipLibCheck false and @types/node; run with import (ES modules) and require (CommonJS): each
 *   analyses a safetensors file with the native addon, renders a figure in a worker thread and
 *   sweeps into a SQLite results database, and both builds give the same numbers.
 * - "light": `npm install <tarball> --omit=optional`. A root-only program type-checks without the
 *   optional packages' types; analysis works from both builds, and
 *   plots and the results database fail with E_MISSING_DEPENDENCY naming the package and the
 *   command that installs it.
 *
 * The installs use the npm cache (--prefer-offline) and --ignore-scripts, then copy this
 * checkout's compiled addons (build/Release, better-sqlite3's binary) into the consumer: compiling
 * them again would take minutes, and the install script itself is measured separately (the
 * install figures of issue 18). The consumer's TypeScript is this checkout's typescript package
 * (a compiler resolves types from the program's folder, not its own), @types/node is linked in:
 * the declarations use Node's types (Buffer, AbortSignal, fetch), as a Node library's do.
 * Skipped with a message when dist/ or dist-cjs/ is not built or npm cannot install.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../helpers/corpus.js';
import { writeCheckpointModel } from '../helpers/checkpoints.js';

const run = promisify(execFile);
const built =
  existsSync(join(projectRoot, 'dist', 'shared', 'optional-import.js')) && existsSync(join(projectRoot, 'dist-cjs', 'index.js'));
if (!built) console.warn('dist/ and dist-cjs/ not built (npm run build:ts): skipping the consumer project tests');

const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'ww-consumer-'));
const full = join(work, 'full');
const light = join(work, 'light');
let installError: string | undefined;
let setupFailure: string | undefined;

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function npm(args: string[], cwd: string): Promise<string> {
  const r = await run('npm', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 400_000 });
  return r.stdout;
}

/** A consumer folder with only weightwatcher installed from the tarball (and @types/node linked when asked). */
async function install(dir: string, tarball: string, extra: string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await npm(['install', tarball, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...extra], dir);
  // The compiled addon (no install script ran; a prebuild may be in the tarball, the checkout's build is used first).
  const release = join(projectRoot, 'build', 'Release');
  const target = join(dir, 'node_modules', 'weightwatcher', 'build', 'Release');
  mkdirSync(target, { recursive: true });
  for (const f of readdirSync(release)) if (f.endsWith('.node')) copyFileSync(join(release, f), join(target, f));
  const sqlite = join(dir, 'node_modules', 'better-sqlite3');
  if (existsSync(sqlite)) cpSync(join(projectRoot, 'node_modules', 'better-sqlite3', 'build'), join(sqlite, 'build'), { recursive: true });
}

beforeAll(async () => {
  if (!built) return;
  try {
    // --ignore-scripts: no prepack rebuild of dist/ (other test files use it meanwhile).
    const packed = JSON.parse(await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], projectRoot)) as {
      filename: string;
    }[];
    const tarball = join(work, packed[0]!.filename);
    await Promise.all([install(full, tarball, []), install(light, tarball, ['--omit=optional'])]);
    for (const dir of [full, light]) {
      mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
      symlinkSync(join(projectRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
    }
    writeCheckpointModel(join(full, 'model.safetensors'), 1);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // Only a registry out of reach skips (the install needs package metadata the cache may lack);
    // any other failure of pack or install is the package's and fails the tests.
    if (!/ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH/.test(message)) {
      setupFailure = message;
      return;
    }
    installError = message;
    console.warn(`npm could not reach the registry (${message.slice(0, 300)}): skipping the consumer project tests`);
  }
}, 600_000);

/** The typed program of the full consumer, once as ES module syntax. */
const PROGRAM = `import { WeightWatcher, WeightWatcherError, svdvals, type AnalyzeOptions, type DetailsRow } from 'weightwatcher';
import { createPlotRenderer, layerFigureSpecs, type PlotRenderer, type RenderedFigure } from 'weightwatcher/plots';
import { sweep, openResults, type SweepResult } from 'weightwatcher/sweep';

// The camelCase aliases the docs promise are typed.
const camel: AnalyzeOptions = { minEvals: 10, maxEvals: 5000 };

export async function main(model: string, db: string): Promise<string> {
  const ww = new WeightWatcher(model);
  const rows: DetailsRow[] = await ww.analyze({ ...camel, keep_evals: true });
  const sv: Float64Array = await svdvals(new Float64Array([3, 0, 0, 4]), 2, 2);
  const renderer: PlotRenderer = createPlotRenderer({ workers: 1 });
  let figure: RenderedFigure;
  try {
    figure = await renderer.render(layerFigureSpecs(ww.getLayerResults()[0]!).esd!, { png: true });
  } finally {
    await renderer.close();
  }
  const s: SweepResult = await sweep([model], { db });
  const stored = await openResults(db);
  stored.close();
  const err: unknown = new Error('x');
  return JSON.stringify({
    alpha: rows.map((r) => r.alpha),
    sv: Array.from(sv),
    svg: figure.svg?.slice(0, 4),
    png: (figure.png?.length ?? 0) > 0,
    analysed: s.analysed,
    wwError: err instanceof WeightWatcherError,
  });
}
`;

/** The same program with require (TypeScript's CommonJS import form). */
const PROGRAM_CJS = PROGRAM.replace(/^import \{ (.*) \} from '(weightwatcher[^']*)';$/gm, (_, names: string, spec: string) => {
  const ns = spec === 'weightwatcher' ? 'ww' : spec.endsWith('plots') ? 'plots' : 'sweepApi';
  const values = names
    .split(', ')
    .filter((n) => !n.startsWith('type '))
    .map((n) => `const ${n} = ${ns}.${n};`)
    .join('\n');
  const types = names
    .split(', ')
    .filter((n) => n.startsWith('type '))
    .map((n) => `type ${n.slice(5)} = ${ns}.${n.slice(5)};`)
    .join('\n');
  return `import ${ns} = require('${spec}');\n${values}\n${types}`;
});

const SETTINGS = [
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', files: { 'esm.mts': PROGRAM, 'cjs.cts': PROGRAM_CJS } },
  { name: 'node16', module: 'node16', moduleResolution: 'node16', files: { 'esm.mts': PROGRAM, 'cjs.cts': PROGRAM_CJS } },
  { name: 'commonjs/node10', module: 'commonjs', moduleResolution: 'node10', files: { 'index.ts': PROGRAM, 'require.ts': PROGRAM_CJS } },
  { name: 'esnext/bundler', module: 'esnext', moduleResolution: 'bundler', files: { 'index.ts': PROGRAM } },
] as const;

/** Type-check `files` in a folder of `consumer` under one module setting; returns tsc's output ('' = no errors). */
async function typecheck(consumer: string, name: string, options: Record<string, unknown>, files: Record<string, string>): Promise<string> {
  const dir = join(consumer, `check-${name.replace(/\W/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const compilerOptions = { target: 'es2022', lib: ['es2023'], strict: true, skipLibCheck: false, noEmit: true, ...options };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts', '*.mts', '*.cts'] }));
  try {
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    return '';
  } catch (e) {
    return (e as { stdout?: string }).stdout || String(e);
  }
}

describe.skipIf(!built)('a consumer project installed from npm pack', () => {
  it('type-checks under nodenext, node16, commonjs/node10 and esnext/bundler with skipLibCheck false', async (ctx) => {
    if (installError) ctx.skip();
    if (setupFailure) throw new Error(`npm pack or install failed: ${setupFailure}`);
    const results = await Promise.all(
      SETTINGS.map(async (s) => [
        s.name,
        await typecheck(full, s.name, { module: s.module, moduleResolution: s.moduleResolution, types: ['node'] }, s.files),
      ]),
    );
    for (const [name, out] of results) expect(out, `${name}:\n${out}`).toBe('');
  });

  it('runs with import and with require: analysis, a figure rendered in a worker thread, a sweep into SQLite; same numbers', async (ctx) => {
    if (installError) ctx.skip();
    if (setupFailure) throw new Error(`npm pack or install failed: ${setupFailure}`);
    const model = join(full, 'model.safetensors');
    // The typed programs, compiled by tsc (nodenext): esm.mts → esm.mjs, cjs.cts → cjs.cjs.
    const emitted = await typecheck(
      full,
      'emit',
      { module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], noEmit: false, outDir: 'out' },
      {
        'esm.mts': PROGRAM,
        'cjs.cts': PROGRAM_CJS,
      },
    );
    expect(emitted).toBe('');
    const out = join(full, 'check-emit', 'out');
    writeFileSync(
      join(out, 'run.mjs'),
      `import { main } from './esm.mjs';\nprocess.stdout.write(await main(process.argv[2], process.argv[3]));`,
    );
    writeFileSync(
      join(out, 'run.cjs'),
      `require('./cjs.cjs').main(process.argv[2], process.argv[3]).then((s) => process.stdout.write(s));`,
    );
    expect(readFileSync(join(out, 'cjs.cjs'), 'utf8')).toContain('require("weightwatcher")');
    type Out = { alpha: number[]; sv: number[] };
    const a = JSON.parse(
      (await run(process.execPath, [join(out, 'run.mjs'), model, join(full, 'esm.sqlite')], { cwd: full, encoding: 'utf8' })).stdout,
    ) as Out;
    const b = JSON.parse(
      (await run(process.execPath, [join(out, 'run.cjs'), model, join(full, 'cjs.sqlite')], { cwd: full, encoding: 'utf8' })).stdout,
    ) as Out;
    expect(a).toMatchObject({ svg: '<svg', png: true, analysed: 1, wwError: false });
    expect(a.alpha.length).toBeGreaterThan(0);
    expect([...a.sv].sort((x, y) => x - y)).toEqual([3, 4]);
    expect(b).toEqual(a);
  });

  it('--omit=optional: no optional package installed; the root type-checks without their types', async (ctx) => {
    if (installError) ctx.skip();
    if (setupFailure) throw new Error(`npm pack or install failed: ${setupFailure}`);
    for (const pkg of ['vega', 'vega-lite', '@resvg/resvg-js', 'better-sqlite3', 'bullmq', 'ioredis', 'h5wasm'])
      expect(existsSync(join(light, 'node_modules', pkg)), pkg).toBe(false);
    expect(existsSync(join(full, 'node_modules', 'vega'))).toBe(true);
    const root = `import { WeightWatcher, renderLayerPlots, sweep, openResults, openKeras, type AnalyzeOptions } from 'weightwatcher';
const o: AnalyzeOptions = { minEvals: 10 };
export const uses = [WeightWatcher, renderLayerPlots, sweep, openResults, openKeras, o];
`;
    for (const [name, options] of [
      ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] }],
      ['node10', { module: 'commonjs', moduleResolution: 'node10', types: ['node'] }],
    ] as const) {
      const out = await typecheck(light, name, options, { 'index.ts': root });
      expect(out, `${name}:\n${out}`).toBe('');
    }
  });

  it('--omit=optional: analysis works with import and require; plots and the results database say what to install', async (ctx) => {
    if (installError) ctx.skip();
    if (setupFailure) throw new Error(`npm pack or install failed: ${setupFailure}`);
    const body = `
const out = {};
const data = new Float32Array(80 * 40).map((_, i) => Math.sin(i * 12.9898) * 0.1);
const w = new ww.WeightWatcher([{ name: 'fc.weight', shape: [80, 40], data }]);
out.alpha = (await w.analyze({ keep_evals: true }))[0].alpha;
for (const [k, f] of [['plots', () => ww.renderLayerPlots(w.getLayerResults()[0])], ['sweep', () => ww.sweep(['x.safetensors'], { db: 'r.sqlite' })]]) {
  try { await f(); out[k] = 'ok'; } catch (e) { out[k] = e.code + ': ' + e.message; }
}
process.stdout.write(JSON.stringify(out));`;
    writeCheckpointModel(join(light, 'x.safetensors'), 1);
    const esm = await run(process.execPath, ['--input-type=module', '-e', `import * as ww from 'weightwatcher';${body}`], {
      cwd: light,
      encoding: 'utf8',
    });
    const cjs = await run(
      process.execPath,
      ['--input-type=commonjs', '-e', `const ww = require('weightwatcher');(async () => {${body}})();`],
      {
        cwd: light,
        encoding: 'utf8',
      },
    );
    for (const out of [JSON.parse(esm.stdout), JSON.parse(cjs.stdout)] as Record<string, unknown>[]) {
      expect(out.alpha).toBeGreaterThan(0);
      expect(out.plots).toMatch(
        /^E_MISSING_DEPENDENCY: .*optional package vega is not installed;.*npm install vega@\^6\.4\.0 vega-lite@\^6\.4\.3 @resvg\/resvg-js@\^2\.6\.2/,
      );
      expect(out.sweep).toMatch(
        /^E_MISSING_DEPENDENCY: .*optional package better-sqlite3 is not installed;.*npm install better-sqlite3@\^12\.11\.1/,
      );
    }
  });
});
