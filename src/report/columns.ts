/**
 * Column order of the details table exactly as the reference produces it (Q2):
 * `layer_id, name`, then every other column in code-point (ASCII) order, union over rows in order
 * of first appearance, missing cells null.
 */
import type { Cell, Row } from '../shared/rows.js';
import { compareCodePoints } from '../shared/text.js';

/**
 * Columns of ours that the reference does not have (docs/numerics.md): `svd_route`, the algorithm
 * behind each row's spectrum. They follow the same ordering rule as every other column.
 */
export const EXTENSION_COLUMNS: ReadonlySet<string> = new Set(['svd_route']);

export function columnOrder(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  const cols: string[] = [];
  for (const r of rows) {
    const keys = Object.keys(r)
      .filter((k) => k !== 'layer_id' && k !== 'name')
      .sort(compareCodePoints);
    for (const k of keys)
      if (!seen.has(k)) {
        seen.add(k);
        cols.push(k);
      }
  }
  return rows.length ? ['layer_id', 'name', ...cols] : [];
}

/** Rows with every column present, in column order (null for missing cells). */
export function normalizeRows<R extends Row>(rows: readonly R[]): R[] {
  const cols = columnOrder(rows);
  return rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? null] as [string, Cell])) as R);
}
