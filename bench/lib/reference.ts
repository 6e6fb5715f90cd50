/**
 * The Python side of `npm run bench`: the real WeightWatcher 0.7.5.5 (the `wwref` launcher, see
 * /work/shared/reference/README.md) when it is installed, else bench/reference_baseline.py (the
 * same per-layer work with scipy, analyze loop only). Also the column comparison of two results.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PythonRun {
  kind: 'reference' | 'scipy-baseline';
  /** Whole process, seconds (start-up and imports included). */
  total: number;
  /** The reference's own split (meta.timing_s), when it reports one. */
  timing?: Record<string, number | null>;
  details?: Record<string, unknown>[];
  alphas: number[];
}

/** WW_REFERENCE, else the shared reference beside the repository, else undefined. */
export function findReference(root: string): string | undefined {
  const candidates = [process.env.WW_REFERENCE, join(root, '..', 'shared', 'reference', 'wwref')];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** The reference's environment: its own OpenBLAS picks its kernels (this machine's OPENBLAS_CORETYPE is for Debian's 0.3.21). */
function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

export function runReference(wwref: string, model: string, out: string): PythonRun {
  const t0 = performance.now();
  const r = spawnSync(wwref, [model, '--out', out], { env: pythonEnv(), encoding: 'utf8', maxBuffer: 1 << 26 });
  const total = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${wwref} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const parsed = JSON.parse(readFileSync(out, 'utf8')) as {
    meta: { timing_s: Record<string, number | null> };
    details: Record<string, unknown>[];
  };
  return {
    kind: 'reference',
    total,
    timing: parsed.meta.timing_s,
    details: parsed.details,
    alphas: parsed.details.map((d) => d.alpha as number),
  };
}

export function runScipyBaseline(root: string, model: string, python = process.env.WW_BENCH_PYTHON ?? 'python3'): PythonRun {
  const t0 = performance.now();
  const out = execFileSync(python, [join(root, 'bench', 'reference_baseline.py'), model], {
    env: pythonEnv(),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const total = (performance.now() - t0) / 1000;
  const r = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; layers: number; alphas: number[] };
  return { kind: 'scipy-baseline', total, timing: { analyze: r.seconds }, alphas: r.alphas };
}

export interface ColumnDiff {
  /** Worst relative difference over rows, per numeric column (a differing integer shows as ≥ 1/value). */
  worst: Record<string, number>;
  /** Columns with a non-numeric mismatch (strings, booleans, null vs number), with the count of rows. */
  mismatches: Record<string, number>;
  rows: number;
}

/** Ours against the reference, row by row, every reference column (extension columns ignored). */
export function compareDetails(ours: Record<string, unknown>[], ref: Record<string, unknown>[]): ColumnDiff {
  const worst: Record<string, number> = {};
  const mismatches: Record<string, number> = {};
  if (ours.length !== ref.length) mismatches.rows = Math.abs(ours.length - ref.length);
  const n = Math.min(ours.length, ref.length);
  for (let i = 0; i < n; i++) {
    for (const [col, b] of Object.entries(ref[i]!)) {
      const a = ours[i]![col];
      if (typeof b === 'number' && typeof a === 'number') {
        const d = a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
        worst[col] = Math.max(worst[col] ?? 0, d);
      } else if (!(a === b || (b === null && (a === null || Number.isNaN(a))))) {
        mismatches[col] = (mismatches[col] ?? 0) + 1;
      }
    }
  }
  return { worst, mismatches, rows: n };
}

export function formatDiff(d: ColumnDiff): string {
  const top = Object.entries(d.worst).sort((x, y) => y[1] - x[1]);
  const [col, v] = top[0] ?? ['-', 0];
  const bad = Object.entries(d.mismatches)
    .map(([c, k]) => `${c}×${k}`)
    .join(' ');
  const ints = ['num_evals', 'num_pl_spikes', 'rank_loss', 'weak_rank_loss', 'matrix_rank'].every((c) => (d.worst[c] ?? 0) === 0);
  return `max rel. diff ${v.toExponential(1)} (${col}); count columns ${ints ? 'identical' : 'DIFFER'}${bad ? `; MISMATCHED ${bad}` : ''}`;
}

/** Worst relative alpha difference (the scipy baseline only reports alphas). */
export function alphaDiff(ours: number[], ref: number[]): number {
  let w = 0;
  for (let i = 0; i < Math.min(ours.length, ref.length); i++) w = Math.max(w, Math.abs(ours[i]! - ref[i]!) / Math.abs(ref[i]!));
  return w;
}
