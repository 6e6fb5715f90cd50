/**
 * SVG → PNG with resvg (@resvg/resvg-js): the half of the figure pipeline without vega, so
 * rasterising an SVG (svgToPng, svgToPngAsync) does not load vega. resvg is given font
 * files explicitly (DejaVu / Liberation from the system, or WW_FONT_FILE) so text is drawn the same
 * on every machine; with no font file found it falls back to the system fonts, and with none at
 * all the PNG still renders (without text). Before rasterising, text becomes glyph outlines and
 * no-op clips go (rasterReady: text-outline.ts, clip-elide.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { requireOptional } from '../../shared/optional-import.js';
import { elideNoopClips } from './clip-elide.js';
import { encodePng, encodePngAsync } from './png.js';
import { TextOutliner } from './text-outline.js';

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
  '/Library/Fonts/Arial.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
  'C:\\Windows\\Fonts\\arial.ttf',
  'C:\\Windows\\Fonts\\arialbd.ttf',
];

let fontCache: string[] | undefined;

type ResvgModule = typeof import('@resvg/resvg-js');
let resvgModule: ResvgModule | undefined;

/** resvg (an optional dependency of the plots feature, CommonJS) is loaded on first use. */
function resvg(): ResvgModule {
  return (resvgModule ??= requireOptional<ResvgModule>('plots', '@resvg/resvg-js'));
}

/** Font files handed to resvg: WW_FONT_FILE (path list) first, then the known system locations that exist. */
export function fontFiles(): string[] {
  if (fontCache) return fontCache;
  const env = (process.env.WW_FONT_FILE ?? '').split(/[:;]/).filter((p) => p && existsSync(p));
  fontCache = [...env, ...FONT_CANDIDATES.filter((p) => existsSync(p))];
  return fontCache;
}

export interface PngOptions {
  /** Pixel scale relative to the SVG size (default 2, crisp on high-DPI screens and in READMEs). */
  scale?: number;
  background?: string;
}

/** The family resvg falls back to (and maps 'sans-serif' to) for the loaded font files. */
function defaultFamily(files: readonly string[]): string {
  return files.some((f) => /DejaVuSans/.test(f))
    ? 'DejaVu Sans'
    : files.some((f) => /Liberation/.test(f))
      ? 'Liberation Sans'
      : files.length
        ? 'Arial'
        : '';
}

let outliner: TextOutliner | undefined;

/** Text → outlines for the loaded font files, built once per thread (text-outline.ts). */
function textOutliner(files: readonly string[]): TextOutliner {
  if (!outliner) {
    const fonts: Uint8Array[] = [];
    for (const f of files) {
      try {
        fonts.push(readFileSync(f));
      } catch {
        // unreadable: resvg will not load it either
      }
    }
    outliner = TextOutliner.fromFonts(fonts, defaultFamily(files));
  }
  return outliner;
}

/**
 * The SVG as resvg will rasterise it: text the loaded fonts can draw as outlines and clips that
 * change no pixel removed (text-outline.ts, clip-elide.ts). WW_PNG_FAST=0 skips both.
 */
export function rasterReady(svg: string): string {
  if (process.env.WW_PNG_FAST === '0') return svg;
  const files = fontFiles();
  return elideNoopClips(files.length ? textOutliner(files).outline(svg) : svg);
}

/** resvg's options for a prepared SVG: fonts only when text is left (resvg reads every font file per document). */
function resvgOptions(ready: string, opts: PngOptions): ResvgRenderOptions {
  const files = fontFiles();
  const family = defaultFamily(files);
  const font = !ready.includes('<text')
    ? { loadSystemFonts: false }
    : files.length
      ? { loadSystemFonts: false, fontFiles: files, defaultFontFamily: family, sansSerifFamily: family }
      : { loadSystemFonts: true }; // graceful fallback: whatever the OS has (maybe nothing: no text)
  return { background: opts.background ?? 'white', fitTo: { mode: 'zoom', value: opts.scale ?? 2 }, font, logLevel: 'off' };
}

/**
 * Pay the first figure's one-time costs now (render workers call it while they wait for work):
 * read and index the font files for the text outlines, and run resvg once.
 */
export function warmUp(): void {
  const files = fontFiles();
  if (files.length) textOutliner(files);
  new (resvg().Resvg)('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', {
    logLevel: 'off',
    font: { loadSystemFonts: false },
  }).render();
}

/** Rasterise an SVG document to PNG bytes with resvg (PNG encoding: png.ts). */
export function svgToPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const ready = rasterReady(svg);
  const image = new (resvg().Resvg)(ready, resvgOptions(ready, opts)).render();
  return encodePng(image.pixels, image.width, image.height);
}

/**
 * svgToPng with the rasterising and the compression on libuv's thread pool (resvg's renderAsync,
 * zlib's deflate): the same bytes, and the calling thread only prepares the SVG and copies rows.
 */
export async function svgToPngAsync(svg: string, opts: PngOptions = {}): Promise<Uint8Array> {
  const ready = rasterReady(svg);
  const image = await resvg().renderAsync(ready, resvgOptions(ready, opts));
  return encodePngAsync(image.pixels, image.width, image.height);
}
