/**
 * Keeps docs/cli.md in step with the command line: the blocks between `<!-- generated: KEY -->` and
 * `<!-- end generated -->` are the CLI's own help texts (`weightwatcher --help` for KEY `overview`,
 * `weightwatcher <name> --help` for KEY `command <name>`), generated from the option specs the
 * parser uses. A command without a block gets a new section at the end of the file.
 *
 *   npx vite-node scripts/gen-cli-docs.ts            rewrite docs/cli.md
 *   npx vite-node scripts/gen-cli-docs.ts --check    exit 1 if docs/cli.md is out of date
 *
 * test/unit/cli-docs.test.ts runs the check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS, overviewHelp } from '../src/cli/main.js';
import { PROGRAM, commandHelp } from '../src/cli/command.js';
import { VERSION } from '../src/cli/version.js';

export const CLI_DOC_PATH = fileURLToPath(new URL('../docs/cli.md', import.meta.url));

const BLOCK = /<!-- generated: ([^>]*?) -->\n[\s\S]*?<!-- end generated -->/g;

function block(key: string, text: string): string {
  return `<!-- generated: ${key} -->\n\`\`\`text\n${text.trimEnd()}\n\`\`\`\n<!-- end generated -->`;
}

/** Help text per block key. The version is left out so that a release does not stale the page. */
export function helpTexts(): Map<string, string> {
  const texts = new Map<string, string>([['overview', overviewHelp().replace(`${PROGRAM} ${VERSION} `, `${PROGRAM} <version> `)]]);
  for (const cmd of COMMANDS) texts.set(`command ${cmd.name}`, commandHelp(cmd));
  return texts;
}

/** docs/cli.md with every generated block brought up to date. */
export function renderCliDoc(current: string, texts: ReadonlyMap<string, string> = helpTexts()): string {
  const seen = new Set<string>();
  let out = current.replace(BLOCK, (_, key: string) => {
    const text = texts.get(key);
    if (text === undefined)
      throw new Error(`docs/cli.md has a generated block for "${key}", which the CLI no longer has: remove that section`);
    seen.add(key);
    return block(key, text);
  });
  for (const cmd of COMMANDS) {
    const key = `command ${cmd.name}`;
    if (seen.has(key)) continue;
    out = `${out.trimEnd()}\n\n## ${PROGRAM} ${cmd.name}\n\n${block(key, texts.get(key)!)}\n`;
  }
  return out;
}

function runFromCommandLine(): void {
  const current = readFileSync(CLI_DOC_PATH, 'utf8');
  const next = renderCliDoc(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('docs/cli.md is out of date: run npx vite-node scripts/gen-cli-docs.ts\n');
      process.exitCode = 1;
    }
    return;
  }
  if (next !== current) writeFileSync(CLI_DOC_PATH, next);
  process.stdout.write(next === current ? 'docs/cli.md is up to date\n' : 'docs/cli.md updated\n');
}

// vite-node drops the script's path from argv; under vitest argv[1] is a vitest worker.
if (/vite-node(\.m?js)?$/.test(process.argv[1] ?? '')) runFromCommandLine();
