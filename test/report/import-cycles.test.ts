/**
 * The two type-only import cycles of issue 18 stay broken: `cli/commands/compare.ts` ⇄
 * `cli/plot-commands.ts` (CompareRequest now lives in report/compare.ts) and
 * `report/plots/render.ts` ⇄ `template.ts` (VlSpec in report/plots/spec.ts). Checked over the whole
 * plot and report half of the tree: no module there reaches itself through its imports, static,
 * type-only or dynamic.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve('src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

describe('import cycles in the plot and report modules', () => {
  it('none: compare ⇄ plot-commands and render ⇄ template are gone', () => {
    const scope = [...files(join(ROOT, 'report')), join(ROOT, 'cli/plot-commands.ts'), join(ROOT, 'cli/commands/compare.ts')];
    const graph = new Map(scope.map((f) => [f, imports(f).filter((i) => scope.includes(i))]));
    const cycles: string[] = [];
    for (const start of scope) {
      const stack: string[][] = [[start]];
      const seen = new Set<string>();
      while (stack.length) {
        const path = stack.pop()!;
        for (const next of graph.get(path[path.length - 1]!) ?? []) {
          if (next === start) cycles.push([...path, next].map((p) => p.slice(ROOT.length + 1)).join(' → '));
          else if (!seen.has(next)) {
            seen.add(next);
            stack.push([...path, next]);
          }
        }
      }
    }
    expect(cycles).toEqual([]);
  });
});
