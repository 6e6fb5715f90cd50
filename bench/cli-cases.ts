/**
 * The misuse cases of test/helpers/cli-cases.ts run against one or two builds, printed as a
 * markdown table (exit code, first message line, wall time, whether protected files survived).
 *
 *   npx vite-node bench/cli-cases.ts                       # this checkout's dist/
 *   npx vite-node bench/cli-cases.ts -- --before /tmp/old  # also an older build (a package folder with dist/ and build/)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFixtures, CLI_CASES, headline, runCase, type CaseResult } from '../test/helpers/cli-cases.js';

const args = process.argv.slice(2);
const beforeAt = args.indexOf('--before');
const before = beforeAt >= 0 ? resolve(args[beforeAt + 1]!) : undefined;
const after = resolve(import.meta.dirname, '..');

function cell(r: CaseResult): string {
  const code = r.signal ? `killed (${r.signal})` : String(r.code);
  const kept = r.changed.length ? ` **overwrote ${r.changed.map((f) => f.split('/').pop()).join(', ')}**` : '';
  const msg = headline(r).replaceAll('|', '\\|').replaceAll('\x1b', '\\x1b').replaceAll('\x07', '\\x07');
  return `${code} · ${(r.ms / 1000).toFixed(1)} s · ${msg || '(no output)'}${kept}`;
}

const builds = before
  ? ([
      ['before', before],
      ['after', after],
    ] as const)
  : ([['this build', after]] as const);
const results = new Map<string, string[]>();
for (const [, root] of builds) {
  // Fresh fixtures per build: a build that overwrites a model must not spoil the next one's run.
  const dir = mkdtempSync(join(tmpdir(), 'ww-cli-cases-'));
  try {
    const fixtures = await buildFixtures(dir);
    for (const c of CLI_CASES) {
      // A hang is stopped after 15 s and shows as killed.
      const r = await runCase(c, fixtures, join(root, 'dist/cli/main.js'), join(root, 'dist'), 15_000);
      results.set(c.id, [...(results.get(c.id) ?? []), cell(r).replaceAll(dir, '…')]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`| case | what | expected | ${builds.map(([n]) => n).join(' | ')} |`);
console.log(`|---|---|---|${builds.map(() => '---').join('|')}|`);
for (const c of CLI_CASES) console.log(`| ${c.id} | \`${c.what}\` | ${c.expect.code} | ${results.get(c.id)!.join(' | ')} |`);
