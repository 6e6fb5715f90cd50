/**
 * Serialisations of a details table: JSON (`{details, summary, meta}`, non-finite numbers as null
 * like pandas' to_json) and CSV.
 */
import type { Cell, Row } from '../shared/rows.js';
import { columnOrder } from './columns.js';

export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    return jsonSafe((v as { toJSON(): unknown }).toJSON());
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => jsonSafe(x));
  return v;
}

export function toJson(payload: { details: readonly Row[]; summary: object; meta: object }): string {
  return JSON.stringify(jsonSafe(payload), null, 2) + '\n';
}

/** `JSON.stringify(v, null, 2)` nested `pad` deeper. */
const nested = (v: unknown, pad: string) => JSON.stringify(jsonSafe(v), null, 2).replace(/\n/g, `\n${pad}`);

/**
 * The text of toJson(payload), one row at a time: a million-row result is written without one
 * giant string, and a writer can yield between pieces.
 */
export function* jsonChunks(payload: { details: readonly Row[]; summary: object; meta: object }): Generator<string> {
  const rows = payload.details;
  if (rows.length === 0) yield '{\n  "details": []';
  else {
    yield '{\n  "details": [\n';
    for (let i = 0; i < rows.length; i++) yield `    ${nested(rows[i], '    ')}${i + 1 < rows.length ? ',' : ''}\n`;
    yield '  ]';
  }
  yield `,\n  "summary": ${nested(payload.summary, '  ')}`;
  yield `,\n  "meta": ${nested(payload.meta, '  ')}\n}\n`;
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
