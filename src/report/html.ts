/**
 * Self-contained HTML reports (analyze --report, compare --report): one file, no network — the
 * figures are inline SVG, the CSS and the small table script are inline, nothing is loaded from a
 * CDN. Per-layer figures sit in inert <template> elements and are only put into the page when a
 * layer's section is opened, so a 200-layer model stays responsive; when they are large they are
 * gzip-compressed and base64-encoded (decoded with the browser's DecompressionStream on opening).
 */
import { gzipSync } from 'node:zlib';
import type { Row, Cell } from '../shared/rows.js';
import type { Summary } from './summary.js';
import { OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA } from '../metrics/powerlaw.js';
import type { CompareResult } from './compare.js';
import { layerLabel, type AlphaMover, type SweepStepPoint } from './plots/sweep.js';
import { columnOrder } from './columns.js';
import { STATUS_BACKGROUNDS, STATUS_COLORS } from './plots/palette.js';
import { browserRuntime, jsonScript } from './interactive.js';

export interface LayerSection {
  /** File/anchor id: `<layer_id>` or `<layer_id>_<slice_id>`. */
  id: string;
  row: Row;
  /** Figure name → SVG document. */
  figures: Record<string, string>;
}

export interface AnalyzeReportData {
  title: string;
  rows: readonly Row[];
  summary: Summary;
  source?: string;
  format?: string;
  elapsedMs?: number;
  /** Layers that were skipped or failed, with the reason. */
  notes?: string[];
  modelFigures: Record<string, string>;
  /** Vega specs of the model figures made interactive (interactive.ts interactiveSpecs), by figure name. */
  interactive?: Record<string, unknown>;
  layers: readonly LayerSection[];
  /** 'auto' (default): compress the layer figures when they exceed ~8 MB in total. */
  compressLayers?: boolean | 'auto';
  generated?: Date;
}

export interface CompareReportModel {
  name: string;
  source: string;
  rows: readonly Row[];
  modelFigures: Record<string, string>;
  /** Vega specs of this model's interactive figures, by figure name. */
  interactive?: Record<string, unknown>;
  /**
   * Each layer's ESD figure, as gzip bytes of its markup (compareLayerEsd), for the sections a click
   * on a layer in the compare figures opens (`layer-m<model index>-<layer id>`).
   */
  layerEsds?: readonly { id: string; row: Row; gzip: Uint8Array }[];
}

/** A compare model's layer ESD figure as the report embeds it (gzip of the figure markup). */
export function compareLayerEsd(modelIndex: number, id: string, svg: string): Uint8Array {
  return gzipMarkup(figureGrid({ esd: svg }, `m${modelIndex}l${safeId(id)}`, `layer ${id} `));
}

export interface CompareReportData {
  title: string;
  result: CompareResult;
  /**
   * The compare figure's panels (compareFigurePanels: alpha-hist, alpha-depth, alpha-delta), each
   * shown at its own size. Without them, `compareFigure` (the combined figure) is shown.
   */
  compareFigures?: Record<string, string>;
  compareFigure?: string;
  /** Vega specs of the interactive panels, by panel name. */
  interactive?: Record<string, unknown>;
  models: readonly CompareReportModel[];
  generated?: Date;
}

/** Layer figures above this total size (SVG characters) are gzip-compressed in the report. */
export const COMPRESS_THRESHOLD = 8 * 1024 * 1024;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Make the ids inside an SVG unique in the page (vega numbers clip paths per process: clip1, clip2 …). */
export function uniquifySvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
  if (!ids.size) return svg;
  return svg
    .replace(/\sid="([^"]+)"/g, (m, id: string) => (ids.has(id) ? ` id="${prefix}-${id}"` : m))
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}-${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}-${id}"` : m));
}

/** Inline an SVG document in HTML: drop any XML prolog, make ids unique, add an accessible name. */
function inlineSvg(svg: string, prefix: string, label: string): string {
  const body = svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/^<!DOCTYPE[^>]*>\s*/i, '');
  return uniquifySvgIds(body, prefix).replace(/^<svg\b/, `<svg role="img" aria-label="${escapeHtml(label)}"`);
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}

function fmtCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
  }
  return String(v);
}

function sortKey(v: Cell): string {
  if (typeof v === 'number') return Number.isNaN(v) ? '' : String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  return v === null || v === undefined ? '' : String(v);
}

function warningClass(r: Row): string {
  const a = r.alpha;
  if (r.status === 'failed' || (typeof a === 'number' && a < 0)) return 'failed';
  if (r.warning === 'over-trained' || (typeof a === 'number' && a < OVER_TRAINED_ALPHA)) return 'over';
  if (r.warning === 'under-trained' || (typeof a === 'number' && a > UNDER_TRAINED_ALPHA)) return 'under';
  return '';
}

