/** Locations of the shared corpus and goldens; tests skip with a clear message when absent. */
import type { Row } from '../../src/shared/rows.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.WW_SHARED_DIR ?? resolve(projectRoot, '..', 'shared');
export const corpusDir = resolve(sharedDir, 'corpus');
export const goldensDir = resolve(sharedDir, 'goldens');
export const haveCorpus = existsSync(corpusDir) && existsSync(goldensDir);
export const skipReason = `shared corpus not found at ${sharedDir} (set WW_SHARED_DIR); skipping parity tests`;

if (!haveCorpus) console.warn(skipReason);

export function corpus(rel: string): string {
  return resolve(corpusDir, rel);
}

export interface Golden {
  meta: { model: string; kwargs: Record<string, unknown>; timing_s: Record<string, number | null>; num_layers: number };
  columns: string[];
  /** Reference rows: JSON scalars (numbers, strings, booleans, null) by column. */
  details: Row[];
  summary: Record<string, number>;
}

export interface GoldenEvals {
  layers: { layer_id: number; name: string; slice_id?: number; evals: number[]; rand_evals?: number[] }[];
}

export function golden(model: string, set: string): Golden {
  return JSON.parse(readFileSync(resolve(goldensDir, model, `${set}.json`), 'utf8')) as Golden;
}

export function goldenEvals(model: string, set: string): GoldenEvals | undefined {
  const p = resolve(goldensDir, model, `${set}.evals.json`);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as GoldenEvals) : undefined;
}
