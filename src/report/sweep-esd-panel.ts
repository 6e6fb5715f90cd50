/**
 * The sweep report's ESD panel (issue 22): clicking a layer in the heatmap (a cell: that step) or
 * the movers chart (a point: that step) opens a panel beside the figures with the layer's ESD at the
 * first, the clicked and the last checkpoint, overlaid on log-log axes, each with its fitted power
 * law. The page carries the per-layer summaries (plots/sweep-esd.ts) and one compiled Vega template;
 * a click fills the template's data, scales and title and embeds it with the inlined vega-embed,
 * offline. The report's live figures call `window.wwLayerClick(datum)` first (html.ts goTo); it
 * returns false for a layer without spectra, and the click then goes to the layer's movers row.
 *
 * ESD_VIEW_JS, the part that turns a summary into the figure's points, is plain JavaScript without
 * the DOM, so tests run the same code in Node.
 */
import { jsonScript, scriptText } from './interactive.js';
import { ESD_FIT_DASH, ESD_HIST_DASH, type SweepEsdData } from './plots/sweep-esd.js';

/**
 * `wwEsdView(data, anchor, clicked, colors)`: the view (plots/sweep-esd.ts SweepEsdView) of layer
 * `anchor` at checkpoint index `clicked` (−1: none) beside the first and last checkpoints that have
 * its spectrum, or null. Densities are counts / (n · bin width) over the n histogrammed values; the
 * power law is p(λ) = (t / n) · (α − 1) / xmin · (λ / xmin)^−α from xmin to the tail's end, the
 * fitted pdf scaled to the tail's share t / n so that it lies on the histogram. Empty bins sit at
 * the axis floor (half the smallest non-zero density).
 */
export const ESD_VIEW_JS = `
function wwEsdView(D, anchor, clicked, colors) {
  var L = D.layers[anchor];
  if (!L) return null;
  var avail = [];
  for (var i = 0; i < L.runs.length; i++) if (L.runs[i]) avail.push(i);
  if (!avail.length) return null;
  var first = avail[0], last = avail[avail.length - 1];
  var picks = [first];
  if (clicked >= 0 && L.runs[clicked] && picks.indexOf(clicked) < 0) picks.push(clicked);
  if (picks.indexOf(last) < 0) picks.push(last);
  var width = (L.hi - L.lo) / D.bins;
  function edge(k) { return Math.pow(10, L.lo + k * width); }
  function fmt(v) { return String(Number(v.toPrecision(4))); }
  var FIT_POINTS = 48;
  var series = [], ymin = Infinity, ymax = 0;
  picks.forEach(function (ri, si) {
    var R = L.runs[ri], run = D.runs[ri], roles = [];
    if (ri === first) roles.push('first');
    if (ri === clicked) roles.push('clicked');
    if (ri === last) roles.push('last');
    var name = run.name + ' (' + roles.join(', ') + ')';
    var color = colors[si % colors.length];
    var dens = [];
    for (var k = 0; k < R.c.length; k++) {
      var d = R.n > 0 ? R.c[k] / (R.n * (edge(R.o + k + 1) - edge(R.o + k))) : 0;
      dens.push(d);
      if (d > 0) { ymin = Math.min(ymin, d); ymax = Math.max(ymax, d); }
    }
    var s = { ri: ri, name: name, roles: roles.join(', '), color: color, dens: dens, R: R, fit: null };
    if (R.alpha !== null && R.xmin !== null && R.xend !== null && R.xend > R.xmin && R.t > 0 && R.n > 0) {
      var scale = (R.t / R.n) * (R.alpha - 1) / R.xmin, pts = [];
      for (var j = 0; j < FIT_POINTS; j++) {
        var x = R.xmin * Math.pow(R.xend / R.xmin, j / (FIT_POINTS - 1));
        pts.push({ x: x, y: scale * Math.pow(x / R.xmin, -R.alpha), i: j });
      }
      if (pts[0].y > 0 && isFinite(pts[0].y)) { ymax = Math.max(ymax, pts[0].y); s.fit = pts; }
    }
    series.push(s);
  });
  if (!(ymax > 0)) return null;
  var floor = ymin / 2, top = ymax * 2;
  var hist = [], fit = [], domain = [], cols = [], dashes = [], table = [];
  series.forEach(function (s) {
    var R = s.R, hs = s.name + ': ESD' + (s.fit ? '' : ' (no power-law fit)');
    domain.push(hs); cols.push(s.color); dashes.push(${JSON.stringify(ESD_HIST_DASH)});
    var n = s.dens.length, i = 0;
    hist.push({ x: edge(R.o), y: floor, i: i++, series: hs });
    for (var k = 0; k < n; k++) hist.push({ x: edge(R.o + k), y: s.dens[k] > 0 ? s.dens[k] : floor, i: i++, series: hs });
    hist.push({ x: edge(R.o + n), y: s.dens[n - 1] > 0 ? s.dens[n - 1] : floor, i: i++, series: hs });
    hist.push({ x: edge(R.o + n), y: floor, i: i++, series: hs });
    if (s.fit) {
      var fs = s.name + ': power-law fit, α = ' + fmt(R.alpha);
      domain.push(fs); cols.push(s.color); dashes.push(${JSON.stringify(ESD_FIT_DASH)});
      s.fit.forEach(function (p) { fit.push({ x: p.x, y: p.y, i: p.i, series: fs }); });
    }
    table.push({ run: D.runs[s.ri].name, role: s.roles, alpha: R.alpha, xmin: R.xmin, n: R.n, t: R.t });
  });
  return {
    title: 'ESD of ' + L.name,
    subtitle: ['solid: histogram of the eigenvalues above xmin/100 (log bins, density)',
               'dashed: the fitted power law from xmin, scaled to the tail\\u2019s share of them'],
    hist: hist, fit: fit, domain: domain, colors: cols, dashes: dashes,
    x: [edge(0), edge(D.bins)], y: [floor, top], table: table, picks: picks
  };
}
`;

