/** What `npm pack` ships: the build, the native sources, the install script and the docs the README links to — no test code. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('npm package contents', () => {
  it('lists dist, native sources, binding.gyp, the install script, README, docs and LICENSE, and no tests or maps', () => {
    // --ignore-scripts: no prepack rebuild (other test files run the built CLI meanwhile).
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'binding.gyp',
      'scripts/blas-flags.mjs',
      'native/core/status.h',
      'native/napi/addon.cc',
      'docs/api.md',
      'docs/options.md',
    ])
      expect(files).toContain(f);
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/|dist-cjs\/|native\/(core|napi)\/|prebuilds\/|docs\/[\w-]+\.md$)/.test(f) &&
        !['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'scripts/blas-flags.mjs'].includes(f),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    // Both builds, when built: the ES modules and the CommonJS build with its {"type": "commonjs"}.
    if (existsSync(join(root, 'dist-cjs', 'index.js')))
      for (const f of [
        'dist/index.js',
        'dist/index.d.ts',
        'dist-cjs/package.json',
        'dist-cjs/index.js',
        'dist-cjs/index.d.ts',
        'dist-cjs/report/plots/render-worker.js',
      ])
        expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('dist-cjs/cli/'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|tests|helpers|bench)\//.test(f) || /\.test\./.test(f))).toEqual([]);
  });
});
