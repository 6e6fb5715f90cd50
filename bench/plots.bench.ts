/**
 * Figures at analysis speed: `analyze --plot` on minigpt big-data (18 layers, 93 figures) through
 * the built CLI, and `analyze --report` on generated models of increasing layer count (peak RSS).
 *
 *   npm run build && npm run bench:plots
 *   npm run bench:plots -- --runs 5 --blocks 30,120
 *   npm run bench:plots -- --baseline /path/to/previous/dist/cli/main.js   # also time another build
 *   npm run bench:plots -- --only plot            # or --only report
 *
 * --plot rows, each best of N runs (wall time; CPU = user + system of that run; peak RSS):
 *   sequential, no templates   WW_PLOT_WORKERS=0 WW_PLOT_TEMPLATES=0: one figure at a time in the
 *                              main thread, each compiled on its own — the way figures were rendered
 *                              before worker threads and templates (the baseline of the ratios)
 *   sequential, templates      WW_PLOT_WORKERS=0: templates alone
 *   parallel, WW_PNG_FAST=0    as the default, but resvg lays out the text itself and every clip is
 *                              kept (the PNG path before text-outline.ts and clip-elide.ts)
 *   parallel, V8/mimalloc defaults
 *                              as the default, with V8's own tier-up budget and mimalloc's own purge
 *                              delay (the CLI before src/cli/process-tuning.ts)
 *   parallel (default)         worker threads (one per core) + templates, SVG and PNG (2×)
 *   parallel, --plot-scale 1   PNGs at the SVG's size
 *   parallel, --plot-format svg
 *   analysis only              no --plot, for reference
 *
 * --report rows: the streaming report (figures rendered and compressed as layers finish, ESDs let
 * go) against keeping every layer's ESD and figure until the end and then writing the page (the
 * structure before this change, run here with the same renderer), on models of 2·blocks layers
 * (512×256 and 256×512 weights, bench/model-gen.ts). Peak RSS should not grow with the layers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { manyLayerLayout, writeLayout } from './model-gen.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const runs = Number(opt('--runs')) || 3;
const blocks = (opt('--blocks') ?? '30,120').split(',').map(Number);
const baseline = opt('--baseline');
const only = opt('--only');
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const shared = process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared');
const cli = join(root, 'dist', 'cli', 'main.js');
const minigpt = join(shared, 'corpus', 'minigpt', 'big-data', 'model.safetensors');
const TIME = '/usr/bin/time';

if (!existsSync(cli)) {
  console.error('no build: run npm run build first');
  process.exit(1);
}

interface Run {
  wall: number;
  cpu: number;
  rssMb: number;
}

/** Run node with args under /usr/bin/time (when present) for CPU and peak RSS. */
function timed(nodeArgs: string[], env: Record<string, string> = {}): Run {
  const full = { ...process.env, ...env };
  const t0 = performance.now();
  if (existsSync(TIME)) {
    const r = spawnSync(TIME, ['-f', 'WWTIME %e %U %S %M', process.execPath, ...nodeArgs], {
      env: full,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const wall = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`failed (${r.status}): node ${nodeArgs.join(' ')}\n${r.stderr}`);
    const m = /WWTIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr)!;
    return { wall, cpu: Number(m[2]) + Number(m[3]), rssMb: Number(m[4]) / 1024 };
  }
  execFileSync(process.execPath, nodeArgs, { env: full, stdio: 'ignore' });
  return { wall: (performance.now() - t0) / 1000, cpu: NaN, rssMb: NaN };
}

function best(f: () => Run): Run {
  const rs = Array.from({ length: runs }, f);
  return { wall: Math.min(...rs.map((r) => r.wall)), cpu: Math.min(...rs.map((r) => r.cpu)), rssMb: Math.min(...rs.map((r) => r.rssMb)) };
}

const fmtRun = (r: Run) => `${r.wall.toFixed(2).padStart(7)} s ${r.cpu.toFixed(2).padStart(7)} s ${r.rssMb.toFixed(0).padStart(7)} MB`;