const WARN_LABEL: Record<string, string> = {
  over: `over-trained (α < ${OVER_TRAINED_ALPHA})`,
  under: `under-trained (α > ${UNDER_TRAINED_ALPHA})`,
  failed: 'fit failed',
};

function layerAnchor(r: Row): string {
  return `layer-${typeof r.slice_id === 'number' ? `${r.layer_id}_${r.slice_id}` : String(r.layer_id)}`;
}

/** The sortable/filterable details table. */
export function detailsTable(
  rows: readonly Row[],
  opts: { id: string; linkLayers?: boolean; caption?: string; columns?: readonly string[] },
): string {
  const cols = opts.columns ? [...opts.columns] : columnOrder(rows);
  const numeric = new Set(
    cols.filter(
      (c) =>
        rows.some((r) => typeof r[c] === 'number') && rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'),
    ),
  );
  const head = cols
    .map(
      (c) =>
        `<th scope="col" data-col="${escapeHtml(c)}" data-type="${numeric.has(c) ? 'num' : 'str'}" tabindex="0" aria-sort="none">${escapeHtml(c)}</th>`,
    )
    .join('');
  const body = rows
    .map((r) => {
      const w = warningClass(r);
      const tds = cols
        .map((c) => {
          const v = r[c] ?? null;
          let text = escapeHtml(fmtCell(v));
          if (c === 'name' && opts.linkLayers) text = `<a href="#${layerAnchor(r)}">${text}</a>`;
          if (c === 'alpha' && w) text = `<span class="badge ${w}" title="${escapeHtml(WARN_LABEL[w]!)}">${text}</span>`;
          const title = typeof v === 'number' ? ` title="${escapeHtml(String(v))}"` : '';
          return `<td data-v="${escapeHtml(sortKey(v))}"${title}${numeric.has(c) ? ' class="n"' : ''}>${text}</td>`;
        })
        .join('');
      const layer = typeof r.layer === 'string' ? r.layer : typeof r.name === 'string' ? r.name : undefined;
      const dl = layer === undefined ? '' : ` data-layer="${escapeHtml(layer)}"`;
      return `<tr${w ? ` class="warn-${w}" data-warn="${w}"` : ' data-warn="ok"'}${dl}>${tds}</tr>`;
    })
    .join('\n');
  return `<div class="table-tools" data-for="${opts.id}">
  <label>Filter <input type="search" class="filter" placeholder="text in any cell, e.g. attn" aria-label="filter rows"></label>
  <label>Show <select class="warn-filter" aria-label="warning filter">
    <option value="all">all layers</option><option value="warn">warnings only</option>
    <option value="over">over-trained (α &lt; ${OVER_TRAINED_ALPHA})</option><option value="under">under-trained (α &gt; ${UNDER_TRAINED_ALPHA})</option><option value="failed">failed fits</option>
  </select></label>
  <span class="count" aria-live="polite"></span>
</div>
<div class="table-wrap"><table class="data sortable" id="${opts.id}">${opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : ''}
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody></table></div>`;
}

function summaryTable(summary: Summary): string {
  const entries = Object.entries(summary);
  if (!entries.length) return '<p>No summary (no layers analysed).</p>';
  return `<table class="data summary"><thead><tr><th scope="col">metric</th><th scope="col">mean over layers</th></tr></thead><tbody>${entries
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="n" title="${v}">${escapeHtml(fmtCell(v))}</td></tr>`)
    .join('')}</tbody></table>`;
}

function countCards(rows: readonly Row[]): string {
  const n = { over: 0, under: 0, failed: 0 };
  for (const r of rows) {
    const w = warningClass(r);
    if (w) n[w as keyof typeof n]++;
  }
  return `<div class="cards">
  <div class="card"><span class="big">${rows.length}</span> layers</div>
  <div class="card over"><span class="big">${n.over}</span> over-trained (α &lt; ${OVER_TRAINED_ALPHA})</div>
  <div class="card under"><span class="big">${n.under}</span> under-trained (α &gt; ${UNDER_TRAINED_ALPHA})</div>
  ${n.failed ? `<div class="card failed"><span class="big">${n.failed}</span> failed fits</div>` : ''}
</div>`;
}

/** One figure: its static SVG and, when interactive, its Vega spec (the page script embeds it live). */
function figureHtml(name: string, svg: string, prefix: string, label: string, spec?: unknown, caption = name): string {
  const id = `${prefix}-${safeId(name)}`;
  const live = spec === undefined ? '' : `<script type="application/json" id="spec-${id}">${jsonScript(spec)}</script>`;
  return `<figure class="chart" data-figure="${escapeHtml(name)}"${live ? ` data-spec="spec-${id}"` : ''}>${inlineSvg(svg, id, label)}${live}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

