#!/usr/bin/env node
// Prints compiler or linker flags for OpenBLAS + LAPACKE for binding.gyp, found with pkg-config.
// Fails with a message naming the system packages to install, instead of gyp's bare exit status.
// Overrides: WW_BLAS_CFLAGS / WW_BLAS_LIBS (used verbatim, e.g. for a custom OpenBLAS build).
import { execFileSync } from 'node:child_process';

const mode = process.argv[2];
if (mode !== '--cflags' && mode !== '--libs') {
  console.error('usage: blas-flags.mjs --cflags|--libs');
  process.exit(2);
}
const override = mode === '--cflags' ? process.env.WW_BLAS_CFLAGS : process.env.WW_BLAS_LIBS;
if (override !== undefined) {
  process.stdout.write(override);
  process.exit(0);
}
try {
  const args = [mode === '--cflags' ? '--cflags-only-I' : '--libs', 'openblas', 'lapacke'];
  const out = execFileSync('pkg-config', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stdout.write(out.trim().replace(/-I/g, '').trim() + (mode === '--libs' ? '' : ''));
} catch (e) {
  console.error(
    '\nweightwatcher: OpenBLAS and LAPACKE were not found by pkg-config.\n' +
      '  Debian/Ubuntu: sudo apt-get install -y pkg-config libopenblas-dev liblapacke-dev\n' +
      '  Fedora:        sudo dnf install -y pkgconf openblas-devel lapack-devel\n' +
      '  or set WW_BLAS_CFLAGS / WW_BLAS_LIBS to the include dirs and linker flags of your BLAS.\n' +
      `  (pkg-config said: ${String(e.stderr ?? e.message).trim()})\n`,
  );
  process.exit(1);
}
