/** The terminal view of a details table: the columns people look at first, aligned, warnings coloured. */
import type { Cell, Row } from '../shared/rows.js';
import type { Summary } from './summary.js';
import { escapeControl } from '../shared/text.js';

export const TABLE_COLUMNS: readonly [string, string][] = [
  ['layer_id', 'id'],
  ['name', 'name'],
  ['layer_type', 'type'],
  ['N', 'N'],
  ['M', 'M'],
  ['alpha', 'alpha'],
  ['D', 'D'],
  ['xmin', 'xmin'],
  ['log_spectral_norm', 'log_spec_norm'],
  ['alpha_weighted', 'alpha_w'],
  ['stable_rank', 'stable_rank'],
  ['warning', 'warning'],
];

const ansi = { red: '\x1b[31m', yellow: '\x1b[33m', bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m' };

export function formatCell(v: Cell | undefined): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toFixed(4);
  }
  return escapeControl(String(v));
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}

export function renderTable(
  rows: readonly Row[],
  opts: { color: boolean; columns?: readonly [string, string][]; maxName?: number },
): string {
  const columns = (opts.columns ?? TABLE_COLUMNS).filter(([key]) => rows.some((r) => key in r) || key === 'warning');
  // Model-supplied strings (names, longnames) are escaped: an ESC or newline in a tensor name must not reach the terminal.
  const cells = rows.map((r) =>
    columns.map(([key]) => (key === 'name' ? truncate(escapeControl(String(r[key] ?? '')), opts.maxName ?? 36) : formatCell(r[key]))),
  );
  const widths = columns.map(([, label], j) => Math.max(label.length, ...cells.map((c) => c[j]!.length)));
  const numeric = columns.map(([key]) => rows.some((r) => typeof r[key] === 'number'));
  const pad = (s: string, j: number) => (numeric[j] ? s.padStart(widths[j]!) : s.padEnd(widths[j]!));
  const paint = (s: string, code: string) => (opts.color ? `${code}${s}${ansi.reset}` : s);
  const out = [paint(columns.map(([, label], j) => pad(label, j)).join('  '), ansi.bold)];
  rows.forEach((r, i) => {
    const line = cells[i]!.map((c, j) => pad(c, j)).join('  ');
    const w = r.warning;
    out.push(w === 'over-trained' ? paint(line, ansi.red) : w === 'under-trained' ? paint(line, ansi.yellow) : line);
  });
  return out.join('\n') + '\n';
}

export function renderSummary(summary: Summary, rows: readonly Row[], opts: { color: boolean }): string {
  const alphas = rows.map((r) => r.alpha).filter((a): a is number => typeof a === 'number' && a !== -1);
  const over = alphas.filter((a) => a < 2).length;
  const under = alphas.filter((a) => a > 6).length;
  const failed = rows.filter((r) => r.status === 'failed').length;
  const lines = ['summary (mean over layers):'];
  for (const [k, v] of Object.entries(summary)) lines.push(`  ${k.padEnd(18)} ${formatCell(v)}`);
  const b = (s: string) => (opts.color ? `\x1b[1m${s}\x1b[0m` : s);
  lines.push(
    b(
      `  ${rows.length} layers: ${over} with alpha < 2 (over-trained), ${under} with alpha > 6 (under-trained)` +
        (failed ? `, ${failed} fits failed` : ''),
    ),
  );
  return lines.join('\n') + '\n';
}

const SKIP_LABELS: Record<string, string> = {
  filter: 'filtered out by --layers',
  type: 'not a dense/conv layer (norms, biases, unknown ranks)',
  shape: 'weight shape not analysable (e.g. a [1, N] row)',
  min_evals: 'fewer eigenvalues than --min-evals',
  max_evals: 'more eigenvalues than --max-evals',
  max_N: 'larger dimension above --max-n',
  dtype: 'not a float tensor (integers, booleans)',
  intra: 'no shared dimension with the previous layer',
  base_unmatched: 'no partner layer in the base model',
  base_shape: "base model's layer has another shape",
  peft: 'not a LoRA product (peft)',
};

/** One line per skip reason with its count, e.g. "  12 × not a dense/conv layer". */
export function renderSkipped(skipped: Iterable<{ kind: string }> | ReadonlyMap<string, number>): string {
  let counts: ReadonlyMap<string, number>;
  if (skipped instanceof Map) counts = skipped;
  else {
    const c = new Map<string, number>();
    for (const s of skipped as Iterable<{ kind: string }>) c.set(s.kind, (c.get(s.kind) ?? 0) + 1);
    counts = c;
  }
  return [...counts].map(([k, n]) => `  ${String(n).padStart(4)} × ${SKIP_LABELS[k] ?? k}\n`).join('');
}
