/**
 * One big matrix, every core (issue 23): `svdvals` of one matrix against numpy/scipy on the same
 * OpenBLAS with the same thread count, run in this script (`/usr/bin/python3` with Debian's
 * python3-numpy, python3-scipy and python3-threadpoolctl).
 *
 *   npx vite-node bench/svdvals-numpy.bench.ts [--shapes 2048x2048,4096x4096] [--threads 1,2] [--reps 1]
 *                                              [--no-accurate] [--solvers] [--solver-orders 1024,2048,3072,4096]
 *
 * Per shape and thread count it prints, in seconds and as ratios to numpy:
 *   - our Gram part (gramSeconds: float64 conversion + ?syrk + ?syevd) against numpy's `a.T @ a` +
 *     `scipy.linalg.eigvalsh(g, driver='evd')` (target ≤ 0.9×);
 *   - our whole `svdvals(…, { method: 'fast' })` (with the σmin refinement that certifies sv_min,
 *     which eigvalsh does not) against the same (target ≤ 1.1×);
 *   - `method: 'accurate'` (?gesdd) against `numpy.linalg.svd(a, compute_uv=False)` (target ≤ 1.0×).
 * `--solvers` also times the Gram route's three eigensolvers (one-stage ?syevd, ?syevd_2stage, and
 * the split two-stage with its band stage on one thread; forced) on square matrices by order and
 * threads: the measurement behind the rule in native/core/gram.cc `gramSolverFor`.
 * Our side runs as a library user calls it: the package root's scheduled svdvalsDetailed after
 * setThreads(t), so a single call has the whole budget and runs alone.
 *
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: both sides run with the environment this script got. On a
 * machine that sets them (some CI images pin an older kernel family), unset both for this command
 * to let numpy's OpenBLAS detect the CPU as our addon does (src/native/binding.ts chooses the
 * kernel family itself when the variable is unset); the table prints each side's kernel family.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eigensolverFor,
  nativeInfo,
  setBlasThreads,
  svdvalsDetailed as addonSvdvalsDetailed,
  type GramEigensolver,
} from '../src/native/binding.js';
// What a library user calls: scheduled, with the whole budget (setThreads) and so alone (exclusive).
import { setThreads, svdvalsDetailed } from '../src/index.js';

const PY = '/usr/bin/python3';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const shapes = arg('shapes', '2048x2048,4096x4096,8192x2048,11008x4096')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);
const threadCounts = arg('threads', '1,2').split(',').map(Number);
const reps = Number(arg('reps', '1'));
const accurate = !process.argv.includes('--no-accurate');
const solvers = process.argv.includes('--solvers');
const solverOrders = arg('solver-orders', '1024,2048,3072,4096').split(',').map(Number);

/** Uniform in [−0.5, 0.5) as float32 (the matrix of issue 23), from a fixed seed (mulberry32). */
function uniform(rows: number, cols: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(rows * cols);
  for (let k = 0; k < out.length; k++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[k] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  }
  return out;
}

const PY_SCRIPT = `
import sys, time, json
import numpy as np, scipy.linalg
from threadpoolctl import threadpool_limits, threadpool_info
path, m, n, threads, reps, accurate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == '1'
a = np.fromfile(path, dtype=np.float32).reshape(m, n).astype(np.float64)
out = {'gemm': 1e9, 'evd': 1e9, 'svd': 1e9, 'cpuBase': 1e9, 'cpuSvd': 1e9}
with threadpool_limits(limits=threads, user_api='blas'):
    info = [i for i in threadpool_info() if i['internal_api'] == 'openblas']
    out['kernel'] = info[0].get('architecture') if info else 'unknown'
    out['threads'] = info[0]['num_threads'] if info else 0
    for _ in range(reps):
        c0 = time.process_time(); t0 = time.perf_counter(); g = a.T @ a if m >= n else a @ a.T; t1 = time.perf_counter()
        w = scipy.linalg.eigvalsh(g, driver='evd'); t2 = time.perf_counter(); c2 = time.process_time()
        out['gemm'] = min(out['gemm'], t1 - t0); out['evd'] = min(out['evd'], t2 - t1); out['cpuBase'] = min(out['cpuBase'], c2 - c0)
        if accurate:
            c0 = time.process_time(); t0 = time.perf_counter(); s = np.linalg.svd(a, compute_uv=False)
            out['svd'] = min(out['svd'], time.perf_counter() - t0); out['cpuSvd'] = min(out['cpuSvd'], time.process_time() - c0)
print(json.dumps(out))
`;

interface PyTimes {
  gemm: number;
  evd: number;
  svd: number;
  /** CPU seconds of the process (all threads): on one thread, what a loaded machine does not inflate. */
  cpuBase: number;
  cpuSvd: number;
  kernel: string;
  threads: number;
}

