/**
 * Lossless JSON for result rows. Rows hold NaN and ±Infinity (failed fits, empty ranks), which
 * JSON.stringify turns into null; the database and the Redis job results must give back exactly the
 * numbers analyze() produced, so non-finite numbers are written as a tagged object `{"$num":"NaN"}`
 * (no cell is ever an object, so the tag cannot collide with a real value).
 */
import type { Cell, Row } from '../shared/rows.js';
import { decodeEvals, encodeEvals } from './spectra.js';

const TAG = '$num';
/** Layer spectra in queue results (spectra.ts): float32 little-endian bytes in base64, bit for bit. */
const F32_TAG = '$f32';

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return { [TAG]: String(v) };
  if (v instanceof Float32Array) return { [F32_TAG]: encodeEvals(v).toString('base64') };
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
    if (keys.length === 1 && keys[0] === F32_TAG) {
      const s = (v as Record<string, unknown>)[F32_TAG];
      const evals = typeof s === 'string' ? decodeEvals(Buffer.from(s, 'base64')) : undefined;
      if (evals) return evals;
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
