/**
 * Worker thread of the plot renderer pool (pool.ts): receives one task at a time — a spec to
 * render as SVG (render.ts: vega), or an SVG to rasterise (raster.ts: resvg) — with the same
 * functions the in-process path uses, and posts back the SVG string or the PNG bytes
 * (transferred, not copied). vega, vega-lite and resvg load in workers only; a worker started
 * without `vega` never loads vega.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RenderRequest, RenderResponse, RenderWorkerData } from './pool.js';

const port = parentPort;
if (!port) throw new Error('render-worker.js runs as a worker thread of the plot renderer');

// Load what this worker needs while the analysis produces the first layer: vega (≈ 0.2 s) for a
// vega worker, first; resvg and the glyph outlines of the fonts for every worker. A warm-up that
// fails is left for the first figure to report.
const role = workerData as RenderWorkerData;
const vegaReady = role.vega
  ? import('./render.js').then(async (m) => {
      await m.loadPlotStack();
      return m;
    })
  : undefined;
const rasterLoaded = (vegaReady ?? Promise.resolve())
  .then(() => import('./raster.js'))
  .then((m) => {
    try {
      m.warmUp();
    } catch {
      // svgToPng will throw the same error for the figure that needs it
    }
    return m;
  });
rasterLoaded.catch(() => undefined); // a failed load is reported by the task that awaits it
vegaReady?.catch(() => undefined);

port.on('message', (req: RenderRequest) => {
  void handle(req).then(
    ({ response, transfer }) => port.postMessage(response, transfer),
    (e: unknown) => port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies RenderResponse),
  );
});

async function handle(req: RenderRequest): Promise<{ response: RenderResponse; transfer: ArrayBuffer[] }> {
  if (req.spec !== undefined) {
    const { renderSvg } = await (vegaReady ?? import('./render.js'));
    return { response: { id: req.id, svg: await renderSvg(req.spec) }, transfer: [] };
  }
  const { svgToPng } = await rasterLoaded;
  let png = svgToPng(req.svg, req.png === true ? {} : req.png);
  // Only a buffer that owns its whole ArrayBuffer can be transferred (small Buffers share a pool).
  if (png.byteOffset !== 0 || png.byteLength !== png.buffer.byteLength) {
    const own = new Uint8Array(png.byteLength);
    own.set(png);
    png = own;
  }
  return { response: { id: req.id, png }, transfer: [png.buffer as ArrayBuffer] };
}