function figureGrid(figs: Record<string, string>, prefix: string, labelPrefix = '', interactive: Record<string, unknown> = {}): string {
  return `<div class="figs">${Object.entries(figs)
    .map(([name, svg]) => figureHtml(name, svg, prefix, `${labelPrefix}${name}`, interactive[name]))
    .join('')}</div>`;
}

/** A layer's figures as the markup that goes inside its section (what is compressed for big reports). */
export function layerFiguresMarkup(l: LayerSection): string {
  return figureGrid(l.figures, `l${safeId(l.id)}`, `layer ${l.id} `);
}

/** Total SVG size of a layer's figures: the measure of the 'auto' compression rule. */
export function layerFiguresSize(l: LayerSection): number {
  return Object.values(l.figures).reduce((t, f) => t + f.length, 0);
}

/** gzip (level 9) of a layer's markup, as the report embeds it (base64 in a template). */
export function gzipMarkup(markup: string): Buffer {
  return gzipSync(Buffer.from(markup, 'utf8'), { level: 9 });
}

/** A layer's collapsible section around its figure markup (plain, or gzip bytes to base64-encode). */
export function layerSectionHtml(
  l: { id: string; row: Row; figureCount: number },
  payload: { markup: string } | { gzip: Uint8Array },
  /** The section's element id without the `layer-` prefix (default: the layer's id). */
  elementId = l.id,
): string {
  const r = l.row;
  const w = warningClass(r);
  const a = typeof r.alpha === 'number' ? r.alpha : NaN;
  const body =
    'markup' in payload
      ? `<template>${payload.markup}</template>`
      : `<template data-enc="gzip-base64">${Buffer.from(payload.gzip.buffer, payload.gzip.byteOffset, payload.gzip.byteLength).toString('base64')}</template>`;
  return `<details class="layer${w ? ` warn-${w}` : ''}" id="layer-${escapeHtml(elementId)}" data-layer="${escapeHtml(l.id)}">
<summary><span class="lid">Layer ${escapeHtml(l.id.replace('_', ':'))}</span> <span class="lname">${escapeHtml(String(r.name ?? ''))}</span> <span class="badge ${w}">α = ${escapeHtml(fmtCell(a))}</span>${w ? ` <span class="wtext">${escapeHtml(WARN_LABEL[w]!)}</span>` : ''} <span class="nfig">${l.figureCount} figure${l.figureCount === 1 ? '' : 's'}</span></summary>
<div class="layer-body">${body}</div>
</details>`;
}

export const NO_LAYER_FIGURES = '<p>No per-layer figures (run analyze with keep_evals to keep the eigenvalues).</p>';

function layerSections(layers: readonly LayerSection[], compress: boolean): string {
  if (!layers.length) return NO_LAYER_FIGURES;
  return layers
    .map((l) => {
      const markup = layerFiguresMarkup(l);
      return layerSectionHtml(
        { id: l.id, row: l.row, figureCount: Object.keys(l.figures).length },
        compress ? { gzip: gzipMarkup(markup) } : { markup },
      );
    })
    .join('\n');
}

