/**
 * Truncated-power-law fit time (fit='TPL', pl_package='powerlaw') per layer, ours against the
 * reference's: the goldens' meta.timing_s.analyze for pareto/tpl (and e_tpl), divided by the layer
 * count (the reference spends practically all of it in the powerlaw package's per-candidate
 * Nelder–Mead fits and mpmath incomplete gammas). Prints per-layer times and the ratio.
 *
 *   npm run bench:tpl                    # best of 3
 *   npm run bench:tpl -- --runs 5
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { WeightWatcher } from '../src/index.js';
import { fitLayerPowerLaw, type PowerLawParams } from '../src/metrics/powerlaw.js';
import { powerlawPackageFitter } from '../src/metrics/plpackage.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 3;
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const shared = process.env.WW_SHARED_DIR ?? resolve(root, '..', 'shared');
const model = resolve(shared, 'corpus', 'synthetic', 'pareto.safetensors');
if (!existsSync(model)) {
  console.log(`shared corpus not found at ${shared} (set WW_SHARED_DIR); nothing to benchmark`);
  process.exit(0);
}

const ww = new WeightWatcher(model);
await ww.analyze({ keep_evals: true });
const layers = ww.getLayerResults().map((r) => ({ name: String(r.row.name), evals: r.evals! }));

for (const [set, fit] of [
  ['tpl', 'TPL'],
  ['e_tpl', 'E_TPL'],
] as const) {
  const golden = JSON.parse(readFileSync(resolve(shared, 'goldens', 'pareto', `${set}.json`), 'utf8')) as {
    meta: { timing_s: { analyze: number }; num_layers: number };
  };
  const refPerLayer = golden.meta.timing_s.analyze / golden.meta.num_layers;
  const params: PowerLawParams = {
    xmax: null,
    fixFingers: fit === 'E_TPL' ? 'xmin_peak' : false,
    fingerThresh: 1,
    maxFingers: 10,
    xminMax: null,
    fit: 'truncated_power_law',
    plPackage: 'powerlaw',
    keepArrays: false,
  };
  let total = 0;
  for (const l of layers) {
    let best = Infinity;
    let alpha = NaN;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const f = await fitLayerPowerLaw(l.evals, params, powerlawPackageFitter(params));
      best = Math.min(best, (performance.now() - t0) / 1000);
      alpha = f.alpha;
    }
    total += best;
    console.log(
      `${set} ${l.name.padEnd(16)} ${l.evals.length} evals: ours ${best.toFixed(3)} s, reference ≈ ${refPerLayer.toFixed(1)} s/layer, ratio ${(best / refPerLayer).toExponential(2)} (${(refPerLayer / best).toFixed(0)}× faster), alpha ${alpha}`,
    );
  }
  console.log(
    `${set} total: ours ${total.toFixed(3)} s vs reference ${golden.meta.timing_s.analyze.toFixed(1)} s (whole analyze), ratio ${(total / golden.meta.timing_s.analyze).toExponential(2)}`,
  );
}
