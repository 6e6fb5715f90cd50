/**
 * Lossless JSON for result rows. Rows hold NaN and ±Infinity (failed fits, empty ranks), which
 * JSON.stringify turns into null; the database and the Redis job results must give back exactly the
 * numbers analyze() produced, so non-finite numbers are written as a tagged object `{"$num":"NaN"}`
 * (no cell is ever an object, so the tag cannot collide with a real value).
 */
import type { Cell, Row } from '../shared/rows.js';

const TAG = '$num';

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return { [TAG]: String(v) };
  return v;
}

function reviver(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === TAG) {
      const s = (v as Record<string, unknown>)[TAG];
      if (s === 'NaN') return NaN;
      if (s === 'Infinity') return Infinity;
      if (s === '-Infinity') return -Infinity;
    }
  }
  return v;
}

/** JSON text that keeps NaN and ±Infinity. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

/** Inverse of encodeJson. */
export function decodeJson<T = unknown>(text: string): T {
  return JSON.parse(text, reviver) as T;
}

export function encodeRow(row: Row): string {
  return encodeJson(row);
}

export function decodeRow(text: string): Row {
  const r = decodeJson<Record<string, unknown>>(text);
  return r as Record<string, Cell>;
}
