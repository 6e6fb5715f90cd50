/** docs/cli.md carries the CLI's own --help texts; they must match what the commands print now. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_DOC_PATH, helpTexts, renderCliDoc } from '../../scripts/gen-cli-docs.js';
import { COMMANDS } from '../../src/cli/main.js';

describe('docs/cli.md', () => {
  const current = readFileSync(CLI_DOC_PATH, 'utf8');

  it("has every command's help, as the CLI prints it (else: npx vite-node scripts/gen-cli-docs.ts)", () => {
    expect(renderCliDoc(current)).toBe(current);
  });

  it('has a generated block for the overview and each command in COMMANDS', () => {
    for (const key of ['overview', ...COMMANDS.map((c) => `command ${c.name}`)]) expect(current).toContain(`<!-- generated: ${key} -->`);
  });

  it('the generator replaces stale blocks, appends missing commands and rejects removed ones', () => {
    const texts = helpTexts();
    const stale = '# CLI\n\n<!-- generated: overview -->\nold\n<!-- end generated -->\n';
    const out = renderCliDoc(stale, texts);
    expect(out).toContain(texts.get('overview')!.trimEnd());
    expect(out).not.toContain('\nold\n');
    for (const c of COMMANDS) expect(out).toContain(`## weightwatcher ${c.name}\n\n<!-- generated: command ${c.name} -->`);
    expect(renderCliDoc(out, texts)).toBe(out);
    expect(() => renderCliDoc('<!-- generated: command gone -->\nx\n<!-- end generated -->', texts)).toThrow(/gone/);
  });
});
