/**
 * `npm run bench`: everything issue 12 asks to be shown, in one script on one machine.
 *
 *  models   GPT-2-small-shaped model (generated) and minigpt: our CLI end to end with svd_method
 *           fast, accurate and precision float32, next to the real Python WeightWatcher (wwref;
 *           WW_REFERENCE=/path/to/wwref points elsewhere) or, when it is absent, the scipy
 *           baseline (bench/reference_baseline.py). Ratios and the largest column difference.
 *  threads  layer-parallel (one BLAS thread per layer) vs BLAS-threaded (one layer at a time).
 *  scaling  time per route for n = 256 … max-n, square and 1:4, as a fraction of the measured
 *           single-core dgemm rate.
 *  llama    Llama-7B's layer shapes at full machine load, and the projected whole-model time.
 *  fitter   the ww and powerlaw fitters at 768, 4096 and 15000 eigenvalues vs the SVD's time.
 *
 *   npm run build && npm run bench
 *   npm run bench -- --only models,fitter --runs 3
 *   npm run bench -- --max-n 8192 --full       (8192 scaling row and ?gesdd at every size: long)
 *   npm run bench -- --quick                   (no ?gesdd of Llama's 32000×4096 embedding)
 *
 * The CLI runs are whole processes (start-up included), as the reference's are.
 */
import '../src/cli/threadpool.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fitPowerLaw, fitPowerLawPackage, nativeInfo, setBlasThreads, type SpectrumOptions } from '../src/native/binding.js';
import { nominalFlops } from '../src/engine/route-stats.js';
import { writeGpt2Small } from './model-gen.js';
import { makeMatrix } from './matrices.js';
import { alphaDiff, compareDetails, findReference, formatDiff, runReference, runScipyBaseline, type PythonRun } from './lib/reference.js';
import { bestOf, dgemmRate, fmtSeconds, loadedCost, parallelVsThreaded, timeSpectrum, type Matrix } from './lib/timing.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const runs = Number(opt('runs') ?? 0) || 3;
const only = new Set((opt('only') ?? 'models,threads,scaling,llama,fitter').split(','));
const maxN = Number(opt('max-n') ?? 0) || 4096;
const full = args.includes('--full');
const quick = args.includes('--quick');
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const shared = process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared');
const cores = availableParallelism();
const work = mkdtempSync(join(tmpdir(), 'ww-bench-'));

