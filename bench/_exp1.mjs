import { WeightWatcher } from '../dist/index.js';
import { layerFigureSpecs } from '../dist/report/plots/layer.js';
import * as r from '../dist/report/plots/render.js';
import * as vega from 'vega';
const ww = new WeightWatcher('/work/shared/corpus/minigpt/big-data/model.safetensors');
await ww.analyze({ keep_evals: true });
const layers = ww.getLayerResults();
const specsOf = (fig) => layers.map(l => layerFigureSpecs(l)[fig]).filter(Boolean);
for (const fig of ['esd', 'ks-vs-xmin']) {
  const specs = specsOf(fig);
  // full pipeline
  await r.renderSvg(specs[0]);
  let a = process.cpuUsage();
  for (const s of specs) await r.renderSvg(s);
  let d = process.cpuUsage(a); console.log(fig, 'full', ((d.user + d.system) / 1000 / specs.length).toFixed(1), 'ms/fig');
  // named data: strip values
  const named = (s) => { const datasets = {}; let k = 0; const layer = s.layer.map(l => { const name = 'd' + k++; datasets[name] = l.data.values; return { ...l, data: { name } }; }); return { spec: { ...s, layer }, datasets }; };
  const { spec: t0 } = named(specs[0]);
  const rt = vega.parse(r.compileToVega(t0));
  a = process.cpuUsage();
  for (const s of specs) { const { datasets } = named(s); const v = new vega.View(rt, { renderer: 'none' }); for (const [n, vals] of Object.entries(datasets)) v.data(n, vals); vega.resetSVGDefIds(); r.compactSvg(await v.toSVG()); v.finalize(); }
  d = process.cpuUsage(a); console.log(fig, 'cached runtime, new View', ((d.user + d.system) / 1000 / specs.length).toFixed(1), 'ms/fig');
  const v = new vega.View(rt, { renderer: 'none' });
  a = process.cpuUsage();
  for (const s of specs) { const { datasets } = named(s); for (const [n, vals] of Object.entries(datasets)) v.data(n, vals); vega.resetSVGDefIds(); r.compactSvg(await v.toSVG()); }
  d = process.cpuUsage(a); console.log(fig, 'reused View', ((d.user + d.system) / 1000 / specs.length).toFixed(1), 'ms/fig');
  a = process.cpuUsage();
  for (const s of specs) r.compileToVega(s);
  d = process.cpuUsage(a); console.log(fig, 'compile only', ((d.user + d.system) / 1000 / specs.length).toFixed(1), 'ms/fig');
}
