/**
 * Row-by-row comparison with the reference's output, with the project's tolerances:
 * floats ≤1e-9 relative (alpha, D, xmin, sigma ≤1e-7), integers and strings exact,
 * eigenvalues ≤1e-10 relative to the layer's lambda_max.
 */
import { appendFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Row } from '../../src/index.js';
import type { Golden, GoldenEvals } from './corpus.js';
import { EXTENSION_COLUMNS } from '../../src/report/columns.js';

const FIT_COLUMNS = new Set(['alpha', 'D', 'xmin', 'sigma', 'raw_alpha', 'Lambda']);
/** Columns derived from alpha inherit its tolerance. */
const ALPHA_DERIVED = new Set(['alpha_weighted', 'log_alpha_norm']);

export interface Deltas {
  [column: string]: number;
}

function rel(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

/**
 * WW_PARITY_DELTAS=FILE appends each comparison's worst relative difference per column, with the
 * method its rows took, as a JSON line: the tables of docs/numerics.md are summaries of that file.
 */
function recordDeltas(ours: readonly Row[], deltas: Deltas): void {
  const file = process.env.WW_PARITY_DELTAS;
  if (!file || !ours.length) return;
  const method = ours.every((r) => r.svd_route === 'gesdd') ? 'accurate' : 'fast';
  appendFileSync(file, `${JSON.stringify({ method, rows: ours.length, deltas })}\n`);
}

export function compareRows(ours: readonly Row[], golden: Golden, opts: { skip?: ReadonlySet<string> } = {}): Deltas {
  const deltas: Deltas = {};
  const cols = golden.columns.filter((c) => !opts.skip?.has(c));
  // Every reference column, in the reference's order; our extension columns (svd_route) are ignored.
  if (ours.length) expect(Object.keys(ours[0]!).filter((k) => !EXTENSION_COLUMNS.has(k))).toEqual(golden.columns);
  expect(ours.map((r) => [r.layer_id, r.name, r.slice_id ?? null])).toEqual(
    golden.details.map((r) => [r.layer_id, r.name, r.slice_id ?? null]),
  );
  golden.details.forEach((g, i) => {
    const r = ours[i]!;
    for (const c of cols) {
      const a = r[c];
      const b = g[c];
      const where = `layer ${String(g.layer_id)} ${String(g.name)}${g.slice_id !== undefined ? `:${String(g.slice_id)}` : ''} column ${c}`;
      if ((typeof b === 'number' && !Number.isInteger(b)) || (typeof b === 'number' && typeof a === 'number' && !Number.isInteger(a))) {
        expect(typeof a, where).toBe('number');
        const d = rel(a as number, b);
        const tol = FIT_COLUMNS.has(c) || ALPHA_DERIVED.has(c) ? 1e-7 : 1e-9;
        expect(d, `${where}: ours ${String(a)} vs reference ${String(b)}`).toBeLessThanOrEqual(tol);
        deltas[c] = Math.max(deltas[c] ?? 0, d);
      } else if (b === null) {
        // NaN / None in the reference
        expect(a === null || (typeof a === 'number' && Number.isNaN(a)), `${where}: expected null/NaN, got ${String(a)}`).toBe(true);
      } else {
        expect(a, where).toEqual(b);
      }
    }
  });
  recordDeltas(ours, deltas);
  return deltas;
}

export function compareEvals(ours: readonly { row: Row; evals?: Float64Array }[], golden: GoldenEvals): number {
  let worst = 0;
  expect(ours.length).toBe(golden.layers.length);
  golden.layers.forEach((g, i) => {
    const e = ours[i]!.evals!;
    expect(ours[i]!.row.layer_id).toBe(g.layer_id);
    expect(e.length, `evals of layer ${g.layer_id}`).toBe(g.evals.length);
    const lmax = Math.max(...g.evals);
    for (let k = 0; k < e.length; k++) {
      const d = Math.abs(e[k]! - g.evals[k]!) / lmax;
      worst = Math.max(worst, d);
    }
  });
  expect(worst).toBeLessThanOrEqual(1e-10);
  return worst;
}

export function summaryDelta(ours: Record<string, number>, golden: Record<string, number>): number {
  expect(Object.keys(ours).sort()).toEqual(Object.keys(golden).sort());
  let worst = 0;
  for (const [k, v] of Object.entries(golden)) {
    const d = rel(ours[k]!, v);
    expect(d, `summary ${k}: ${ours[k]} vs ${v}`).toBeLessThanOrEqual(1e-7);
    worst = Math.max(worst, d);
  }
  return worst;
}

const GRAM_ROUTES = new Set(['gram', 'gram+lu', 'gram+qr']);

/** 'accurate' rows all used ?gesdd; 'fast' rows all used a Gram route (the goldens' layers all qualify). */
export function expectRoutes(rows: readonly Row[], method: 'fast' | 'accurate'): void {
  for (const r of rows) {
    const where = `layer ${String(r.layer_id)} ${String(r.name)}${r.slice_id != null ? `:${String(r.slice_id)}` : ''}`;
    if (method === 'accurate') expect(r.svd_route, where).toBe('gesdd');
    else expect(GRAM_ROUTES.has(r.svd_route as string), `${where} took route ${String(r.svd_route)}`).toBe(true);
  }
}

export function routeCounts(rows: readonly Row[]): string {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(String(r.svd_route), (counts.get(String(r.svd_route)) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k} ${v}`).join(', ');
}
