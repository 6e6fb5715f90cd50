/**
 * Keeps docs/options.md in step with the option table (src/shared/option-table.ts): the block
 * between `<!-- generated: options -->` and `<!-- end generated -->` is one line per row, made from
 * the row's name, alias, flag and `doc` fields.
 *
 *   npx vite-node scripts/gen-options-docs.ts            rewrite docs/options.md
 *   npx vite-node scripts/gen-options-docs.ts --check    exit 1 if docs/options.md is out of date
 *
 * test/unit/option-table.test.ts runs the check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPTION_ROWS, type OptionName } from '../src/shared/options.js';
import type { AnyOptionRow } from '../src/shared/option-table.js';

export const OPTIONS_DOC_PATH = fileURLToPath(new URL('../docs/options.md', import.meta.url));

const BLOCK = /<!-- generated: options -->\n[\s\S]*?<!-- end generated -->/;

/** A row's first cell: `min_evals` / `minEvals` (`--min-evals N`). */
function optionCell(name: OptionName, r: AnyOptionRow): string {
  const names = [name, r.alias].filter((n): n is string => n !== undefined).map((n) => `\`${n}\``);
  const flag =
    r.cli &&
    `\`--${r.cli.flag}${r.cli.implicit !== undefined ? ` [${r.cli.value}]` : r.cli.value !== undefined ? ` ${r.cli.value}` : ''}\``;
  // A pipe ends a table cell even inside a code span unless escaped (GitHub-flavoured Markdown).
  return `${names.join(' / ')}${flag ? ` (${flag.replaceAll('|', '\\|')})` : ''}`;
}

/** The generated table: one line per row of the option table. */
export function optionsTable(): string {
  const lines = ['| option (CLI flag) | default | meaning | vs. the reference |', '|---|---|---|---|'];
  for (const [name, r] of OPTION_ROWS) lines.push(`| ${optionCell(name, r)} | ${r.doc.default} | ${r.doc.meaning} | ${r.doc.reference} |`);
  return lines.join('\n');
}

/** docs/options.md with the generated block brought up to date. */
export function renderOptionsDoc(current: string): string {
  if (!BLOCK.test(current)) throw new Error('docs/options.md has no <!-- generated: options --> block');
  return current.replace(BLOCK, `<!-- generated: options -->\n${optionsTable()}\n<!-- end generated -->`);
}

function runFromCommandLine(): void {
  const current = readFileSync(OPTIONS_DOC_PATH, 'utf8');
  const next = renderOptionsDoc(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('docs/options.md is out of date: run npx vite-node scripts/gen-options-docs.ts\n');
      process.exitCode = 1;
    }
    return;
  }
  if (next !== current) writeFileSync(OPTIONS_DOC_PATH, next);
  process.stdout.write(next === current ? 'docs/options.md is up to date\n' : 'docs/options.md updated\n');
}

// vite-node drops the script's path from argv; under vitest argv[1] is a vitest worker.
if (/vite-node(\.m?js)?$/.test(process.argv[1] ?? '')) runFromCommandLine();