/** The page side: open, fill and close the panel (needs vegaEmbed, defined later in the page). */
const PANEL_JS = `
(function () {
  'use strict';
  var dEl = document.getElementById('ww-sweep-esd-data'), tEl = document.getElementById('ww-sweep-esd-spec');
  var panel = document.getElementById('esd-panel');
  if (!dEl || !tEl || !panel) return;
  var D = null, T = null, view = null, seq = 0;
  var holder = panel.querySelector('.esd-view'), table = panel.querySelector('.esd-table tbody'), msg = panel.querySelector('.esd-msg');
  function byName(list, name) { for (var i = 0; i < (list || []).length; i++) if (list[i].name === name) return list[i]; return null; }
  function runOf(d) {
    var lab = d.col !== undefined ? d.col : d.label;
    var hasStep = d.step !== undefined && d.step !== null, hasLab = lab !== undefined && lab !== null;
    if (!hasStep && !hasLab) return -1; // a mark of the layer, not of a step: first and last only
    for (var i = 0; i < D.runs.length; i++) {
      var r = D.runs[i];
      if (hasStep && r.step !== d.step) continue;
      if (hasLab && r.label !== String(lab)) continue;
      return i;
    }
    return -1;
  }
  function close() {
    panel.hidden = true;
    seq++;
    if (view) { view.finalize(); view = null; }
    holder.textContent = '';
  }
  panel.querySelector('.esd-close').addEventListener('click', close);
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && !panel.hidden) close(); });
  function cell(tr, text) { var td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
  function num(v) { return v === null || v === undefined ? '—' : String(Number(Number(v).toPrecision(4))); }
  window.wwLayerClick = function (d) {
    if (!d || d.anchor === undefined || d.anchor === null || typeof vegaEmbed !== 'function') return false;
    if (!D) { D = JSON.parse(dEl.textContent); T = JSON.parse(tEl.textContent); }
    var anchor = String(d.anchor), clicked = runOf(d);
    var v = wwEsdView(D, anchor, clicked, D.colors);
    if (!v) return false;
    var spec = JSON.parse(JSON.stringify(T));
    byName(spec.data, 'hist').values = v.hist;
    byName(spec.data, 'fit').values = v.fit;
    byName(spec.scales, 'x').domain = v.x;
    byName(spec.scales, 'y').domain = v.y;
    var c = byName(spec.scales, 'color'), s = byName(spec.scales, 'strokeDash');
    c.domain = v.domain; c.range = v.colors; s.domain = v.domain; s.range = v.dashes;
    // The merged legend lists its entries itself (Vega-Lite writes the explicit domain as its values).
    (spec.legends || []).forEach(function (l) { if (l.stroke === 'color' || l.values) l.values = v.domain; });
    var t = spec.title && typeof spec.title === 'object' ? spec.title : {};
    t.text = v.title; t.subtitle = v.subtitle; spec.title = t;
    panel.hidden = false;
    panel.setAttribute('data-layer', anchor);
    panel.setAttribute('data-run', String(clicked));
    panel.removeAttribute('data-ready');
    panel.querySelector('.esd-name').textContent = D.layers[anchor].name;
    msg.textContent = clicked >= 0 && !D.layers[anchor].runs[clicked] ? 'No spectrum of this layer at ' + D.runs[clicked].name + '.' : '';
    table.textContent = '';
    v.table.forEach(function (r) {
      var tr = document.createElement('tr');
      cell(tr, r.run); cell(tr, r.role); cell(tr, num(r.alpha)); cell(tr, num(r.xmin)); cell(tr, String(r.n)); cell(tr, String(r.t));
      table.appendChild(tr);
    });
    var my = ++seq;
    if (view) { view.finalize(); view = null; }
    holder.textContent = '';
    vegaEmbed(holder, spec, { mode: 'vega', renderer: 'svg', actions: false }).then(function (res) {
      if (my !== seq) { res.view.finalize(); return; }
      view = res.view;
      panel.setAttribute('data-ready', '1');
    }, function (e) { msg.textContent = 'The ESD figure could not be drawn: ' + e; });
    panel.scrollTop = 0;
    return true;
  };
})();
`;

