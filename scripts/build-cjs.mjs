#!/usr/bin/env node
/**
 * The CommonJS build, for `require('weightwatcher')` (and /plots, /sweep) on every Node the
 * package supports: Node 20 before 20.19 has no require() of ES modules, and none can require an
 * ES module graph with top-level await (vega has one).
 *
 * Runs after `tsc -p tsconfig.build.json` (which writes the ES module build and the declarations
 * to dist/) and writes dist-cjs/:
 * - each module of src/ except the CLI (src/cli: an ES module program, run through `bin`) compiled
 *   alone to CommonJS by esbuild (a transpiler only: tsc has type-checked the same sources).
 *   dist-cjs/ sits at the same depth as dist/, so the paths modules compute from their own
 *   location (the package root for the addon, ../../package.json, the render worker next to the
 *   pool) are the same in both builds. `import.meta.url` becomes the module's file URL; dynamic
 *   import() stays import(), which is how the CommonJS build loads ES-module-only packages (vega,
 *   vega-lite, h5wasm) and how it loads its own lazily loaded modules;
 * - dist-cjs/package.json {"type": "commonjs"}, so Node and TypeScript read dist-cjs/ as CommonJS;
 * - the declarations of dist/ copied beside them, which TypeScript then reads as CommonJS
 *   declarations for `require` consumers (package.json "exports" → "require" → "types").
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
// --esm DIR / --out DIR: other folders than dist/ and dist-cjs/ (a trial build).
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : fallback;
};
const esm = arg('--esm', join(root, 'dist'));
const out = arg('--out', join(root, 'dist-cjs'));
/** Not in the CommonJS build: the CLI is an ES module program (top-level await) started by `bin`. */
const EXCLUDED = ['cli'];

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

const excluded = (rel) => EXCLUDED.some((d) => rel === d || rel.startsWith(`${d}/`));

const META_URL = '__ww_import_meta_url';

rmSync(out, { recursive: true, force: true });
let modules = 0;
let declarations = 0;
const failures = [];
for (const file of walk(src)) {
  const rel = relative(src, file).split('\\').join('/');
  if (!file.endsWith('.ts') || file.endsWith('.d.ts') || excluded(rel)) continue;
  const source = readFileSync(file, 'utf8');
  const usesMeta = source.includes('import.meta');
  try {
    const r = await transform(source, {
      loader: 'ts',
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcefile: rel,
      // The same class-field semantics as tsc's ES2022 output.
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
      ...(usesMeta
        ? {
            define: { 'import.meta.url': META_URL },
            banner: `const ${META_URL} = require('node:url').pathToFileURL(__filename).href;`,
          }
        : {}),
      logLevel: 'silent',
    });
    if (r.code.includes('import.meta')) throw new Error(`import.meta other than import.meta.url is not handled`);
    const target = join(out, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, r.code);
    modules++;
  } catch (e) {
    failures.push(`${rel}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
if (failures.length) {
  console.error(`build-cjs: ${failures.length} module(s) failed:\n${failures.join('\n')}`);
  process.exit(1);
}

for (const file of walk(esm)) {
  const rel = relative(esm, file).split('\\').join('/');
  if (!rel.endsWith('.d.ts') || excluded(rel)) continue;
  const target = join(out, rel);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  declarations++;
}
if (declarations === 0) {
  console.error('build-cjs: no declarations in dist/: run tsc -p tsconfig.build.json first');
  process.exit(1);
}
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
console.log(`build-cjs: ${modules} CommonJS modules and ${declarations} declaration files in ${relative(root, out)}/`);
