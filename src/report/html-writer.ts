/**
 * The analyze report written as layers come in (analyze --report on a big model): each layer's
 * figures are turned into their section markup when the layer is rendered, and the SVG strings are
 * let go. While the figures total less than the compression threshold (html.ts, 8 MB) the markup
 * stays in memory, as plain text; past it every layer's markup is gzip-compressed and appended to
 * a scratch file, so memory does not grow with the number of layers. write() streams the page
 * (head, the sections in row order, tail) to a temporary file beside the target and renames it.
 * The page is byte for byte what analyzeReportHtml makes from the same layers.
 *
 * Compressing and appending are synchronous (≈ 1.5 ms and one small write per layer): chained
 * asynchronous steps fell behind the layers when the event loop was busy rendering, and the markup
 * waiting for them piled up.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { makeDirectory, writeFileAtomic } from '../shared/atomic-write.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import type { Row } from '../shared/rows.js';
import {
  analyzeReportFrame,
  compressLayerFigures,
  gzipMarkup,
  layerFiguresMarkup,
  layerFiguresSize,
  layerSectionHtml,
  type AnalyzeReportData,
  type LayerSection,
} from './html.js';
import { layerPlotId } from './plots/layer.js';

interface Fragment {
  id: string;
  row: Row;
  figureCount: number;
  /** Plain markup, while the report is not compressed. */
  markup?: string;
  /** Where the gzip bytes are in the scratch file, once it is. */
  spilled?: { offset: number; length: number };
}

export class AnalyzeReportWriter {
  private readonly fragments = new Map<string, Fragment>();
  private readonly setting: boolean | 'auto';
  private total = 0;
  private compressed = false;
  private scratch: { dir: string; fd: number; size: number } | undefined;

  /** compressLayers: as AnalyzeReportData's (default 'auto': past 8 MB of figures). */
  constructor(opts: { compressLayers?: boolean | 'auto' } = {}) {
    this.setting = opts.compressLayers ?? 'auto';
    this.compressed = this.setting === true;
  }

  get layerCount(): number {
    return this.fragments.size;
  }

  /** Add one layer's figures (SVG strings); the writer keeps its markup, not the strings. */
  addLayer(section: LayerSection): void {
    if (this.fragments.has(section.id)) throw new WeightWatcherError('E_INTERNAL', `report: layer ${section.id} added twice`);
    const fragment: Fragment = {
      id: section.id,
      row: section.row,
      figureCount: Object.keys(section.figures).length,
      markup: layerFiguresMarkup(section),
    };
    this.fragments.set(section.id, fragment);
    this.total += layerFiguresSize(section);
    if (!this.compressed && compressLayerFigures(this.setting, this.total)) {
      // Crossing the threshold: from now on every layer is compressed, those held so far too.
      this.compressed = true;
      for (const f of this.fragments.values()) this.spill(f);
    }
    if (this.compressed) this.spill(fragment);
  }

  /** Compress a fragment's markup into the scratch file (once). */
  private spill(f: Fragment): void {
    if (f.markup === undefined) return;
    const bytes = gzipMarkup(f.markup);
    try {
      if (!this.scratch) {
        const dir = mkdtempSync(join(tmpdir(), 'ww-report-'));
        this.scratch = { dir, fd: openSync(join(dir, 'layers.gz'), 'w+'), size: 0 };
      }
      const s = this.scratch;
      let done = 0;
      while (done < bytes.length) done += writeSync(s.fd, bytes, done, bytes.length - done, s.size + done);
      f.spilled = { offset: s.size, length: bytes.length };
      s.size += bytes.length;
    } catch (e) {
      throw new WeightWatcherError('E_IO', `report scratch file in ${tmpdir()}: cannot write (${errorMessage(e)})`, { cause: e });
    }
    delete f.markup;
  }

  private payload(f: Fragment): { markup: string } | { gzip: Uint8Array } {
    if (f.markup !== undefined) return { markup: f.markup };
    const { offset, length } = f.spilled!;
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.scratch!.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new WeightWatcherError('E_IO', `report scratch file: read ${done} of ${length} bytes`);
      done += n;
    }
    return { gzip: buf };
  }

  /**
   * Write the page to `file` (its folder is created): summary, tables and model figures from `d`,
   * then the layer sections in the order of `d.rows` (layers without a row last, in arrival order).
   */
  async write(file: string, d: Omit<AnalyzeReportData, 'layers' | 'compressLayers'>): Promise<void> {
    const order: Fragment[] = [];
    const seen = new Set<string>();
    for (const r of d.rows) {
      const f = this.fragments.get(layerPlotId(r));
      if (f && !seen.has(f.id)) {
        order.push(f);
        seen.add(f.id);
      }
    }
    for (const f of this.fragments.values()) if (!seen.has(f.id)) order.push(f);
    const { head, tail } = analyzeReportFrame(d, order.length);
    const payload = (f: Fragment) => this.payload(f);
    async function* page(): AsyncGenerator<string> {
      yield head;
      for (let i = 0; i < order.length; i++) {
        const f = order[i]!;
        yield (i ? '\n' : '') + layerSectionHtml(f, payload(f));
      }
      yield tail;
    }
    try {
      await makeDirectory(dirname(resolve(file)));
      await writeFileAtomic(file, page());
    } finally {
      await this.dispose();
    }
  }

  /** Remove the scratch file (write() does this; call it when the report is abandoned). */
  async dispose(): Promise<void> {
    const s = this.scratch;
    this.scratch = undefined;
    if (!s) return;
    try {
      closeSync(s.fd);
    } catch {
      // already closed
    }
    rmSync(s.dir, { recursive: true, force: true });
  }
}
