/**
 * Serialisations of a details table: JSON (`{details, summary, meta}`, non-finite numbers as null
 * like pandas' to_json) and CSV.
 */
import type { Cell, Row } from '../shared/rows.js';
import { columnOrder } from './columns.js';

export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => jsonSafe(x));
  return v;
}

export function toJson(payload: { details: readonly Row[]; summary: object; meta: object }): string {
  return JSON.stringify(jsonSafe(payload), null, 2) + '\n';
}

function csvCell(v: Cell | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? '' : String(v);
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of the rows: the details column order, or the given columns (those some row has). */
export function toCsv(rows: readonly Row[], columns?: readonly string[]): string {
  const cols = columns ? columns.filter((c) => rows.some((r) => r[c] !== undefined)) : columnOrder(rows);
  const lines = [cols.join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvCell(r[c])).join(','));
  return lines.join('\n') + '\n';
}