const CSS = `
:root{--over:${STATUS_COLORS.over};--under:${STATUS_COLORS.under};--failed:#7f7f7f;--bg:#fff;--fg:#1d1d1f;--muted:#666;--line:#e3e3e3;--accent:#3b4f66}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:var(--fg);background:var(--bg);font-size:14px;line-height:1.45}
header{padding:18px 28px;border-bottom:1px solid var(--line);background:#f7f9fc}
header h1{margin:0 0 4px;font-size:22px}
.meta{color:var(--muted);font-size:13px}
nav{padding:8px 28px;border-bottom:1px solid var(--line);position:sticky;top:0;background:#fff;z-index:3}
nav a{margin-right:16px;color:var(--accent);text-decoration:none}
main{padding:8px 28px 40px}
h2{margin:28px 0 10px;font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:150px}
.card .big{font-size:22px;font-weight:bold;margin-right:6px}
.card.over .big{color:var(--over)}.card.under .big{color:var(--under)}.card.failed .big{color:var(--failed)}
table.data{border-collapse:collapse;font-size:12.5px}
table.data th,table.data td{border:1px solid var(--line);padding:3px 7px;white-space:nowrap}
table.data thead th{background:#f0f3f8;position:sticky;top:0;z-index:1}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.summary{margin:6px 0 14px}
.table-wrap{overflow:auto;max-height:70vh;border:1px solid var(--line)}
.table-tools{display:flex;gap:18px;align-items:center;margin:8px 0;flex-wrap:wrap}
.table-tools input{padding:3px 6px;min-width:260px}
.table-tools .count{color:var(--muted)}
tr.warn-over td{background:${STATUS_BACKGROUNDS.over}}
tr.warn-under td{background:${STATUS_BACKGROUNDS.under}}
tr.warn-failed td{background:${STATUS_BACKGROUNDS.failed};color:#555}
td.warn-over{background:${STATUS_BACKGROUNDS.over}}td.warn-under{background:${STATUS_BACKGROUNDS.under}}
tr.flash td{outline:2px solid var(--accent);outline-offset:-2px}
figure.chart.flash{outline:3px solid var(--accent)}
figure.chart,tr{scroll-margin-top:48px}
figure.chart .vega-embed{display:block}
figure.chart .vega-embed svg{display:block;max-width:none}
figure.chart.wide{overflow-x:auto;max-width:100%}
figure.chart.wide svg{max-width:none}
#vg-tooltip-element{font-family:"DejaVu Sans",system-ui,sans-serif;font-size:12px}
#vg-tooltip-element table tr td.key{color:#555}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-weight:bold}
.badge.over{background:var(--over);color:#fff}.badge.under{background:var(--under);color:#fff}.badge.failed{background:var(--failed);color:#fff}
.figs{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure.chart{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff;max-width:100%}
figure.chart svg{display:block;max-width:100%;height:auto}
figure.chart figcaption{font-size:11px;color:var(--muted);text-align:center}
details.layer{border:1px solid var(--line);border-radius:6px;margin:6px 0;background:#fff}
details.layer>summary{padding:6px 10px;cursor:pointer}
details.layer.warn-over>summary{border-left:5px solid var(--over)}
details.layer.warn-under>summary{border-left:5px solid var(--under)}
details.layer.warn-failed>summary{border-left:5px solid var(--failed)}
details.layer .lid{font-weight:bold}
details.layer .lname{font-family:"DejaVu Sans Mono",ui-monospace,monospace}
details.layer .wtext,details.layer .nfig{color:var(--muted);font-size:12px}
.layer-body{padding:8px 10px}
.layer-tools{margin:6px 0 10px}
button{font:inherit;padding:3px 10px;border:1px solid #bbb;border-radius:5px;background:#f7f7f7;cursor:pointer}
footer{color:var(--muted);font-size:12px;padding:16px 28px;border-top:1px solid var(--line)}
.note{color:var(--muted)}
`;

/** Table sorting / filtering and lazy layer figures; no dependencies. */
const JS = `
(function(){
  'use strict';
  function cellVal(tr, i, num){var v=tr.children[i].getAttribute('data-v');if(num){if(v===''||v===null)return null;var x=parseFloat(v);return isNaN(x)?null:x;}return v||'';}
  function sortTable(table, th){
    var ths=Array.prototype.slice.call(th.parentNode.children), i=ths.indexOf(th), num=th.getAttribute('data-type')==='num';
    var dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';
    ths.forEach(function(h){h.setAttribute('aria-sort','none');});th.setAttribute('aria-sort',dir);
    var tb=table.tBodies[0], rows=Array.prototype.slice.call(tb.rows), s=dir==='ascending'?1:-1;
    rows.sort(function(a,b){var x=cellVal(a,i,num),y=cellVal(b,i,num);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      if(num)return (x-y)*s;return x.localeCompare(y,undefined,{numeric:true})*s;});
    rows.forEach(function(r){tb.appendChild(r);});
  }
  function applyFilter(tools){
    var table=document.getElementById(tools.getAttribute('data-for'));if(!table)return;
    var q=(tools.querySelector('.filter').value||'').toLowerCase().trim(), w=tools.querySelector('.warn-filter').value, n=0, rows=table.tBodies[0].rows;
    for(var k=0;k<rows.length;k++){var r=rows[k], dw=r.getAttribute('data-warn');
      var okW=w==='all'||(w==='warn'?dw!=='ok':dw===w), okQ=!q||r.textContent.toLowerCase().indexOf(q)>=0;
      r.hidden=!(okW&&okQ);if(!r.hidden)n++;}
    tools.querySelector('.count').textContent=n+' of '+rows.length+' rows';
  }
  document.querySelectorAll('table.sortable thead th').forEach(function(th){
    var t=th.closest('table');
    th.addEventListener('click',function(){sortTable(t,th);});
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortTable(t,th);}});
  });
  document.querySelectorAll('.table-tools').forEach(function(tools){
    tools.querySelector('.filter').addEventListener('input',function(){applyFilter(tools);});
    tools.querySelector('.warn-filter').addEventListener('change',function(){applyFilter(tools);});
    applyFilter(tools);
  });
  function b64ToBytes(s){var bin=atob(s),a=new Uint8Array(bin.length);for(var i=0;i<bin.length;i++)a[i]=bin.charCodeAt(i);return a;}
  function load(det){
    var tpl=det.querySelector('template');if(!tpl)return Promise.resolve();
    var body=tpl.parentNode;
    if(tpl.getAttribute('data-enc')==='gzip-base64'){
      if(typeof DecompressionStream==='undefined'){body.textContent='This browser cannot decompress the figures (no DecompressionStream).';return Promise.resolve();}
      var text=tpl.innerHTML.trim();tpl.remove();
      var stream=new Blob([b64ToBytes(text)]).stream().pipeThrough(new DecompressionStream('gzip'));
      return new Response(stream).text().then(function(html){body.insertAdjacentHTML('beforeend',html);});
    }
    body.appendChild(tpl.content.cloneNode(true));tpl.remove();return Promise.resolve();
  }
  var layers=document.querySelectorAll('details.layer');
  layers.forEach(function(d){d.addEventListener('toggle',function(){if(d.open)load(d);});});
  window.wwLoadAllLayers=function(open){var ps=[];layers.forEach(function(d){if(open)d.open=true;ps.push(load(d));});return Promise.all(ps);};
  var ex=document.getElementById('expand-all'), co=document.getElementById('collapse-all');
  if(ex)ex.addEventListener('click',function(){window.wwLoadAllLayers(true);});
  if(co)co.addEventListener('click',function(){layers.forEach(function(d){d.open=false;});});
  function openHash(){var h=location.hash.slice(1);if(!h)return;var d=document.getElementById(h);if(d&&d.tagName==='DETAILS'){for(var p=d.parentElement;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true;}d.open=true;load(d).then(function(){var f=d.querySelector('figure[data-figure="esd"]');if(f){f.scrollIntoView({block:'start'});f.classList.add('flash');setTimeout(function(){f.classList.remove('flash');},1500);}});}}
  window.addEventListener('hashchange',openHash);openHash();
})();
`;

