/**
 * analyze --plot / --report and the compare command (src/cli/plot-commands.ts): file names,
 * formats, exit codes and stdout of compare, self-contained HTML.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { WeightWatcher } from '../../src/index.js';
import { writeAnalyzePlots, writeAnalyzeReport } from '../../src/cli/plot-commands.js';
import { runCompare } from '../../src/cli/commands/compare.js';

const MINI = '/work/shared/corpus/minigpt';
const GOLDENS = '/work/shared/goldens';
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ww-report-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function capture() {
  const out = new PassThrough(),
    err = new PassThrough();
  let o = '',
    e = '';
  out.on('data', (d) => (o += d));
  err.on('data', (d) => (e += d));
  return { io: { stdout: out, stderr: err }, stdout: () => o, stderr: () => e };
}

function isPng(file: string): boolean {
  const b = readFileSync(file);
  return PNG_SIG.every((v, i) => b[i] === v) && b.length > 10_000;
}

/**
 * No network anywhere in a report: no external scripts, styles, images, fonts or fetches. The
 * inlined Vega runtime (interactive figures) is library code that can fetch when a spec names a URL;
 * the reports' specs hold their data inline (checked below with the rest of the page), and the
 * browser test checks that the page makes no request.
 */
function assertSelfContained(page: string): void {
  const html = page.replace(/<script data-ww="vega-runtime">[\s\S]*?<\/script>/g, '');
  expect(html).not.toMatch(/<script[^>]+src=/i);
  expect(html).not.toMatch(/<link[^>]+rel="stylesheet"/i);
  expect(html).not.toMatch(/<img[^>]+src="(?!data:)/i);
  expect(html).not.toMatch(/url\((['"]?)https?:/i);
  expect(html).not.toMatch(/@import/i);
  expect(html).not.toMatch(/\bfetch\(|XMLHttpRequest|cdn\./i);
  // the only absolute URLs are XML namespace names inside the inline SVGs
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
  for (const u of urls) expect(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']).toContain(u);
}

describe('analyze --plot DIR', () => {
  let ww: WeightWatcher;
  beforeAll(async () => {
    ww = new WeightWatcher(`${MINI}/big-data/model.safetensors`);
    await ww.analyze({ keep_evals: true });
  });

  it('writes layer<id>.<figure>.svg|png for every layer plus the model figures', async () => {
    const dir = join(tmp, 'plots');
    const files = await writeAnalyzePlots(dir, ww);
    const names = readdirSync(dir).sort();
    expect(names.length).toBe(files.length);
    const ids = ww.getDetails()!.map((r) => r.layer_id);
    for (const id of ids) {
      for (const fig of ['esd', 'esd-linear', 'esd-loglin', 'ks-vs-xmin', 'alpha-vs-xmin']) {
        expect(names).toContain(`layer${id}.${fig}.svg`);
        expect(names).toContain(`layer${id}.${fig}.png`);
      }
    }
    for (const fig of ['alpha-hist', 'alpha-depth', 'log_spectral_norm-depth']) {
      expect(names).toContain(`model.${fig}.svg`);
      expect(names).toContain(`model.${fig}.png`);
    }
    expect(files.length).toBe(ids.length * 5 * 2 + 3 * 2);
    for (const f of files.filter((f) => f.endsWith('.png'))) expect(isPng(f), f).toBe(true);
    for (const f of files.filter((f) => f.endsWith('.svg'))) expect(readFileSync(f, 'utf8').startsWith('<svg')).toBe(true);
  });

  it('formats option: SVG only', async () => {
    const dir = join(tmp, 'plots-svg');
    const files = await writeAnalyzePlots(dir, ww, { formats: ['svg'] });
    expect(files.every((f) => f.endsWith('.svg'))).toBe(true);
    expect(files.length).toBe(18 * 5 + 3);
  });

  it('refuses politely when analyze ran without keep_evals', async () => {
    const w2 = new WeightWatcher(`${MINI}/init/model.safetensors`);
    await w2.analyze({ layers: [0, 1] });
    await expect(writeAnalyzePlots(join(tmp, 'nope'), w2)).rejects.toThrow(/keep_evals/);
  });

  it('analyze --report: one self-contained HTML with summary, sortable table, model and layer figures', async () => {
    mkdirSync(join(tmp, 'sub'));
    const file = join(tmp, 'sub', 'report.html');
    await writeAnalyzeReport(file, ww, 'minigpt big-data');
    const html = readFileSync(file, 'utf8');
    assertSelfContained(html);
    expect(html).toContain('<title>minigpt big-data</title>');
    expect(html).toContain('id="details-table"');
    expect(html).toContain('class="data sortable"');
    expect((html.match(/<details class="layer/g) ?? []).length).toBe(18);
    expect((html.match(/<template>/g) ?? []).length).toBe(18); // small model: figures not compressed
    expect((html.match(/<tr class="warn-over"/g) ?? []).length).toBe(ww.getDetails()!.filter((r) => r.alpha < 2).length);
    for (const fig of ['alpha-hist', 'alpha-depth', 'log_spectral_norm-depth']) expect(html).toContain(`data-figure="${fig}"`);
    expect(html).toContain('<h2>Summary</h2>');
    expect(statSync(file).size).toBeLessThan(5_000_000);
  });
});

describe('weightwatcher compare', () => {
  const models = ['init', 'small-data', 'big-data'].map((m) => `${MINI}/${m}/model.safetensors`);

  it('compares the three minigpt models: table, counts, per-layer differences, PNG+SVG, HTML, JSON', async () => {
    const c = capture();
    const png = join(tmp, 'cmp', 'cmp.png');
    const html = join(tmp, 'cmp', 'cmp.html');
    const json = join(tmp, 'cmp', 'cmp.json');
    mkdirSync(join(tmp, 'cmp')); // output folders must exist: they are checked before the analysis
    const code = await runCompare([...models, '--plot', png, '--report', html, '--json', json], c.io);
    expect(code, c.stderr()).toBe(0);
    const out = c.stdout();
    expect(out).toMatch(/^metric\s+init\s+small-data\s+big-data$/m);
    expect(out).toMatch(/^alpha > 6 \(under-trained\)\s+15\s+0\s+0$/m);
    expect(out).toMatch(/^alpha < 2 \(over-trained\)\s+0\s+8\s+7$/m);
    expect(out).toContain('init: 15 layers with alpha > 6, 0 with alpha < 2 (of 18)');
    expect(out).toContain('Per-layer alpha (18 layers matched by name');
    expect(out).toMatch(/^h\.0\.attn\.c_attn\s+16\.68\d+\s+3\.35\d+\s+3\.28\d+\s+-13\.\d+\s+-13\.\d+$/m);
    expect(isPng(png)).toBe(true);
    expect(readFileSync(join(tmp, 'cmp', 'cmp.svg'), 'utf8')).toContain('small-data');
    const page = readFileSync(html, 'utf8');
    assertSelfContained(page);
    expect(page).toContain('id="diff-table"');
    // the compare figure's panels, each at its own size; the three charts interactive (hover, click)
    for (const panel of ['alpha-hist', 'alpha-depth', 'alpha-delta']) {
      expect(page).toContain(`data-figure="${panel}" data-spec="spec-cmp-${panel}"`);
    }
    expect(page).toContain('<script data-ww="vega-runtime">');
    // each model's layer ESDs, opened by a click on a layer (compressed, decoded on opening)
    for (const m of [0, 1, 2]) expect(page).toContain(`id="layer-m${m}-0"`);
    expect((page.match(/<template data-enc="gzip-base64">/g) ?? []).length).toBe(3 * 18);
    // α < 2 / α > 6 highlighted in the per-layer table
    expect(page).toMatch(/<td[^>]* class="n warn-under"[^>]*><span class="badge under"/);
    expect(page).toMatch(/<td[^>]* class="n warn-over"[^>]*><span class="badge over"/);
    const j = JSON.parse(readFileSync(json, 'utf8')) as {
      models: { name: string; counts: unknown }[];
      layer_diffs: unknown[];
      table: Record<string, unknown>[];
    };
    expect(j.models.map((m) => m.name)).toEqual(['init', 'small-data', 'big-data']);
    expect(j.models[0]!.counts).toEqual({ layers: 18, under: 15, over: 0, failed: 0 });
    expect(j.layer_diffs).toHaveLength(18);
    expect(j.table.find((t) => t.metric === 'alpha')!['big-data']).toBeCloseTo(2.2307677913990887, 8);
  });

  it('reads saved results ({details, summary, meta} JSON) and --names; --plot x.svg writes the PNG too', async () => {
    const c = capture();
    const svg = join(tmp, 'cmp2', 'x.svg');
    mkdirSync(join(tmp, 'cmp2'));
    const code = await runCompare(
      [`${GOLDENS}/minigpt-init/default.json`, `${GOLDENS}/minigpt-big-data/default.json`, '--names', 'untrained,trained', `--plot=${svg}`],
      c.io,
    );
    expect(code, c.stderr()).toBe(0);
    expect(c.stdout()).toMatch(/^metric\s+untrained\s+trained$/m);
    expect(c.stderr()).toContain('saved result');
    expect(existsSync(svg)).toBe(true);
    expect(isPng(join(tmp, 'cmp2', 'x.png'))).toBe(true);
  });

  it('mixes a model and a saved result; no per-layer table when names do not match', async () => {
    const fake = join(tmp, 'renamed.json');
    const g = JSON.parse(readFileSync(`${GOLDENS}/minigpt-big-data/default.json`, 'utf8')) as {
      details: ({ name: string } & Record<string, unknown>)[];
      summary?: unknown;
    };
    g.details = g.details.map((r) => ({ ...r, name: `other.${r.name}` }));
    delete g.summary;
    writeFileSync(fake, JSON.stringify(g));
    const c = capture();
    expect(await runCompare([models[2]!, fake], c.io)).toBe(0);
    expect(c.stdout()).toContain('No layer names common to all models');
    expect(c.stdout()).toMatch(/^alpha\s+2\.2308\s+2\.2308$/m); // summary recomputed from the details
  });

  it('usage errors exit 2, failures exit 1', async () => {
    const cases: [string[], number, RegExp][] = [
      [[models[0]!], 2, /at least two models/],
      [[...models.slice(0, 2), '--bogus'], 2, /unknown option --bogus/],
      [[...models.slice(0, 2), '--plot', 'x.gif'], 2, /\.png or \.svg/],
      [[...models.slice(0, 2), '--names', 'a'], 2, /--names has 1 names for 2 models/],
      [[...models.slice(0, 2), '--report'], 2, /--report needs a value/],
      [[models[0]!, join(tmp, 'missing.safetensors')], 1, /missing\.safetensors/],
    ];
    for (const [argv, code, msg] of cases) {
      const c = capture();
      expect(await runCompare(argv, c.io), argv.join(' ')).toBe(code);
      expect(c.stderr()).toMatch(msg);
    }
    const h = capture();
    expect(await runCompare(['--help'], h.io)).toBe(0);
    expect(h.stdout()).toContain('usage: weightwatcher compare');
  });
});

describe('compressed layer figures', () => {
  it('gzip+base64 payload decodes back to the figure markup', async () => {
    const { analyzeReportHtml } = await import('../../src/report/html.js');
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><defs><clipPath id="clip1"><rect width="1" height="1"/></clipPath></defs><g clip-path="url(#clip1)"/></svg>';
    const html = analyzeReportHtml({
      title: 't',
      rows: [{ layer_id: 0, name: 'a', alpha: 3 }],
      summary: { alpha: 3 },
      modelFigures: {},
      layers: [{ id: '0', row: { layer_id: 0, name: 'a', alpha: 3 }, figures: { esd: svg } }],
      compressLayers: true,
    });
    const b64 = /<template data-enc="gzip-base64">([^<]+)<\/template>/.exec(html)![1]!;
    const inner = gunzipSync(Buffer.from(b64, 'base64')).toString('utf8');
    expect(inner).toContain('data-figure="esd"');
    expect(inner).toContain('id="l0-esd-clip1"');
    expect(inner).toContain('url(#l0-esd-clip1)');
  });
});
