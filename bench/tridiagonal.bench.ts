/**
 * Issue 23: can the Gram part beat numpy's `eigvalsh(driver='evd')` at n = 2048? Both run
 * LAPACK's ?syevd on the same OpenBLAS; this compiles bench/native/tridiagonal.c against the
 * addon's BLAS (scripts/blas-flags.mjs) and times, on one matrix, every other route LAPACK offers
 * for eigenvalues only (hand-blocked dsytrd, two-stage with a chosen band) as ratios to ?syevd in
 * the same process. Needs a C compiler (the addon's build has one).
 *
 *   npx vite-node bench/tridiagonal.bench.ts [--orders 1024,2048,4096] [--threads 1,2] [--reps 3]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const value = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const orders = value('orders', '1024,2048,4096').split(',').map(Number);
const threads = value('threads', '1,2').split(',').map(Number);
const reps = value('reps', '3');
const root = resolve(import.meta.dirname, '..');
const flags = (mode: string) =>
  execFileSync('node', [join(root, 'scripts', 'blas-flags.mjs'), mode], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);

const dir = mkdtempSync(join(tmpdir(), 'ww-tridiagonal-'));
try {
  const exe = join(dir, 'tridiagonal');
  execFileSync('cc', [
    '-O2',
    '-o',
    exe,
    join(root, 'bench', 'native', 'tridiagonal.c'),
    ...flags('--cflags').map((f) => `-I${f}`),
    ...flags('--libs'),
    '-lm',
  ]);
  console.log(
    `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log('| n | threads | ?syevd | variant | seconds | ratio to ?syevd | max |Δλ|/λmax |');
  console.log('|---|---|---|---|---|---|---|');
  for (const n of orders)
    for (const t of threads) {
      const out = execFileSync(exe, [String(n), String(t), reps], { encoding: 'utf8' })
        .trim()
        .split('\n');
      const base = /dsyevd ([\d.]+) s/.exec(out[0]!)![1];
      for (const line of out.slice(1)) {
        const m = /^(.*?) ([\d.]+) s ([\d.]+) ([\d.e+-]+)(.*)$/.exec(line)!;
        console.log(`| ${n} | ${t} | ${base} s | ${m[1]}${m[5]} | ${m[2]} s | ${m[3]}× | ${m[4]} |`);
      }
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