const work = mkdtempSync(join(tmpdir(), 'ww-plots-bench-'));
try {
  console.log(
    `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, node ${process.version}; load average at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  if (only === 'report') {
    /* --plot part skipped */
  } else if (existsSync(minigpt)) {
    console.log(`\nanalyze --plot, minigpt big-data (18 layers: 90 layer figures + 3 model figures), best of ${runs}`);
    console.log(`${''.padEnd(34)} ${'wall'.padStart(9)} ${'CPU'.padStart(9)} ${'peak RSS'.padStart(10)}   vs sequential`);
    const plot = (env: Record<string, string>, extra: string[] = [], bin = cli, nodeFlags: string[] = []) =>
      best(() => {
        const dir = join(work, `plot-${Math.random().toString(36).slice(2)}`);
        try {
          return timed([...nodeFlags, bin, 'analyze', minigpt, '--plot', dir, '-q', ...extra], env);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    const rows: [string, Run][] = [];
    const seq = plot({ WW_PLOT_WORKERS: '0', WW_PLOT_TEMPLATES: '0' });
    rows.push(['sequential, no templates', seq]);
    if (baseline) rows.push([`baseline ${baseline.length > 24 ? `…${baseline.slice(-23)}` : baseline}`, plot({}, [], baseline)]);
    rows.push(['sequential, templates', plot({ WW_PLOT_WORKERS: '0' })]);
    rows.push(['parallel, WW_PNG_FAST=0', plot({ WW_PNG_FAST: '0' })]);
    // V8's default tier-up budget and mimalloc's default purging: the CLI before process-tuning.ts.
    rows.push(['parallel, V8/mimalloc defaults', plot({ MIMALLOC_PURGE_DELAY: '10' }, [], cli, ['--interrupt-budget=67584'])]);
    rows.push(['parallel + templates (default)', plot({})]);
    rows.push(['parallel, --plot-scale 1', plot({}, ['--plot-scale', '1'])]);
    rows.push(['parallel, --plot-format svg', plot({}, ['--plot-format', 'svg'])]);
    rows.push(['analysis only (no --plot)', best(() => timed([cli, 'analyze', minigpt, '-q']))]);
    for (const [label, r] of rows) console.log(`${label.padEnd(34)} ${fmtRun(r)}   ×${(seq.wall / r.wall).toFixed(2)}`);
  } else console.log(`(skipping minigpt: ${minigpt} not found; set WW_SHARED_DIR)`);

  if (only !== 'plot') {
    console.log('\nanalyze --report on generated models (512×256 layers), one run each');
    console.log(`${'layers'.padStart(6)}  ${'streaming report (CLI)'.padEnd(46)}  ${'keep every ESD + figure, then write'.padEnd(46)}`);
    const distUrl = (p: string) => pathToFileURL(join(root, 'dist', p)).href;
    // The structure before: analyze with keep_evals, render every layer's figures into memory, build the page.
    const keepAll = `import { writeFileSync } from 'node:fs';
const { WeightWatcher } = await import(${JSON.stringify(distUrl('index.js'))});
const { layerFigureSpecs, layerPlotId } = await import(${JSON.stringify(distUrl('report/plots/layer.js'))});
const { modelFigureSpecs } = await import(${JSON.stringify(distUrl('report/plots/model.js'))});
const { createPlotRenderer } = await import(${JSON.stringify(distUrl('report/plots/pool.js'))});
const { analyzeReportHtml } = await import(${JSON.stringify(distUrl('report/html.js'))});
const { WW_BENCH_MODEL: model, WW_BENCH_OUT: out } = process.env;
const ww = new WeightWatcher(model);
await ww.analyze({ keep_evals: true });
const r = createPlotRenderer();
const render = async (specs) => Object.fromEntries(await Promise.all(Object.entries(specs).filter(([, s]) => s).map(async ([k, s]) => [k, (await r.render(s)).svg])));
const layers = await Promise.all(ww.getLayerResults().map(async (l) => ({ id: layerPlotId(l.row), row: l.row, figures: await render(layerFigureSpecs(l)) })));
const rows = ww.getDetails();
writeFileSync(out, analyzeReportHtml({ title: model, rows, summary: ww.getSummary(), modelFigures: await render(modelFigureSpecs(rows)), layers }));
await r.close();`;
    for (const b of blocks) {
      const model = join(work, `layers-${2 * b}.safetensors`);
      await writeLayout(model, manyLayerLayout(b));
      const streaming = timed([cli, 'analyze', model, '--report', join(work, 'stream.html'), '-q']);
      const kept = timed(['--input-type=module', '-e', keepAll], { WW_BENCH_MODEL: model, WW_BENCH_OUT: join(work, 'kept.html') });
      const cell = (r: Run) =>
        `${r.wall.toFixed(1).padStart(6)} s (CPU ${r.cpu.toFixed(1).padStart(5)} s), peak RSS ${r.rssMb.toFixed(0).padStart(4)} MB`.padEnd(
          46,
        );
      console.log(`${String(2 * b).padStart(6)}  ${cell(streaming)}  ${cell(kept)}`);
      rmSync(model, { force: true });
    }
  }
  console.log(
    `\nload average at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other work on the machine slows wall times; CPU times and ratios are steadier)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
