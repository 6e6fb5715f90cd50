/** `weightwatcher analyze <model>`: per-layer metrics, summary, and the requested outputs. */
import { WeightWatcher } from '../../watcher.js';
import { nativeInfo } from '../../native/binding.js';
import { renderSkipped, renderSummary, renderTable } from '../../report/table.js';
import { ANALYSIS_OPTIONS, OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions, usageError, type ParsedArgs } from '../args.js';
import { selectFigures, selectFormats } from '../../report/plots/figures.js';
import type { AnalyzePlotsOptions } from '../plot-commands.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { modelArg, tableWanted, writeOutputs } from '../output.js';
import { makeProgress } from '../progress.js';
import { VERSION } from '../version.js';

export const analyze: Command = {
  name: 'analyze',
  summary: 'per-layer spectra, power-law alpha and metrics',
  usage: '<model> [options]',
  description: `${MODEL_ARGUMENT}

Prints the main columns (--all: every column), the summary, the counts of layers with alpha < 2
and > 6, and why layers were skipped. Layers that fail are reported on stderr; the run goes on.

--plot and --report render each layer's figures as soon as the layer is analysed, in worker
threads (one per core of the thread budget), so a model's ESDs are never all in memory.`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'analysis', options: ANALYSIS_OPTIONS },
    { title: 'output', options: OUTPUT_OPTIONS },
  ],
  examples: [
    'analyze model.safetensors',
    'analyze ./my-hf-model --json out.json --csv out.csv',
    'analyze model.safetensors --layers dense --min-evals 50 -q --json -',
    'analyze model.onnx --randomize --mp-fit --plot plots/ --report report.html',
    'analyze model.safetensors --plot plots/ --plot-figures esd,alpha-depth --plot-format svg',
    'analyze model.gguf --fit TPL --pl-package powerlaw --threads 4',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(analyze, argv);
    const path = modelArg(positionals, 'analyze');
    const color = io.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
    const progress = makeProgress(io.stderr, !values.quiet);
    const opts = toAnalyzeOptions(values);
    const plotting = plotOptions(values, opts.threads);
    const ww = new WeightWatcher(path);
    // Figures render while the analysis runs; the plot stack loads only here.
    const plots = plotting ? await (await import('../plot-commands.js')).AnalyzePlots.start(plotting) : undefined;
    try {
      let details;
      try {
        details = await ww.analyze({ ...opts, onProgress: progress.update, ...(plots?.wantsLayers ? { onLayer: plots.onLayer } : {}) });
      } finally {
        progress.done();
      }
      const summary = ww.getSummary();
      const run = ww.lastRun!;
      const meta = {
        tool: `weightwatcher (TypeScript) ${VERSION}`,
        source: run.source,
        format: run.format,
        options: opts,
        elapsed_ms: Math.round(run.elapsedMs),
        native: nativeInfo(),
        skipped: run.skipped,
        failures: run.failures,
      };
      await writeOutputs(values, { details, summary, meta }, io);
      if (plots && plotting) {
        const { files } = await plots.finish(ww, path);
        if (plotting.plotDir !== undefined) io.stderr.write(`wrote ${files.length} plot files to ${plotting.plotDir}\n`);
        if (plotting.reportFile !== undefined) io.stderr.write(`wrote report ${plotting.reportFile}\n`);
      }
      if (tableWanted(values)) {
        if (details.length === 0) io.stdout.write(`no layer qualified for analysis in ${run.source}; ${run.skipped.length} skipped:\n${renderSkipped(run.skipped)}`);
        else {
          io.stdout.write(values.all ? renderTable(details, { color, columns: Object.keys(details[0]!).map((k) => [k, k]) }) : renderTable(details, { color }));
          io.stdout.write('\n' + renderSummary(summary, details, { color }));
          io.stdout.write(`${details.length} layers analysed in ${(run.elapsedMs / 1000).toFixed(2)} s (${run.format}: ${run.source})\n`);
          if (run.skipped.length) io.stdout.write(`${run.skipped.length} skipped (reasons per layer: describe, or meta.skipped with --json):\n${renderSkipped(run.skipped)}`);
        }
      }
      for (const f of run.failures) io.stderr.write(`weightwatcher: warning: layer ${f.layer_id} ${f.name} failed: ${f.message}\n`);
      return 0;
    } finally {
      await plots?.close();
    }
  },
};

/** --plot, --report, --plot-figures, --plot-format → what to render (undefined: no figures), checked before the analysis. */
function plotOptions(values: ParsedArgs['values'], threads: number | null | undefined): AnalyzePlotsOptions | undefined {
  const plotDir = str(values, 'plot');
  const reportFile = str(values, 'report');
  const figures = str(values, 'plot-figures');
  const format = str(values, 'plot-format');
  if (figures !== undefined && plotDir === undefined && reportFile === undefined) throw usageError('--plot-figures needs --plot or --report');
  if (format !== undefined && plotDir === undefined) throw usageError('--plot-format needs --plot (the report embeds SVG)');
  if (plotDir === undefined && reportFile === undefined) return undefined;
  return {
    ...(plotDir !== undefined ? { plotDir } : {}),
    ...(reportFile !== undefined ? { reportFile } : {}),
    ...(figures !== undefined ? { figures: selectFigures(figures.split(',')) } : {}),
    ...(format !== undefined ? { formats: selectFormats(format) } : {}),
    threads: threads ?? null,
  };
}
