/**
 * Worker thread of the plot renderer pool (pool.ts): receives one figure spec at a time, renders
 * it with the same functions the in-process path uses (render.ts: vega → SVG, resvg → PNG), and
 * posts back the SVG string and the PNG bytes (transferred, not copied). vega, vega-lite and resvg
 * load in the worker only.
 */
import { parentPort } from 'node:worker_threads';
import { renderSvg, svgToPng } from './render.js';
import type { RenderRequest, RenderResponse } from './pool.js';

const port = parentPort;
if (!port) throw new Error('render-worker.js runs as a worker thread of the plot renderer');

port.on('message', (req: RenderRequest) => {
  void handle(req).then(
    ({ response, transfer }) => port.postMessage(response, transfer),
    (e: unknown) => port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies RenderResponse),
  );
});

async function handle(req: RenderRequest): Promise<{ response: RenderResponse; transfer: ArrayBuffer[] }> {
  const svg = await renderSvg(req.spec);
  if (!req.png) return { response: { id: req.id, svg }, transfer: [] };
  let png = svgToPng(svg, req.png === true ? {} : req.png);
  // Only a buffer that owns its whole ArrayBuffer can be transferred (small Buffers share a pool).
  if (png.byteOffset !== 0 || png.byteLength !== png.buffer.byteLength) {
    const own = new Uint8Array(png.byteLength);
    own.set(png);
    png = own;
  }
  return { response: { id: req.id, svg, png }, transfer: [png.buffer as ArrayBuffer] };
}
