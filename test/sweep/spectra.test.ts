/**
 * Layer spectra in the results database (issue 22): each row's eigenvalues stored as float32, equal
 * to the analysis's; storing them changes no stored number and no run key; --no-spectra stores
 * none; a database made before spectra were stored is read with a note instead of failing (and
 * --force fills it in); the queue codec and part writes carry them bit for bit; the ESD summaries
 * the sweep report embeds, and the figure the page draws from them (the page's own view code, run
 * here in Node).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { WeightWatcher } from '../../src/index.js';
import { sweep, openResults, sweepReport, SCHEMA_VERSION } from '../../src/sweep/index.js';
import { openDatabase, ResultsWriter } from '../../src/sweep/db.js';
import { decodeJson, encodeJson } from '../../src/sweep/codec.js';
import { analyzePart } from '../../src/sweep/job.js';
import { NO_SPECTRA_NOTE } from '../../src/sweep/report.js';
import { summarize } from '../../src/report/summary.js';
import {
  ESD_FIT_DASH,
  ESD_HIST_DASH,
  LayerEsdBuilder,
  SWEEP_ESD_BINS,
  SWEEP_ESD_COLORS,
  sweepEsdSpec,
  type SweepEsdData,
  type SweepEsdView,
} from '../../src/report/plots/sweep-esd.js';
import { ESD_VIEW_JS } from '../../src/report/sweep-esd-panel.js';
import { renderSvg } from '../../src/report/plots/render.js';
import { browserRuntime, interactiveSpecs } from '../../src/report/interactive.js';
import { writeTrainingRun } from '../helpers/checkpoints.js';
import { runCli } from '../helpers/run-cli.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const dir = mkdtempSync(join(tmpdir(), 'ww-spectra-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CKPTS = writeTrainingRun(join(dir, 'run'), [0, 500, 1000]);

type ViewFn = (d: SweepEsdData, anchor: string, clicked: number, colors: readonly string[]) => (SweepEsdView & { picks: number[] }) | null;
/** The page's view code (sweep-esd-panel.ts), as the browser runs it. */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the page's own script text, run as the browser runs it
const loadView = new Function(`${ESD_VIEW_JS}\nreturn wwEsdView;`) as () => ViewFn;
const wwEsdView = loadView();

/** What a sweep stored that must not depend on the spectra. */
function dump(file: string) {
  const db = new Sqlite(file, { readonly: true });
  try {
    return {
      runs: db.prepare('SELECT run_key, status, summary_json, layers FROM runs ORDER BY run_key').all(),
      rows: db.prepare('SELECT run_key, layer_id, slice, row_json FROM layer_rows ORDER BY run_key, layer_id, slice').all(),
      spectra: db
        .prepare('SELECT count(*) AS n, coalesce(sum(length(evals)), 0) AS bytes, coalesce(sum(count), 0) AS evals FROM layer_spectra')
        .get() as {
        n: number;
        bytes: number;
        evals: number;
      },
    };
  } finally {
    db.close();
  }
}

