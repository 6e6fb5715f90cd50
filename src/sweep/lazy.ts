/**
 * The sweep entry points of the main module, loaded on first call so that `import 'weightwatcher'`
 * does not load SQLite (and never loads the queue client). The full API is the `weightwatcher/sweep`
 * subpath, whose `openResults` is this same asynchronous function (and `openResultsSync` its twin).
 */
import type { SweepOptions, SweepResult } from './sweep.js';
import type { SweepResults } from './results.js';
import { importOptional } from '../shared/optional-import.js';

/** Analyse many models into a results database; see `weightwatcher/sweep`. */
export async function sweep(models: readonly string[], options: SweepOptions): Promise<SweepResult> {
  return (await importOptional('database', () => import('./sweep.js'))).sweep(models, options);
}

/** Open a results database for queries (runs, rows by layer, summary series). */
export async function openResults(db: string): Promise<SweepResults> {
  return (await importOptional('database', () => import('./results.js'))).openResults(db);
}
