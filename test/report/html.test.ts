/** Unit tests of the report building blocks: names, layer matching, counts, HTML safety, SVG ids. */
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { defaultNames, layerDiffs, countWarnings, compareResults, formatCompareText, type CompareInput } from '../../src/report/compare.js';
import { escapeHtml, uniquifySvgIds, detailsTable, analyzeReportHtml } from '../../src/report/html.js';
import type { Row } from '../../src/shared/rows.js';

const row = (id: number, name: string, alpha: number, extra: Row = {}): Row => ({
  layer_id: id,
  name,
  alpha,
  status: alpha < 0 ? 'failed' : 'success',
  ...extra,
});

describe('compare helpers', () => {
  it('derives short distinct model names from paths', () => {
    expect(defaultNames(['/c/minigpt/init/model.safetensors', '/c/minigpt/big-data/model.safetensors'])).toEqual(['init', 'big-data']);
    expect(defaultNames(['/g/minigpt-init/default.json', '/g/minigpt-big-data/default.json'])).toEqual([
      'minigpt-init',
      'minigpt-big-data',
    ]);
    expect(defaultNames(['/m/a.safetensors', '/m/b.safetensors'])).toEqual(['a', 'b']);
    expect(defaultNames(['/m/a.safetensors', '/m/a.safetensors'])).toEqual(['a#1', 'a#2']);
    expect(defaultNames(['/x/run1/ckpt/model.pt', '/x/run2/ckpt/model.pt', '/x/run3/ckpt/model.pt'])).toEqual(['run1', 'run2', 'run3']);
  });

  it('counts alpha > 6 / < 2 without failed fits', () => {
    expect(countWarnings([row(0, 'a', 1.5), row(1, 'b', 7), row(2, 'c', -1), row(3, 'd', 3)])).toEqual({
      layers: 4,
      under: 1,
      over: 1,
      failed: 1,
    });
  });

  it('matches layers by name (and slice), skipping ambiguous or missing ones', () => {
    const a = [row(0, 'x', 3), row(1, 'y', 4), row(2, 'z', 5), row(3, 'dup', 2), row(4, 'dup', 2)];
    const b = [row(5, 'z', 2), row(6, 'x', 2.5), row(7, 'dup', 1)];
    const d = layerDiffs([{ rows: a }, { rows: b }]);
    expect(d.map((x) => x.name)).toEqual(['x', 'z']);
    expect(d[0]!.deltas[0]).toBeCloseTo(-0.5, 12);
    expect(d[1]!.layer_ids).toEqual([2, 5]);
    const s = layerDiffs([
      { rows: [row(0, 'c', 3, { slice_id: 0 }), row(0, 'c', 4, { slice_id: 1 })] },
      { rows: [row(0, 'c', 5, { slice_id: 1 })] },
    ]);
    expect(s.map((x) => x.name)).toEqual(['c:1']);
    expect(layerDiffs([{ rows: [row(0, 'f', -1)] }, { rows: [row(0, 'f', 3)] }])[0]!.deltas).toEqual([null]);
  });

  it('formats the side-by-side text table', () => {
    const inputs: CompareInput[] = [
      { name: 'A', source: 'a', kind: 'json', rows: [row(0, 'x', 7)], summary: { alpha: 7 } },
      { name: 'B', source: 'b', kind: 'json', rows: [row(0, 'x', 1.5)], summary: { alpha: 1.5 } },
    ];
    const text = formatCompareText(compareResults(inputs));
    expect(text).toMatch(/^metric\s+A\s+B$/m);
    expect(text).toMatch(/^alpha\s+7\s+1\.5000$/m);
    expect(text).toMatch(/^alpha > 6 \(under-trained\)\s+1\s+0$/m);
    expect(text).toMatch(/^x\s+7\s+1\.5000\s+-5\.5000$/m);
  });
});

describe('HTML building blocks', () => {
  it('escapes text', () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });

  it('prefixes SVG ids and their references', () => {
    const svg = '<svg><defs><clipPath id="clip1"/></defs><g clip-path="url(#clip1)"/><use href="#clip1"/><g id="other"/></svg>';
    const out = uniquifySvgIds(svg, 'p');
    expect(out).toBe(
      '<svg><defs><clipPath id="p-clip1"/></defs><g clip-path="url(#p-clip1)"/><use href="#p-clip1"/><g id="p-other"/></svg>',
    );
    expect(uniquifySvgIds('<svg/>', 'p')).toBe('<svg/>');
  });

  it('details table: numeric sort keys, warning classes, escaped names', () => {
    const html = detailsTable([row(0, '<evil>', 1.2), row(1, 'ok', 3), row(2, 'big', 9.5), row(3, 'bad', -1)], { id: 't' });
    expect(html).toContain('&lt;evil&gt;');
    expect(html).not.toContain('<evil>');
    expect(html).toContain('<tr class="warn-over" data-warn="over" data-layer="&lt;evil&gt;">');
    expect(html).toContain('<tr class="warn-under" data-warn="under" data-layer="big">');
    expect(html).toContain('<tr class="warn-failed" data-warn="failed" data-layer="bad">');
    expect(html).toContain('data-col="alpha" data-type="num"');
    expect(html).toContain('data-col="name" data-type="str"');
  });

  it('a report without layers or figures is still a complete page', () => {
    const html = analyzeReportHtml({ title: 'empty <model>', rows: [], summary: {}, modelFigures: {}, layers: [] });
    expect(html).toContain('<title>empty &lt;model&gt;</title>');
    expect(html).toContain('No per-layer figures');
    expect(html.trim().endsWith('</html>')).toBe(true);
  });
});

describe('untrusted names in the report', () => {
  it('tensor names and titles from a model file are escaped, never markup', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { WeightWatcher } = await import('../../src/index.js');
    const { writeAnalyzeReport } = await import('../../src/cli/plot-commands.js');
    const dir = mkdtempSync(join(tmpdir(), 'ww-xss-'));
    try {
      const data = Float32Array.from({ length: 40 * 30 }, (_, k) => Math.sin(k * 0.37) + Math.cos(k));
      const ww = new WeightWatcher([{ name: '<script>alert(1)</script><img src=x onerror=alert(2)>.weight', shape: [40, 30], data }]);
      await ww.analyze({ keep_evals: true });
      const file = join(dir, 'r.html');
      await writeAnalyzeReport(file, ww, '<b>title</b>');
      const html = readFileSync(file, 'utf8');
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
      expect(html).not.toContain('<b>title</b>');
      expect(html).toContain('&lt;script&gt;alert(1)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
