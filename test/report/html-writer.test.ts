/**
 * The streaming report writer (src/report/html-writer.ts) writes the page analyzeReportHtml makes
 * from the same layers — plain, compressed, and when the figures cross the compression threshold
 * part-way — in row order whatever order layers arrive in, atomically, and cleans up after itself.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeReportHtml, COMPRESS_THRESHOLD, type LayerSection } from '../../src/report/html.js';
import { AnalyzeReportWriter } from '../../src/report/html-writer.js';
import type { Row } from '../../src/shared/rows.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ww-html-writer-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const generated = new Date('2024-01-02T03:04:05Z');

function svg(id: string, fig: string, size: number): string {
  const body = `<path d="M0,0h1v1Z"/><text>${id} ${fig}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><defs><clipPath id="clip1"><rect width="1" height="1"/></clipPath></defs><g clip-path="url(#clip1)">${body.repeat(Math.max(1, Math.floor(size / body.length)))}</g></svg>`;
}

function sections(n: number, figSize: number): { rows: Row[]; layers: LayerSection[] } {
  const rows: Row[] = Array.from({ length: n }, (_, i) => ({ layer_id: i, name: `block.${i}.weight`, alpha: 1.5 + i, status: 'success' }));
  // A row without figures (eigenvalues not kept for it) has no section.
  const layers = rows
    .filter((r) => r.layer_id !== 1)
    .map((row) => {
      const id = String(row.layer_id);
      return { id, row, figures: { esd: svg(id, 'esd', figSize), 'alpha-vs-xmin': svg(id, 'alpha', figSize) } };
    });
  return { rows, layers };
}

const frame = (rows: Row[]) => ({
  title: 'report <test>',
  rows,
  summary: { alpha: 3 },
  source: 'm.safetensors',
  format: 'safetensors',
  elapsedMs: 1234,
  notes: ['skipped: 9 x'],
  modelFigures: { 'alpha-hist': svg('m', 'hist', 100) },
  generated,
});

async function streamed(file: string, rows: Row[], layers: LayerSection[], compressLayers?: boolean | 'auto'): Promise<string> {
  const w = new AnalyzeReportWriter(compressLayers === undefined ? {} : { compressLayers });
  // Layers arrive out of order (concurrent analysis); the page lists them in row order.
  for (const l of [...layers].reverse()) w.addLayer(l);
  expect(w.layerCount).toBe(layers.length);
  await w.write(file, frame(rows));
  return readFileSync(file, 'utf8');
}

describe('AnalyzeReportWriter', () => {
  it('small report: plain layer sections, the same page as analyzeReportHtml', async () => {
    const { rows, layers } = sections(5, 2000);
    const html = await streamed(join(tmp, 'a', 'plain.html'), rows, layers);
    expect(html).toBe(analyzeReportHtml({ ...frame(rows), layers }));
    expect((html.match(/<template>/g) ?? []).length).toBe(4);
    expect(html.indexOf('id="layer-0"')).toBeLessThan(html.indexOf('id="layer-4"'));
  });

  it('compressLayers: true — every section gzip+base64, the same page', async () => {
    const { rows, layers } = sections(4, 3000);
    const html = await streamed(join(tmp, 'gz.html'), rows, layers, true);
    expect(html).toBe(analyzeReportHtml({ ...frame(rows), layers, compressLayers: true }));
    expect((html.match(/<template data-enc="gzip-base64">/g) ?? []).length).toBe(3);
  });

  it('figures crossing the threshold part-way: all sections compressed, the same page', async () => {
    const per = Math.ceil(COMPRESS_THRESHOLD / 5); // two figures per layer: past the threshold at the third layer
    const { rows, layers } = sections(5, per);
    const html = await streamed(join(tmp, 'auto.html'), rows, layers);
    expect(html).toBe(analyzeReportHtml({ ...frame(rows), layers }));
    expect(html).not.toContain('<template>');
  }, 60_000);

  it('no layer figures: the note instead of sections', async () => {
    const { rows } = sections(3, 100);
    const html = await streamed(join(tmp, 'none.html'), rows, []);
    expect(html).toBe(analyzeReportHtml({ ...frame(rows), layers: [] }));
    expect(html).toContain('No per-layer figures');
  });

  it('writes atomically: no temporary files left, a failed write leaves no file', async () => {
    const names = readdirSync(tmp);
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const w = new AnalyzeReportWriter();
    const { rows, layers } = sections(2, 100);
    for (const l of layers) w.addLayer(l);
    const blocked = join(tmp, 'gz.html', 'inside-a-file.html'); // parent is a file
    await expect(w.write(blocked, frame(rows))).rejects.toMatchObject({ code: 'E_IO' });
    expect(existsSync(blocked)).toBe(false);
  });
});