function section(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 90 - title.length))}`);
}

// ---------------------------------------------------------------------------------------------
// models: our CLI vs the Python tool, end to end

interface OurRun {
  total: number;
  analysis: number;
  details: Record<string, unknown>[];
  routes: Record<string, number>;
}

function ours(model: string, extra: string[]): OurRun {
  const out = join(work, `ours-${process.pid}.json`);
  let best: OurRun | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'analyze', model, '--json', out, '-q', ...extra], { encoding: 'utf8' });
    const total = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`our CLI failed: ${r.stderr}`);
    const parsed = JSON.parse(readFileSync(out, 'utf8')) as {
      details: Record<string, unknown>[];
      meta: { elapsed_ms: number; routes: Record<string, number> };
    };
    if (!best || total < best.total)
      best = { total, analysis: parsed.meta.elapsed_ms / 1000, details: parsed.details, routes: parsed.meta.routes };
  }
  return best!;
}

function python(model: string): PythonRun {
  const wwref = findReference(root);
  let best: PythonRun | undefined;
  const n = wwref ? Math.min(runs, 2) : runs; // the reference takes ~20 s a run
  for (let i = 0; i < n; i++) {
    const r = wwref ? runReference(wwref, model, join(work, 'ref.json')) : runScipyBaseline(root, model);
    if (!best || r.total < best.total) best = r;
  }
  return best!;
}

async function models(): Promise<void> {
  section('models: end to end, whole processes (best of runs)');
  if (!existsSync(cli)) throw new Error(`run \`npm run build\` first (${cli} is missing)`);
  const wwref = findReference(root);
  console.log(
    wwref
      ? `Python side: WeightWatcher 0.7.5.5 via ${wwref} (WW_REFERENCE overrides)`
      : 'Python side: reference not found (set WW_REFERENCE=/path/to/wwref); scipy baseline bench/reference_baseline.py, analyze loop only',
  );
  const list: [string, string, { fast: number; accurate: number } | undefined][] = [];
  const minigpt = join(shared, 'corpus', 'minigpt', 'big-data', 'model.safetensors');
  if (existsSync(minigpt)) list.push(['minigpt big-data (18 layers, 256-wide)', minigpt, undefined]);
  else console.log(`(minigpt skipped: ${minigpt} not found)`);
  const gpt2 = join(work, 'gpt2-small.safetensors');
  await writeGpt2Small(gpt2);
  list.push(['generated GPT-2-small shape (49 layers up to 3072×768, 343 MB F32)', gpt2, { fast: 8, accurate: 3 }]);
  for (const [label, model, target] of list) {
    const py = python(model);
    console.log(`\n${label}`);
    const t = py.timing
      ? ` (${Object.entries(py.timing)
          .map(([k, v]) => `${k} ${v === null ? '–' : v.toFixed(2)}`)
          .join(', ')})`
      : '';
    console.log(`  ${py.kind === 'reference' ? 'Python WeightWatcher' : 'scipy baseline     '}  ${py.total.toFixed(2)} s${t}`);
    for (const [name, extra] of [
      ['fast (default)', []],
      ['accurate', ['--svd-method', 'accurate']],
      ['float32 (fast)', ['--precision', 'float32']],
    ] as const) {
      const r = ours(model, [...extra]);
      const ratio = py.total / r.total;
      const diff = py.details
        ? formatDiff(compareDetails(r.details, py.details))
        : `max rel. alpha diff ${alphaDiff(
            r.details.map((d) => d.alpha as number),
            py.alphas,
          ).toExponential(1)}`;
      const goal =
        target && name !== 'float32 (fast)'
          ? ` [target ≥ ×${name === 'accurate' ? target.accurate : target.fast}: ${ratio >= (name === 'accurate' ? target.accurate : target.fast) ? 'met' : 'NOT met'}]`
          : '';
      console.log(
        `  ours ${name.padEnd(15)} ${r.total.toFixed(2)} s (analysis ${r.analysis.toFixed(2)} s)  ×${ratio.toFixed(1)}${goal}  routes ${JSON.stringify(r.routes)}; ${diff}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// threads: layer-parallel vs BLAS-threaded

async function threads(): Promise<void> {
  section(`thread policy: ${cores} layers × 1 BLAS thread vs 1 layer × ${cores} threads (${cores} decompositions, wall)`);
  if (cores < 2) return console.log('(one core: nothing to compare)');
  const shapes: [number, number][] = [
    [768, 768],
    [3072, 768],
    [2048, 2048],
    [8192, 2048],
    [4096, 4096],
  ];
  if (full) shapes.push([8192, 8192]);
  console.log(`shape          method    layer-parallel   BLAS-threaded   ratio   winner`);
  for (const [rows, cols] of shapes) {
    const m: Matrix = { data: makeMatrix('gaussian', rows, cols, rows + cols), rows, cols };
    for (const method of ['fast', 'accurate'] as const) {
      if (method === 'accurate' && rows * cols > 4096 * 4096 && !full) continue;
      const r = await parallelVsThreaded(m, { method, rankN: Math.max(rows, cols) }, cores);
      const ratio = r.blasThreaded / r.layerParallel;
      console.log(
        `${`${rows}×${cols}`.padEnd(14)} ${method.padEnd(9)} ${fmtSeconds(r.layerParallel).padStart(14)} ${fmtSeconds(r.blasThreaded).padStart(15)} ${ratio.toFixed(2).padStart(7)}   ${ratio > 1 ? 'layer-parallel' : 'BLAS-threaded'}`,
      );
    }
  }
  setBlasThreads(cores);
}

// ---------------------------------------------------------------------------------------------
// scaling: time per route as a fraction of the dgemm rate

async function scaling(rate1: number): Promise<void> {
  section(`scaling: one BLAS thread; efficiency = nominal flops / (time × single-core dgemm rate ${rate1.toFixed(1)} GFLOP/s)`);
  console.log('nominal flops: gram m·n² + 4/3·n³, +LU 2/3·n³, +QR 2mn² − 2/3·n³, gesdd 4mn² − 4/3·n³ (src/engine/route-stats.ts)');
  console.log(`shape           gram (plain)         fast (guarded)             gesdd                sgram               sgesdd`);
  for (let n = 256; n <= maxN; n *= 2) {
    for (const q of [1, 4]) {
      const rows = n * q;
      const m: Matrix = { data: makeMatrix('gaussian', rows, n, n + q), rows, cols: n };
      const reps = n <= 1024 ? runs : 1;
      const cell = async (o: SpectrumOptions, route?: 'gram' | 'gesdd' | 'sgram' | 'sgesdd') => {
        const t = await timeSpectrum(m, { rankN: rows, ...o }, 1, reps);
        const r = route ?? t.value.route;
        const eff = nominalFlops(r, rows, n) / (t.seconds * rate1 * 1e9);
        return `${fmtSeconds(t.seconds).padStart(9)} ${(100 * eff).toFixed(0).padStart(3)}%${route ? '' : ` ${t.value.route}`}`;
      };
      const gesddOk = full || n <= 2048 || (n <= 4096 && q === 1);
      const cells = [
        await cell({ method: 'fast', forceGram: true }, 'gram'),
        (await cell({ method: 'fast' })).padEnd(24),
        gesddOk ? await cell({ method: 'accurate' }, 'gesdd') : '        (--full)',
        await cell({ method: 'fast', precision: 'float32' }, 'sgram'),
        gesddOk ? await cell({ method: 'accurate', precision: 'float32' }, 'sgesdd') : '        (--full)',
      ];
      console.log(`${`${rows}×${n}`.padEnd(14)} ${cells.join('   ')}`);
    }
  }
  setBlasThreads(cores);
}

// ---------------------------------------------------------------------------------------------
// llama: Llama-7B's layer shapes

async function llama(): Promise<void> {
  section(`Llama-7B layer shapes: Gaussian stand-ins, ${cores} at once with one BLAS thread each (cost = wall / ${cores})`);
  const shapes: [string, number, number, number][] = [
    ['q/k/v/o_proj', 4096, 4096, 128],
    ['gate/up_proj', 11008, 4096, 64],
    ['down_proj', 4096, 11008, 32],
    ['embed_tokens/lm_head', 32000, 4096, 2],
  ];
  const total = { fast: 0, accurate: 0 };
  console.log(`layer            shape          count   fast (route)              accurate`);
  for (const [name, rows, cols, count] of shapes) {
    const m: Matrix = { data: makeMatrix('gaussian', rows, cols, rows * 7 + cols), rows, cols };
    const f = await loadedCost(m, { method: 'fast', rankN: Math.max(rows, cols) }, cores);
    const a = !quick || rows * cols <= 11008 * 4096 ? await loadedCost(m, { method: 'accurate' }, cores) : { seconds: NaN };
    total.fast += count * f.seconds;
    total.accurate += count * a.seconds;
    console.log(
      `${name.padEnd(16)} ${`${rows}×${cols}`.padEnd(14)} ${String(count).padStart(5)}   ${`${fmtSeconds(f.seconds)} (${f.route})`.padEnd(24)}  ${Number.isNaN(a.seconds) ? '(skipped: --quick)' : fmtSeconds(a.seconds)}`,
    );
  }
  const fmtMin = (s: number) => (Number.isFinite(s) ? `${(s / 60).toFixed(1)} min` : 'n/a (--quick)');
  console.log(
    `projected whole model (226 matrices, decomposition only, ${cores} cores): fast ${fmtMin(total.fast)}, accurate ${fmtMin(total.accurate)}`,
  );
  setBlasThreads(cores);
}

// ---------------------------------------------------------------------------------------------
// fitter: cost of the fits next to the SVD

/** MP(Q=4) bulk quantiles plus a Pareto(α=3) tail of 5%: a realistic ESD of any size without an SVD. */
function syntheticEsd(n: number): Float64Array {
  const out = new Float64Array(n);
  const tail = Math.floor(n * 0.05);
  const lo = (1 - 0.5) ** 2;
  const hi = (1 + 0.5) ** 2;
  for (let i = 0; i < n - tail; i++) out[i] = lo + ((hi - lo) * (i + 0.5)) / (n - tail);
  for (let i = 0; i < tail; i++) out[n - tail + i] = hi * (1 - (i + 0.5) / tail) ** (-1 / 2);
  return out.sort();
}

async function fitter(): Promise<void> {
  section('fitter cost: the ww and powerlaw fitters vs the SVD of the matching matrix (n × 4n, fast route, one thread)');
  console.log(`evals   SVD (fast)            ww fit      powerlaw fit   ww / SVD   powerlaw / SVD`);
  let t4096 = NaN;
  for (const n of [768, 4096, 15000]) {
    let evals: Float64Array;
    let svd: number;
    let how = '';
    if (n <= 4096) {
      const m: Matrix = { data: makeMatrix('student3', 4 * n, n, n), rows: 4 * n, cols: n };
      const t = await timeSpectrum(m, { method: 'fast', rankN: 4 * n }, 1);
      evals = t.value.evals;
      svd = t.seconds;
      if (n === 4096) t4096 = svd;
    } else {
      evals = syntheticEsd(n);
      svd = t4096 * (n / 4096) ** 3; // both syrk (4n·n²) and the tridiagonalisation scale as n³
      how = ' (extrapolated n³)';
    }
    const data = evals.filter((v) => v > 1e-5);
    const ww = await bestOf(runs, () => fitPowerLaw(data));
    const pl = await bestOf(runs, () => fitPowerLawPackage(data));
    console.log(
      `${String(n).padEnd(7)} ${`${fmtSeconds(svd)}${how}`.padEnd(21)} ${fmtSeconds(ww.seconds).padStart(9)} ${fmtSeconds(pl.seconds).padStart(13)} ${((100 * ww.seconds) / svd).toFixed(2).padStart(8)}% ${((100 * pl.seconds) / svd).toFixed(2).padStart(13)}%`,
    );
  }
  setBlasThreads(cores);
}

// ---------------------------------------------------------------------------------------------

const info = nativeInfo();
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`,
);
console.log(
  `native: ${info.blasConfig} (core ${info.coreType}, ${info.coreTypeSource}), LAPACK ${info.lapackVersion}; best of ${runs} runs`,
);
try {
  const rate1 = await dgemmRate(2048, 1);
  const rateAll = await dgemmRate(2048, cores);
  console.log(`dgemm 2048×2048: ${rate1.toFixed(1)} GFLOP/s on one core, ${rateAll.toFixed(1)} GFLOP/s on ${cores}`);
  setBlasThreads(cores);
  if (only.has('models')) await models();
  if (only.has('threads')) await threads();
  if (only.has('scaling')) await scaling(rate1);
  if (only.has('llama')) await llama();
  if (only.has('fitter')) await fitter();
} finally {
  rmSync(work, { recursive: true, force: true });
}