const PANEL_CSS = `
.esd-panel{position:fixed;right:14px;top:50px;z-index:6;width:min(620px,calc(100vw - 28px));max-height:calc(100vh - 64px);overflow:auto;background:#fff;border:1px solid #aaa;border-radius:8px;box-shadow:0 6px 24px rgba(0,0,0,.18);padding:8px 12px}
.esd-panel[hidden]{display:none}
.esd-panel .esd-head{display:flex;align-items:center;gap:10px;justify-content:space-between}
.esd-panel .esd-head h2{margin:4px 0;font-size:15px;border:0;padding:0}
.esd-panel .esd-name{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-weight:normal}
.esd-panel .esd-view svg{display:block;max-width:100%;height:auto}
.esd-panel table{border-collapse:collapse;font-size:12px;margin:6px 0}
.esd-panel th,.esd-panel td{border:1px solid #e3e3e3;padding:2px 6px;text-align:right}
.esd-panel td:first-child,.esd-panel td:nth-child(2){text-align:left}
`;

/**
 * The panel's markup, data and script, for sweepReportHtml's `esdPanel`. `template` is the compiled
 * Vega of sweepEsdSpec() (interactive.ts interactiveSpecs); the page needs the inlined runtime.
 */
export function sweepEsdPanelHtml(data: SweepEsdData, template: unknown): string {
  return `<style>${PANEL_CSS}</style>
<aside id="esd-panel" class="esd-panel" role="dialog" aria-labelledby="esd-panel-title" hidden>
<div class="esd-head"><h2 id="esd-panel-title">Layer ESD: <span class="esd-name"></span></h2><button type="button" class="esd-close" aria-label="close the ESD panel">Close</button></div>
<div class="esd-view"></div>
<p class="esd-msg note" aria-live="polite"></p>
<table class="esd-table"><thead><tr><th scope="col">checkpoint</th><th scope="col">shown as</th><th scope="col">alpha</th><th scope="col">xmin</th><th scope="col">eigenvalues shown</th><th scope="col">in the tail</th></tr></thead><tbody></tbody></table>
</aside>
<script type="application/json" id="ww-sweep-esd-data">${jsonScript(data)}</script>
<script type="application/json" id="ww-sweep-esd-spec">${jsonScript(template)}</script>
<script>${scriptText(ESD_VIEW_JS + PANEL_JS)}</script>`;
}