/**
 * The live figures (interactive.ts): each figure with a Vega spec is embedded with vega-embed in
 * place of its static SVG; hovering shows the tooltip, clicking a mark whose data names a layer
 * goes to it: its section (opened, scrolled to the ESD figure) when the page has one, else its row
 * in a table (data-layer). A figure that fails to embed keeps its static SVG.
 */
const INTERACTIVE_JS = `
(function(){
  'use strict';
  if(typeof vegaEmbed!=='function')return;
  function flash(el){el.classList.add('flash');setTimeout(function(){el.classList.remove('flash');},1500);}
  function goTo(d){
    if(!d)return;
    if(typeof window.wwLayerClick==='function'&&window.wwLayerClick(d))return;
    if(d.target){var t=document.getElementById(d.target);if(t&&t.tagName==='DETAILS'){if(location.hash==='#'+d.target)location.hash='';location.hash=d.target;return;}}
    if(d.anchor!==undefined&&d.anchor!==null){var det=document.getElementById('layer-'+d.anchor);
      if(det&&det.tagName==='DETAILS'){if(location.hash==='#layer-'+d.anchor)location.hash='';location.hash='layer-'+d.anchor;return;}}
    var names=[d.name,d.layer].filter(function(x){return x!==undefined&&x!==null;}).map(String);
    var rows=document.querySelectorAll('tr[data-layer]');
    for(var i=0;i<rows.length;i++){if(names.indexOf(rows[i].getAttribute('data-layer'))>=0){var r=rows[i];r.hidden=false;r.scrollIntoView({block:'center'});flash(r);return;}}
  }
  window.wwViews={};
  document.querySelectorAll('figure.chart[data-spec]').forEach(function(fig){
    var id=fig.getAttribute('data-spec'), el=document.getElementById(id);if(!el)return;
    var holder=document.createElement('div');holder.className='live';
    var stat=fig.querySelector(':scope > svg');
    fig.insertBefore(holder,fig.firstChild);
    vegaEmbed(holder,JSON.parse(el.textContent),{mode:'vega',renderer:'svg',actions:false,tooltip:{theme:'light'}}).then(function(res){
      if(stat)stat.remove();
      var svg=holder.querySelector('svg');if(svg&&stat)svg.setAttribute('aria-label',stat.getAttribute('aria-label')||'');
      res.view.addEventListener('click',function(ev,item){if(item&&item.datum)goTo(item.datum);});
      window.wwViews[id]=res.view;fig.classList.add('live-ready');
    },function(){holder.remove();});
  });
})();
`;

