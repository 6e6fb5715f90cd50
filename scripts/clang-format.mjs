#!/usr/bin/env node
// clang-format over native/**/*.{h,cc,cpp} with the repository's .clang-format.
//   node scripts/clang-format.mjs          check only (exit 1 and name the files that differ)
//   node scripts/clang-format.mjs --fix    rewrite the files in place
// The binary is the one bundled in the pinned `clang-format` npm package (a devDependency; static
// builds for linux x64, macOS and Windows), so every machine formats alike; a system clang-format
// of another major version would format differently. WW_CLANG_FORMAT=/path/to/clang-format
// overrides it (for platforms the package has no binary for, e.g. linux arm64).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const fix = process.argv.includes('--fix');

function binary() {
  if (process.env.WW_CLANG_FORMAT) return process.env.WW_CLANG_FORMAT;
  try {
    return createRequire(import.meta.url)('clang-format').getNativeBinary();
  } catch (e) {
    console.error(
      `clang-format: no binary found (${e instanceof Error ? e.message.trim() : String(e)}).\n` +
        'Run `npm ci` (the clang-format npm package is a devDependency), or on a platform it has no binary for install\n' +
        'clang-format 15 with your package manager (Debian/Ubuntu: apt-get install clang-format-15) and set\n' +
        'WW_CLANG_FORMAT=/usr/bin/clang-format-15.',
    );
    process.exit(2);
  }
}

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return /\.(h|cc|cpp)$/.test(d.name) ? [p] : [];
  });
}

const files = sources(join(root, 'native')).sort();
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
try {
  execFileSync(binary(), ['--style=file', ...args], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
} catch (e) {
  const stderr = typeof e === 'object' && e !== null && 'stderr' in e ? String(e.stderr) : '';
  if (e instanceof Error && 'code' in e && e.code === 'ENOENT') {
    console.error(
      `clang-format: cannot run ${binary()} (not found). Unset WW_CLANG_FORMAT to use the clang-format npm package, or install clang-format 15.`,
    );
    process.exit(2);
  }
  const bad = [...new Set([...stderr.matchAll(/^(.+?):\d+:\d+: (?:error|warning)/gm)].map((m) => relative(root, m[1])))];
  if (bad.length) console.error(`clang-format: ${bad.length} file(s) not formatted: ${bad.join(', ')}\nRun \`npm run format\` to fix.`);
  else console.error(stderr);
  process.exit(1);
}
if (!fix) console.log(`clang-format: ${files.length} native files formatted`);