function numpy(file: string, m: number, n: number, threads: number): PyTimes {
  const r = spawnSync(PY, ['-c', PY_SCRIPT, file, String(m), String(n), String(threads), String(reps), accurate ? '1' : '0'], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`numpy run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyTimes;
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

async function ours(w: Float32Array, m: number, n: number) {
  let gram = Infinity;
  let fast = Infinity;
  let acc = Infinity;
  let cpuGram = Infinity;
  let cpuFast = Infinity;
  let cpuAcc = Infinity;
  let route = '';
  let solver = '';
  for (let r = 0; r < reps; r++) {
    let c0 = process.cpuUsage();
    const g = await svdvalsDetailed(w, m, n, { method: 'fast', forceGram: true });
    cpuGram = Math.min(cpuGram, cpuSeconds(c0));
    gram = Math.min(gram, g.gramSeconds);
    c0 = process.cpuUsage();
    let t0 = performance.now();
    const f = await svdvalsDetailed(w, m, n, { method: 'fast' });
    fast = Math.min(fast, (performance.now() - t0) / 1e3);
    cpuFast = Math.min(cpuFast, cpuSeconds(c0));
    route = f.route;
    solver = f.eigensolver ?? '';
    if (accurate) {
      c0 = process.cpuUsage();
      t0 = performance.now();
      await svdvalsDetailed(w, m, n, { method: 'accurate' });
      acc = Math.min(acc, (performance.now() - t0) / 1e3);
      cpuAcc = Math.min(cpuAcc, cpuSeconds(c0));
    }
  }
  return { gram, fast, acc, cpuGram, cpuFast, cpuAcc, route, solver };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '–');

const dir = mkdtempSync(join(tmpdir(), 'ww-svdvals-numpy-'));
try {
  const cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim();
  const info = nativeInfo();
  console.log(`machine: ${cpu}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores; node ${process.version}`);
  console.log(`ours: ${info.blasConfig}, kernel ${info.coreType} (OPENBLAS_CORETYPE ${info.coreTypeSource}), LAPACK ${info.lapackVersion}`);
  console.log(`load before: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  console.log(`reps ${reps} (best of), uniform [−0.5, 0.5) float32 input, computed in float64 on both sides\n`);
  console.log('wall seconds (best of reps); on one thread also CPU seconds [cpu], which a loaded machine inflates far less');
  console.log(
    '| shape | threads | numpy gemm + evd | our Gram part | Gram / numpy | our fast svdvals (route) | fast / numpy | numpy svd | our accurate | accurate / numpy svd |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  let kernel = '';
  for (const [m, n] of shapes) {
    const w = uniform(m, n, m * 7 + n);
    const file = join(dir, `${m}x${n}.f32`);
    writeFileSync(file, new Uint8Array(w.buffer));
    for (const t of threadCounts) {
      setThreads(t); // the budget: a single call gets all of it
      const o = await ours(w, m, n);
      const p = numpy(file, m, n, t);
      kernel = p.kernel;
      const base = p.gemm + p.evd;
      const cpu = (x: number) => (t === 1 && Number.isFinite(x) ? ` [${x.toFixed(2)}]` : '');
      const cpuRatio = (a: number, b: number) => (t === 1 ? ` [${ratio(a, b)}]` : '');
      console.log(
        `| ${m}×${n} | ${t} | ${fmt(p.gemm)} + ${fmt(p.evd)} = ${fmt(base)}${cpu(p.cpuBase)} | ${fmt(o.gram)}${cpu(o.cpuGram)} (${o.solver}) | ` +
          `${ratio(o.gram, base)}${cpuRatio(o.cpuGram, p.cpuBase)} | ${fmt(o.fast)}${cpu(o.cpuFast)} (${o.route}) | ${ratio(o.fast, base)}${cpuRatio(o.cpuFast, p.cpuBase)} | ` +
          `${fmt(accurate ? p.svd : NaN)}${accurate ? cpu(p.cpuSvd) : ''} | ${fmt(o.acc)}${cpu(o.cpuAcc)} | ${ratio(o.acc, p.svd)}${accurate ? cpuRatio(o.cpuAcc, p.cpuSvd) : ''} |`,
      );
    }
  }
  console.log(`numpy's OpenBLAS kernel family: ${kernel}`);
  if (solvers) {
    console.log("\nThe Gram route's eigensolver (forceGram: Gram part only, conversion + ?syrk + eigensolver), square uniform matrices:\n");
    console.log(
      '| n | threads | ?syevd (s) | ?syevd_2stage (s) | split (s) | 2-stage / 1-stage | split / 1-stage | rule picks (alone / not alone) |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const n of solverOrders) {
      const w = uniform(n, n, n);
      for (const t of threadCounts) {
        setBlasThreads(t);
        const time = async (eigensolver: GramEigensolver) => {
          let best = Infinity;
          for (let r = 0; r < reps; r++)
            best = Math.min(
              best,
              // this script is the process's only OpenBLAS user: the split may lower the count for its band stage
              (await addonSvdvalsDetailed(w, n, n, { method: 'fast', forceGram: true, eigensolver, threads: t, exclusive: true }))
                .gramSeconds,
            );
          return best;
        };
        const one = await time('syevd');
        const two = await time('syevd_2stage');
        const split = await time('syevd_2stage_split');
        console.log(
          `| ${n} | ${t} | ${fmt(one)} | ${fmt(two)} | ${fmt(split)} | ${(two / one).toFixed(2)} | ${(split / one).toFixed(2)} | ${eigensolverFor(n, t, true)} / ${eigensolverFor(n, t, false)} |`,
        );
      }
    }
  }
  console.log(`\nload after: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