function page(title: string, metaLine: string, nav: [string, string][], main: string, generated: Date, interactive = false): string {
  const runtime = interactive ? browserRuntime() : null;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="weightwatcher (TypeScript)">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><div class="meta">${metaLine}</div></header>
<nav>${nav.map(([href, label]) => `<a href="#${href}">${escapeHtml(label)}</a>`).join('')}</nav>
<main>
${main}
</main>
<footer>Generated ${escapeHtml(generated.toISOString())} by weightwatcher (TypeScript port). Charts: Vega-Lite, rendered to SVG offline. α &lt; ${OVER_TRAINED_ALPHA}: possibly over-trained; α &gt; ${UNDER_TRAINED_ALPHA}: possibly under-trained.</footer>
<script>${JS}</script>
${runtime ? `<script data-ww="vega-runtime">${runtime}</script>\n<script>${INTERACTIVE_JS}</script>` : ''}
</body>
</html>
`;
}

/** Stands for the layer sections in the page template; everything after it is fixed text. */
const LAYERS_MARKER = '\u0000ww-layer-sections\u0000';

/**
 * The analyze report around its layer sections: `head` + sections joined by newlines + `tail` is
 * the page (analyzeReportHtml). The streaming writer (html-writer.ts) writes the sections between
 * the two without holding them all.
 */
export function analyzeReportFrame(
  d: Omit<AnalyzeReportData, 'layers' | 'compressLayers'>,
  layerCount: number,
): { head: string; tail: string } {
  const generated = d.generated ?? new Date();
  const meta = [
    d.source ? `source: <code>${escapeHtml(d.source)}</code>` : '',
    d.format ? `format: ${escapeHtml(d.format)}` : '',
    `${d.rows.length} layers`,
    d.elapsedMs !== undefined ? `analysed in ${(d.elapsedMs / 1000).toFixed(2)} s` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const main = `
<section id="summary"><h2>Summary</h2>
${countCards(d.rows)}
${summaryTable(d.summary)}
${d.notes?.length ? `<details><summary>${d.notes.length} notes (skipped / failed layers)</summary><ul>${d.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></details>` : ''}
</section>
<section id="model-plots"><h2>Model plots</h2>
${Object.keys(d.modelFigures).length ? figureGrid(d.modelFigures, 'model', 'model ', d.interactive) : '<p class="note">No plots (no successful fits).</p>'}
${d.interactive && Object.keys(d.interactive).length ? '<p class="note">Hover a point for its layer and values; click it to open the layer\'s ESD figure.</p>' : ''}
</section>
<section id="details"><h2>Details</h2>
<p class="note">Click a column header to sort; rows with α &lt; ${OVER_TRAINED_ALPHA} are vermillion (over-trained), α &gt; ${UNDER_TRAINED_ALPHA} blue (under-trained). Hover a number for full precision.</p>
${detailsTable(d.rows, { id: 'details-table', linkLayers: layerCount > 0 })}
</section>
<section id="layers"><h2>Layers</h2>
<div class="layer-tools"><button type="button" id="expand-all">Expand all</button> <button type="button" id="collapse-all">Collapse all</button> <span class="note">Figures are loaded when a layer is opened.</span></div>
${layerCount ? LAYERS_MARKER : NO_LAYER_FIGURES}
</section>`;
  const html = page(
    d.title,
    meta,
    [
      ['summary', 'Summary'],
      ['model-plots', 'Model plots'],
      ['details', 'Details'],
      ['layers', 'Layers'],
    ],
    main,
    generated,
    Object.keys(d.interactive ?? {}).length > 0,
  );
  if (!layerCount) return { head: html, tail: '' };
  // Row names come from the model file; the marker is found after them, in the fixed tail.
  const at = html.lastIndexOf(LAYERS_MARKER);
  return { head: html.slice(0, at), tail: html.slice(at + LAYERS_MARKER.length) };
}

/** The 'auto' rule: compress the layer figures when they exceed COMPRESS_THRESHOLD in total. */
export function compressLayerFigures(setting: boolean | 'auto' | undefined, totalSvgSize: number): boolean {
  return setting === true || (setting !== false && totalSvgSize > COMPRESS_THRESHOLD);
}

export function analyzeReportHtml(d: AnalyzeReportData): string {
  const total = d.layers.reduce((s, l) => s + layerFiguresSize(l), 0);
  const compress = compressLayerFigures(d.compressLayers, total);
  const { head, tail } = analyzeReportFrame(d, d.layers.length);
  return d.layers.length ? head + layerSections(d.layers, compress) + tail : head;
}

export function compareReportHtml(d: CompareReportData): string {
  const generated = d.generated ?? new Date();
  const res = d.result;
  const meta = res.models
    .map((m) => `<b>${escapeHtml(m.name)}</b>: <code>${escapeHtml(m.source)}</code>${m.kind === 'json' ? ' (saved result)' : ''}`)
    .join(' · ');
  const sideBySide = `<table class="data summary side"><thead><tr><th scope="col">metric</th>${res.names.map((n) => `<th scope="col">${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>${res.table
    .map(
      (t) =>
        `<tr><th scope="row">${escapeHtml(t.metric)}</th>${t.values.map((v) => `<td class="n"${v !== null ? ` title="${v}"` : ''}>${v === null ? '—' : escapeHtml(fmtCell(v))}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
  let diffs = '<p class="note">No layer names common to all models: per-layer differences not computed.</p>';
  if (res.diffs.length) {
    const rows: Row[] = res.diffs.map((x) => {
      const r: Row = { layer: x.name };
      res.names.forEach((n, i) => {
        r[`alpha ${n}`] = x.alphas[i] ?? null;
      });
      res.names.slice(1).forEach((n, i) => {
        r[`Δ alpha ${n}`] = x.deltas[i] ?? null;
      });
      return r;
    });
    diffs = `<p class="note">${res.diffs.length} layers matched by name; Δ = model − ${escapeHtml(res.names[0]!)}. Alphas below ${OVER_TRAINED_ALPHA} are marked vermillion (over-trained), above ${UNDER_TRAINED_ALPHA} blue (under-trained).</p>${diffTable(rows)}`;
  }
  const perModel = d.models
    .map(
      (m, i) => `<details class="model" id="model-${i}">
<summary><b>${escapeHtml(m.name)}</b> — ${m.rows.length} layers</summary>
${figureGrid(m.modelFigures, `m${i}`, `${m.name} `, m.interactive)}
${detailsTable(m.rows, { id: `details-${i}` })}
${
  m.layerEsds?.length
    ? `<h3>ESD of each layer</h3>\n${m.layerEsds.map((l) => layerSectionHtml({ id: l.id, row: l.row, figureCount: 1 }, { gzip: l.gzip }, `m${i}-${l.id}`)).join('\n')}`
    : ''
}
</details>`,
    )
    .join('\n');
  const main = `
<section id="summary"><h2>Summary</h2>
${sideBySide}
</section>
<section id="compare-plot"><h2>Comparison</h2>
${compareFiguresHtml(d)}
</section>
<section id="layer-diffs"><h2>Per-layer differences</h2>
${diffs}
</section>
<section id="models"><h2>Models</h2>
${perModel}
</section>`;
  return page(
    d.title,
    meta,
    [
      ['summary', 'Summary'],
      ['compare-plot', 'Comparison'],
      ['layer-diffs', 'Per-layer differences'],
      ['models', 'Models'],
    ],
    main,
    generated,
    Object.keys(d.interactive ?? {}).length > 0 || d.models.some((m) => Object.keys(m.interactive ?? {}).length > 0),
  );
}

const PANEL_CAPTIONS: Record<string, string> = {
  'alpha-hist': 'layer alpha distribution per model',
  'alpha-depth': 'alpha by layer (hover: layer and alpha; click: its row below)',
  'alpha-delta': 'Δ alpha per matched layer (hover: full layer name; click: its row below)',
  summary: 'summary',
};

/** The compare figure's panels at their own size (the combined figure shrunk to the page made its text ≈ 7 px). */
function compareFiguresHtml(d: CompareReportData): string {
  const panels = d.compareFigures && Object.keys(d.compareFigures).length ? d.compareFigures : undefined;
  if (!panels) {
    if (!d.compareFigure) return '<p class="note">No comparison figure.</p>';
    return `<div class="figs"><figure class="chart wide" data-figure="compare">${inlineSvg(d.compareFigure, 'cmp', 'comparison')}<figcaption>compare</figcaption></figure></div>`;
  }
  return `<div class="figs">${Object.entries(panels)
    .map(([name, svg]) => figureHtml(name, svg, 'cmp', `comparison: ${name}`, d.interactive?.[name], PANEL_CAPTIONS[name] ?? name))
    .join('')}</div>`;
}

function alphaWarn(v: Cell): string {
  return typeof v === 'number' && v >= 0 ? (v < OVER_TRAINED_ALPHA ? 'over' : v > UNDER_TRAINED_ALPHA ? 'under' : '') : '';
}

function diffTable(rows: Row[]): string {
  const cols = Object.keys(rows[0] ?? {});
  const head = cols
    .map((c) => `<th scope="col" data-type="${c === 'layer' ? 'str' : 'num'}" tabindex="0" aria-sort="none">${escapeHtml(c)}</th>`)
    .join('');
  const body = rows
    .map(
      (r) =>
        `<tr data-warn="ok" data-layer="${escapeHtml(String(r.layer ?? ''))}">${cols
          .map((c) => {
            const v = r[c] ?? null;
            const cls = c.startsWith('Δ') && typeof v === 'number' ? (v > 0 ? ' pos' : v < 0 ? ' neg' : '') : '';
            const text = c.startsWith('Δ') && typeof v === 'number' ? (v >= 0 ? '+' : '') + v.toFixed(3) : fmtCell(v);
            // α < 2 / α > 6 marked as in the analyze report: a tinted cell and a badge.
            const w = c.startsWith('alpha ') ? alphaWarn(v) : '';
            const shown = w
              ? `<span class="badge ${w}" title="${escapeHtml(WARN_LABEL[w]!)}">${escapeHtml(text)}</span>`
              : escapeHtml(text);
            return `<td data-v="${escapeHtml(sortKey(v))}"${typeof v === 'number' ? ` class="n${cls}${w ? ` warn-${w}` : ''}" title="${v}"` : ''}>${shown}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-tools" data-for="diff-table"><label>Filter <input type="search" class="filter" aria-label="filter layers"></label><select class="warn-filter" hidden><option value="all">all</option></select><span class="count"></span></div>
<div class="table-wrap"><table class="data sortable" id="diff-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

export interface SweepReportData {
  title: string;
  /** The results database the report was made from. */
  db: string;
  /** What was swept: models, options, sweep id (one line of HTML-escaped text). */
  description: string;
  points: readonly SweepStepPoint[];
  stepsParsed: boolean;
  movers: readonly AlphaMover[];
  /** Figure name → SVG (sweep figures: alpha-heatmap, alpha-counts, summary, alpha-movers). */
  figures: Record<string, string>;
  /** Vega specs of the interactive figures (interactive.ts interactiveSpecs), by figure name. */
  interactive?: Record<string, unknown>;
  /** Failed runs and other remarks. */
  notes?: string[];
  /** The layer ESD panel (sweep-esd-panel.ts): its markup, data and script; a click on a layer opens it. */
  esdPanel?: string;
  generated?: Date;
}

/** weightwatcher sweep-report --report: the sweep's figures and tables in one self-contained page. */
export function sweepReportHtml(d: SweepReportData): string {
  const generated = d.generated ?? new Date();
  const meta = [
    `database: <code>${escapeHtml(d.db)}</code>`,
    escapeHtml(d.description),
    `${d.points.length} ${d.stepsParsed ? 'steps' : 'models'}`,
  ].join(' · ');
  const metrics = [...new Set(d.points.flatMap((p) => Object.keys(p.summary)))];
  const stepRows: Row[] = d.points.map((p) => ({
    step: p.step,
    model: p.model,
    layers: p.layers,
    'α<2': p.below2,
    'α>6': p.above6,
    'failed fits': p.failedFits,
    ...Object.fromEntries(metrics.map((m) => [m, (p.summary as Record<string, number | undefined>)[m] ?? null])),
  }));
  const stepCols = ['step', 'model', 'layers', 'α<2', 'α>6', 'failed fits', ...metrics];
  const moverRows: Row[] = d.movers.map((m) => ({
    layer: layerLabel(m),
    first: m.first,
    last: m.last,
    'Δ (last − first)': m.delta,
    min: m.min,
    max: m.max,
    range: m.range,
    steps: m.steps,
  }));
  const fig = (name: string, label: string) =>
    d.figures[name]
      ? `<div class="figs">${figureHtml(name, d.figures[name], 'sw', label, d.interactive?.[name], label)}</div>`
      : '<p class="note">No data for this figure.</p>';
  const main = `
<section id="summary"><h2>Over ${d.stepsParsed ? 'steps' : 'models'}</h2>
${fig('alpha-counts', 'layers with alpha < 2 and > 6')}
${fig('summary', 'summary metrics')}
${detailsTable(stepRows, { id: 'steps-table', columns: stepCols, caption: 'one row per run, in step order; alpha and the other metrics are means over layers' })}
${d.notes?.length ? `<details open><summary>${d.notes.length} notes</summary><ul>${d.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></details>` : ''}
</section>
<section id="heatmap"><h2>Alpha per layer</h2>
<p class="note">Rows: layers in model order; columns: ${d.stepsParsed ? 'steps' : 'models in the order given'}. Vermillion: α &lt; ${OVER_TRAINED_ALPHA} (over-trained), blue: α &gt; ${UNDER_TRAINED_ALPHA} (under-trained), grey: failed fit. Hover a cell for the layer and its alpha${d.esdPanel ? '; click it for the layer’s ESD at that step, beside the first and last' : ''}.</p>
${fig('alpha-heatmap', 'alpha heatmap')}
</section>
<section id="movers"><h2>Layers whose alpha moved most</h2>
${fig('alpha-movers', 'alpha of the layers that moved most')}
${moverRows.length ? detailsTable(moverRows, { id: 'movers-table', columns: Object.keys(moverRows[0]!) }) : '<p class="note">Fewer than two steps: nothing moved.</p>'}
</section>${d.esdPanel ? `\n${d.esdPanel}` : ''}`;
  return page(
    d.title,
    meta,
    [
      ['summary', 'Over steps'],
      ['heatmap', 'Heatmap'],
      ['movers', 'Movers'],
    ],
    main,
    generated,
    Object.keys(d.interactive ?? {}).length > 0,
  );
}
