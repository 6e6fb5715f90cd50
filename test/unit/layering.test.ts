/**
 * Imports run one way. Every import between top-level folders of src/ must go down this list
 * (an import within one folder is always allowed):
 *
 *   cli → watcher (watcher.ts, index.ts) → sweep → report → recipes → engine → metrics → spectra → tensors
 *       → layers → hub → formats → native → shared
 *
 * shared/ is the ground floor (options, row types, errors, numeric helpers) and imports nothing
 * from src. Static imports, re-exports and dynamic import() are all checked.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAYERS = [
  'cli',
  'watcher',
  'sweep',
  'report',
  'recipes',
  'engine',
  'metrics',
  'spectra',
  'tensors',
  'layers',
  'hub',
  'formats',
  'native',
  'shared',
] as const;

const src = resolve(import.meta.dirname, '..', '..', 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** The layer of a file under src/: its top-level folder, or 'watcher' for the files at the root. */
function layerOf(file: string): string {
  const rel = relative(src, file).split(/[\\/]/);
  return rel.length === 1 ? 'watcher' : rel[0]!;
}

/** Relative module specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
function importsOf(code: string): string[] {
  const specs: string[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of code.matchAll(re)) {
    const s = m[1] ?? m[2] ?? m[3]!;
    if (s.startsWith('.')) specs.push(s);
  }
  return specs;
}

describe('module layering', () => {
  const edges = tsFiles(src).flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).map((spec) => ({
      file: relative(src, file),
      from: layerOf(file),
      to: layerOf(resolve(dirname(file), spec)),
      spec,
    })),
  );

  it('parses the imports of every module', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(
      importsOf("import { a } from './x.js';\nexport type { B } from '../y.js';\nimport './z.js';\nconst m = await import('../w.js');"),
    ).toEqual(['./x.js', '../y.js', './z.js', '../w.js']);
  });

  it('every folder of src is in the layer list', () => {
    for (const e of edges) {
      expect(LAYERS, `${e.file}`).toContain(e.from);
      expect(LAYERS, `${e.file} → ${e.spec}`).toContain(e.to);
    }
  });

  it('no import runs upward', () => {
    const rank = (l: string) => LAYERS.indexOf(l as (typeof LAYERS)[number]);
    const upward = edges
      .filter((e) => e.from !== e.to && rank(e.to) < rank(e.from))
      .map((e) => `${e.file} (${e.from}) imports ${e.spec} (${e.to})`);
    expect(upward).toEqual([]);
  });
});
