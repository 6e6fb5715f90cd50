/**
 * Interactive figures in the HTML reports: hovering a point shows the layer's name and values (the
 * figure's Vega-Lite `tooltip` encoding, drawn by vega-tooltip), clicking a layer goes to it (its
 * ESD figure in the analyze report, its row in a table elsewhere; html.ts's page script).
 *
 * The page stays one file that works offline: the Vega runtime (vega.min.js) and vega-embed (which
 * bundles vega-tooltip) are inlined, ≈ 580 KB once per report, and each interactive figure carries
 * its Vega spec (compiled here from Vega-Lite, so the page needs no vega-lite). The static SVG of
 * each figure stays in the page too: it is what shows when scripts are off, and it is replaced by
 * the live view when the page loads. When the runtime files cannot be found (the plot packages
 * are optional dependencies), reports are written without interactivity.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { VlSpec } from './plots/spec.js';

/** Runtime files, by package (their `exports` hide the browser builds from require.resolve). */
const RUNTIME = [
  ['vega', 'build/vega.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

let runtime: string | null | undefined;

/** Find `<pkg>/<file>` in the node_modules folders Node would search from this module. */
function packageFile(pkg: string, file: string): string | undefined {
  const paths = createRequire(import.meta.url).resolve.paths(pkg) ?? [];
  for (const p of paths) {
    const f = join(p, pkg, file);
    if (existsSync(f)) return f;
  }
  return undefined;
}

/**
 * The inline script that defines `vega` and `vegaEmbed` in the page, or null when a runtime file is
 * missing. vega-embed's UMD build also asks for `vegaLite`: it is only used for Vega-Lite specs,
 * which the reports never hand it, so an empty stand-in is defined.
 */
export function browserRuntime(): string | null {
  if (runtime !== undefined) return runtime;
  const parts: string[] = [];
  for (const [pkg, file] of RUNTIME) {
    const f = packageFile(pkg, file);
    if (!f) return (runtime = null);
    parts.push(readFileSync(f, 'utf8'));
  }
  runtime = [parts[0]!, 'window.vegaLite=window.vegaLite||{version:"none"};', parts[1]!].map(scriptText).join('\n');
  return runtime;
}

/** Text safe inside a <script> element: no `</script`, `<!--`, and the JS line separators escaped. */
export function scriptText(js: string): string {
  return js
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** JSON inside `<script type="application/json">`: the same escapes (JSON.parse reads them back). */
export function jsonScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Vega specs of the figures that are interactive in a report, by figure name (the same names as the
 * static figures). Loads vega-lite (the plot stack) if it is not loaded yet. Returns {} when the
 * browser runtime is missing: the report is then static.
 */
export async function interactiveSpecs(specs: Readonly<Record<string, VlSpec | undefined>>): Promise<Record<string, unknown>> {
  if (!browserRuntime()) return {};
  const { compileToVega, loadPlotStack } = await import('./plots/render.js');
  await loadPlotStack();
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (!spec) continue;
    // The $schema URL is dropped: the page names the mode itself, and a report holds no URL.
    const vg = { ...compileToVega(spec) } as Record<string, unknown>;
    delete vg.$schema;
    out[name] = vg;
  }
  return out;
}
