/** `weightwatcher analyze <model>`: per-layer metrics, summary, and the requested outputs. */
import { WeightWatcher } from '../../watcher.js';
import { nativeInfo } from '../../native/binding.js';
import { renderSkipped, renderSummary, renderTable } from '../../report/table.js';
import { ANALYSIS_OPTIONS, MODEL_DIFF_OPTIONS, OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions } from '../args.js';
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
and > 6, and why layers were skipped. Layers that fail are reported on stderr; the run goes on.`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'analysis', options: ANALYSIS_OPTIONS },
    { title: 'fine-tunes and adapters', options: MODEL_DIFF_OPTIONS },
    { title: 'output', options: OUTPUT_OPTIONS },
  ],
  examples: [
    'analyze model.safetensors',
    'analyze ./my-hf-model --json out.json --csv out.csv',
    'analyze model.safetensors --layers dense --min-evals 50 -q --json -',
    'analyze model.onnx --randomize --mp-fit --plot plots/ --report report.html',
    'analyze model.gguf --fit TPL --pl-package powerlaw --threads 4',
    'analyze ./finetuned --base-model ./base',
    'analyze ./lora-adapter --peft',
    'analyze ./lora-adapter --peft with-base --base-model ./base',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(analyze, argv);
    const path = modelArg(positionals, 'analyze');
    const color = io.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
    const progress = makeProgress(io.stderr, !values.quiet);
    const opts = toAnalyzeOptions(values);
    const plotDir = str(values, 'plot');
    const reportFile = str(values, 'report');
    const needEvals = plotDir !== undefined || reportFile !== undefined;
    const baseModel = str(values, 'base-model');
    const ww = new WeightWatcher(path, baseModel === undefined ? {} : { baseModel });
    let details;
    try {
      details = await ww.analyze({ ...opts, keep_evals: needEvals, onProgress: progress.update });
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
      ...(baseModel === undefined ? {} : { base_model: baseModel }),
      elapsed_ms: Math.round(run.elapsedMs),
      native: nativeInfo(),
      skipped: run.skipped,
      failures: run.failures,
    };
    await writeOutputs(values, { details, summary, meta }, io);
    if (plotDir) {
      const files = await (await import('../plot-commands.js')).writeAnalyzePlots(plotDir, ww);
      io.stderr.write(`wrote ${files.length} plot files to ${plotDir}\n`);
    }
    if (reportFile) {
      await (await import('../plot-commands.js')).writeAnalyzeReport(reportFile, ww, path);
      io.stderr.write(`wrote report ${reportFile}\n`);
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
  },
};
