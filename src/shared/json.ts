/**
 * Narrowing parsed JSON (model configs, manifests), which is untrusted and typed `unknown`.
 * `Array.isArray` narrows to `any[]`; `isArray` narrows to `readonly unknown[]`, so each element is
 * checked before use.
 */
export type Json = Record<string, unknown>;

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const isArray = (v: unknown): v is readonly unknown[] => Array.isArray(v);
