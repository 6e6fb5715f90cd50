/** get_summary (R27): NaN-skipping means of the headline metrics present as columns. */
import type { Row } from '../shared/rows.js';
import { nanMean } from '../shared/numeric.js';

export const SUMMARY_METRICS = [
  'log_norm',
  'alpha',
  'alpha_weighted',
  'log_alpha_norm',
  'log_spectral_norm',
  'stable_rank',
  'mp_softrank',
] as const;

export type Summary = Partial<Record<(typeof SUMMARY_METRICS)[number], number>>;

export function summarize(rows: readonly Row[]): Summary {
  const out: Summary = {};
  for (const m of SUMMARY_METRICS) {
    if (!rows.some((r) => m in r)) continue;
    // Failed rows (alpha = -1) are averaged too, as in the reference; null cells count as NaN.
    out[m] = nanMean(
      rows.map((r) => {
        const v = r[m];
        return typeof v === 'number' ? v : NaN;
      }),
    );
  }
  return out;
}