describe('layer spectra in the results database', () => {
  const on = join(dir, 'on.sqlite');

  it("stores each row's eigenvalues as float32: the analysis's eigenvalues rounded to float32", async () => {
    const res = await sweep(CKPTS, { db: on });
    expect(res.analysed).toBe(3);
    const results = await openResults(on);
    try {
      for (const run of res.runs) {
        expect(results.spectraState(run.runKey)).toBe('stored');
        const ww = new WeightWatcher(run.path);
        await ww.analyze({ keep_evals: true });
        const want = ww.getLayerResults();
        const got = results.spectra(run.runKey);
        expect(got.map((s) => [s.layer_id, s.name])).toEqual(want.map((l) => [l.row.layer_id, l.row.name]));
        for (let i = 0; i < want.length; i++) {
          const ev = want[i]!.evals!;
          const st = got[i]!.evals;
          expect(st).toBeInstanceOf(Float32Array);
          expect(st.length).toBe(ev.length);
          // float32 rounding: within half an ulp, 2^-24 relative (plus the subnormal range).
          let worst = 0;
          for (let j = 0; j < ev.length; j++) worst = Math.max(worst, Math.abs(st[j]! - ev[j]!) - 2 ** -24 * Math.abs(ev[j]!));
          expect(worst).toBeLessThanOrEqual(1e-38);
        }
      }
    } finally {
      results.close();
    }
    const d = dump(on);
    expect(d.spectra.n).toBe(d.rows.length);
    expect(d.spectra.bytes).toBe(4 * d.spectra.evals);
    console.log(
      `spectra stored: ${d.spectra.n} rows, ${d.spectra.evals} eigenvalues, ${d.spectra.bytes} bytes for ${res.runs.length} checkpoints (${d.spectra.bytes / res.runs.length} bytes per checkpoint)`,
    );
  });

  it('storing spectra changes no stored number and no run key; --no-spectra stores none and says so', async () => {
    const off = join(dir, 'off.sqlite');
    const r = await runCli('sweep', ...CKPTS, '--db', off, '--no-spectra', '-q');
    expect(r.code, r.err).toBe(0);
    const a = dump(on);
    const b = dump(off);
    expect(b.runs).toEqual(a.runs);
    expect(b.rows).toEqual(a.rows);
    expect(b.spectra.n).toBe(0);
    const rep = await sweepReport({ db: off, report: join(dir, 'off.html') });
    expect(rep.notes).toContain('the runs were swept with --no-spectra: no ESD figures');
    expect(rep.esd).toBeUndefined();
    expect(readFileSync(join(dir, 'off.html'), 'utf8')).not.toContain('id="esd-panel"');
  });

  it('the rows of an analysis do not depend on collecting its spectra (seeded randomize and mp_fit too)', async () => {
    const opts = { randomize: true, mp_fit: true, seed: 3 };
    const plain = await analyzePart(CKPTS[1]!, opts, null);
    const withSpectra = await analyzePart(CKPTS[1]!, opts, null, { spectra: true });
    expect(plain.spectra).toBeUndefined();
    expect(encodeJson(withSpectra.rows)).toBe(encodeJson(plain.rows));
    expect(withSpectra.spectra!.map((s) => [s.layer_id, s.slice, s.evals.length])).toEqual(
      plain.rows.map((r) => [r.layer_id, -1, r.num_evals]),
    );
    // A layer-group job returns the spectra of its layers only.
    const part = await analyzePart(CKPTS[1]!, opts, [1, 2], { spectra: true });
    expect(part.spectra!.map((s) => s.layer_id)).toEqual([1, 2]);
  });

  it('a database made before spectra were stored: the report says so instead of failing; --force stores them', async () => {
    const old = join(dir, 'old.sqlite');
    await sweep(CKPTS, { db: old });
    // The schema just before spectra (SCHEMA_VERSION − 1): no table, no runs.spectra column.
    const d = new Sqlite(old);
    d.exec('DROP TABLE layer_spectra; ALTER TABLE runs DROP COLUMN spectra');
    d.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    d.close();

    const html = join(dir, 'old.html');
    const rep = await sweepReport({ db: old, report: html });
    expect(rep.notes).toContain(NO_SPECTRA_NOTE);
    expect(NO_SPECTRA_NOTE).toMatch(/^this database has no spectra \(made by an older version\); rerun the sweep to get ESD figures/);
    expect(rep.esd).toBeUndefined();
    expect(rep.data.points).toHaveLength(3);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('this database has no spectra (made by an older version); rerun the sweep to get ESD figures');
    expect(page).not.toContain('id="esd-panel"');
    const cli = await runCli('sweep-report', '--db', old);
    expect(cli.code, cli.err).toBe(0);
    expect(cli.out + cli.err).toContain('this database has no spectra (made by an older version)');

    // Opened, the database was migrated: a sweep without --force keeps its runs as they are…
    const again = await sweep(CKPTS, { db: old });
    expect([again.analysed, again.cached]).toEqual([0, 3]);
    expect((await sweepReport({ db: old })).notes).toContain(NO_SPECTRA_NOTE);
    // …and with --force they are analysed again, now with their spectra, and the same rows.
    const forced = await sweep(CKPTS, { db: old, force: true });
    expect(forced.analysed).toBe(3);
    const after = await sweepReport({ db: old, report: html });
    expect(after.notes.join('\n')).not.toMatch(/no spectra/);
    expect(Object.keys(after.esd!.layers)).toHaveLength(4);
    expect(dump(old).rows).toEqual(dump(on).rows);
  });

  it('queue parts: the codec carries float32 spectra bit for bit; part writes store them, a new split or a failure drops them', () => {
    const evals = Float32Array.from([0, 5e-45, 1e-30, 0.1, 3.5, 1e30]);
    const back = decodeJson<{ rows: unknown[]; spectra: { evals: Float32Array }[] }>(
      encodeJson({ rows: [{ layer_id: 0, alpha: NaN }], spectra: [{ layer_id: 0, slice: -1, evals }] }),
    );
    expect(back.spectra[0]!.evals).toBeInstanceOf(Float32Array);
    expect(Buffer.from(back.spectra[0]!.evals.buffer)).toEqual(Buffer.from(evals.buffer));
    expect(back.rows).toEqual([{ layer_id: 0, alpha: NaN }]);

    const db = openDatabase(':memory:');
    const w = new ResultsWriter(db);
    const id = { runKey: 'k', fingerprint: 'f', optionsHash: 'o', optionsJson: '{}', model: '/m', label: 'm' };
    const count = () => (db.prepare('SELECT count(*) AS n FROM layer_spectra').get() as { n: number }).n;
    const flag = () => (db.prepare('SELECT spectra FROM runs').get() as { spectra: number | null }).spectra;
    const rows = [
      { layer_id: 0, name: 'a', alpha: 2.5 },
      { layer_id: 1, name: 'b', alpha: 3 },
    ];
    const spectra = rows.map((r) => ({ layer_id: r.layer_id, slice: -1, evals }));
    w.beginQueuedRun(id, ['0-1']);
    w.writePart('k', { id: '0-1', layerIds: [0, 1], rows, failures: [], attempts: 1, elapsedMs: 1, spectra });
    w.writePart('k', { id: '0-1', layerIds: [0, 1], rows, failures: [], attempts: 2, elapsedMs: 1, spectra }); // replayed: replaced
    w.finishQueuedRun(id, rows, summarize(rows), { spectra: true });
    expect([count(), flag()]).toEqual([2, 1]);
    w.beginQueuedRun(id, ['all']);
    expect(count()).toBe(0);
    w.writeRun(id, rows, summarize(rows), {}, spectra);
    expect([count(), flag()]).toEqual([2, 1]);
    w.writeFailedRun(id, 'boom');
    expect(count()).toBe(0);
    w.writeRun(id, rows, summarize(rows), {});
    expect([count(), flag()]).toEqual([0, 0]);
    db.close();
  });
});

describe('the ESD summaries of the sweep report', () => {
  it('bins every shown eigenvalue of every checkpoint; the page draws densities that integrate to 1 and the fitted tail', async () => {
    const html = join(dir, 'on.html');
    const rep = await sweepReport({ db: join(dir, 'on.sqlite'), report: html });
    const esd = rep.esd!;
    expect(esd.bins).toBe(SWEEP_ESD_BINS);
    expect(esd.runs.map((r) => [r.step, r.label, r.name])).toEqual([
      [0, '0', 'step 0'],
      [500, '500', 'step 500'],
      [1000, '1000', 'step 1000'],
    ]);
    expect(Object.keys(esd.layers)).toEqual(['0', '1', '2', '3']);
    const results = await openResults(join(dir, 'on.sqlite'));
    try {
      const points = results.summarySeries();
      for (const [anchor, layer] of Object.entries(esd.layers)) {
        expect(layer.name).toBe(`${anchor} layer${anchor}`);
        layer.runs.forEach((r, i) => {
          expect(r).not.toBeNull();
          // Every histogrammed value is in a bin; the shown values are those above xmin/100 (R38).
          expect(r!.c.reduce((a, b) => a + b, 0)).toBe(r!.n);
          expect(r!.o + r!.c.length).toBeLessThanOrEqual(SWEEP_ESD_BINS);
          const point = points[i]!;
          const row = results.rows(point.runKey).find((x) => String(x.layer_id) === anchor)!;
          const evals = results.spectra(point.runKey).find((s) => String(s.layer_id) === anchor)!.evals;
          expect(r!.n).toBe(evals.filter((v) => v > (row.xmin as number) / 100).length);
          const xmax = typeof row.xmax === 'number' && row.xmax > 0 ? Math.fround(row.xmax) : Infinity;
          expect(r!.t).toBe(evals.filter((v) => v >= Math.fround(row.xmin as number) && v <= xmax).length);
          expect(r!.alpha).toBeCloseTo(row.alpha as number, 4);
        });
      }
    } finally {
      results.close();
    }

    // The view of layer 2 clicked at step 500, as the page computes it.
    const v = wwEsdView(esd, '2', 1, esd.colors)!;
    expect(v.picks).toEqual([0, 1, 2]);
    expect(v.domain).toEqual([
      'step 0 (first): ESD',
      expect.stringMatching(/^step 0 \(first\): power-law fit, α = \d/),
      'step 500 (clicked): ESD',
      expect.stringMatching(/^step 500 \(clicked\): power-law fit, α = \d/),
      'step 1000 (last): ESD',
      expect.stringMatching(/^step 1000 \(last\): power-law fit, α = \d/),
    ]);
    expect(v.colors).toEqual([0, 0, 1, 1, 2, 2].map((i) => SWEEP_ESD_COLORS[i]));
    expect(v.dashes).toEqual([ESD_HIST_DASH, ESD_FIT_DASH, ESD_HIST_DASH, ESD_FIT_DASH, ESD_HIST_DASH, ESD_FIT_DASH]);
    const layer = esd.layers['2']!;
    const w = (layer.hi - layer.lo) / esd.bins;
    for (const [ri, label] of [
      [0, 'step 0 (first): ESD'],
      [1, 'step 500 (clicked): ESD'],
    ] as const) {
      const pts = v.hist.filter((p) => p.series === label);
      const r = layer.runs[ri]!;
      // The outline: floor, one point per listed bin, the last bin's right edge, floor.
      expect(pts).toHaveLength(r.c.length + 3);
      let area = 0;
      for (let k = 0; k < r.c.length; k++) {
        const y = pts[k + 1]!.y;
        const width = 10 ** (layer.lo + (r.o + k + 1) * w) - 10 ** (layer.lo + (r.o + k) * w);
        if (r.c[k]! > 0) area += y * width;
        else expect(y).toBe(v.y[0]);
      }
      expect(area).toBeCloseTo(1, 10);
      const fit = v.fit.filter((p) => p.series.startsWith(label.replace(': ESD', ': power-law')));
      expect(fit[0]!.x).toBeCloseTo(r.xmin!, 10);
      expect(fit[0]!.y).toBeCloseTo(((r.t / r.n) * (r.alpha! - 1)) / r.xmin!, 10);
      expect(fit[fit.length - 1]!.x).toBeCloseTo(r.xend!, 8);
    }
    // Clicking the first or last step: two series, the roles merged.
    expect(wwEsdView(esd, '2', 0, esd.colors)!.domain.filter((d) => d.endsWith(': ESD'))).toEqual([
      'step 0 (first, clicked): ESD',
      'step 1000 (last): ESD',
    ]);
    expect(wwEsdView(esd, 'nope', 0, esd.colors)).toBeNull();

    // The figure renders with its legend; the page carries the data and the compiled template.
    const svg = await renderSvg(sweepEsdSpec(v));
    expect(svg).toContain('power-law fit');
    const page = readFileSync(html, 'utf8');
    if (browserRuntime()) {
      expect(page).toContain('id="esd-panel"');
      expect(page).toContain('id="ww-sweep-esd-data"');
      const size = /<script type="application\/json" id="ww-sweep-esd-data">([^<]*)<\/script>/.exec(page)![1]!.length;
      console.log(`ESD panel data: ${size} bytes for ${Object.keys(esd.layers).length} layers × ${esd.runs.length} checkpoints`);
    }
  });

  it('the compiled template has the data and scales the page fills', async () => {
    if (!browserRuntime()) {
      console.warn('[skipped] vega-embed not installed: reports are static, no template');
      return;
    }
    const { t } = await interactiveSpecs({ t: sweepEsdSpec() });
    const vg = t as {
      data: { name: string }[];
      scales: { name: string; domain: unknown; range: unknown }[];
      legends: { stroke?: string; strokeDash?: string; values?: unknown }[];
    };
    expect(vg.data.map((d) => d.name)).toEqual(expect.arrayContaining(['hist', 'fit']));
    // One legend of colour and dash, its entries listed (the page replaces them with the scales' domain).
    expect(vg.legends.map((l) => [l.stroke, l.strokeDash, Array.isArray(l.values)])).toEqual([['color', 'strokeDash', true]]);
    for (const name of ['x', 'y', 'color', 'strokeDash']) {
      const s = vg.scales.find((x) => x.name === name);
      expect(s, name).toBeDefined();
      expect(Array.isArray(s!.domain), `${name} domain`).toBe(true);
    }
  });

  it('LayerEsdBuilder: a failed fit shows values above 0.4·λmax/100 and has no tail; a layer missing at a checkpoint is null there', () => {
    const b = new LayerEsdBuilder(2, 10);
    const evals = Float32Array.from([0.001, 0.5, 1, 2, 4, 8, 100]);
    b.observe('a', 0, evals, { xmin: null, xmax: null, alpha: null });
    b.count('a', 0, evals);
    const out = b.result([
      { key: 'a', anchor: '0', name: '0 a' },
      { key: 'absent', anchor: '1', name: '1 b' },
    ]);
    expect(Object.keys(out)).toEqual(['0']);
    const r = out['0']!.runs[0]!;
    expect(r.n).toBe(6); // 0.001 ≤ 0.4·100/100
    expect([r.t, r.xmin, r.alpha, r.xend]).toEqual([0, null, null, null]);
    expect(out['0']!.runs[1]).toBeNull();
    expect(out['0']!.lo).toBeCloseTo(Math.log10(0.5), 6);
    expect(out['0']!.hi).toBeCloseTo(2, 6);
  });
});
