/** `weightwatcher analyze <model>`: per-layer metrics, summary, and the requested outputs. */
import { WeightWatcher } from '../../watcher.js';
import { nativeInfo } from '../../native/binding.js';
import { renderSkipped, renderSummary, renderTable } from '../../report/table.js';
import { ANALYSIS_OPTIONS, MODEL_DIFF_OPTIONS, OUTPUT_OPTIONS, QUEUE_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions, usageError, type OptionSpecs, type ParsedArgs } from '../args.js';
import { selectFigures, selectFormats } from '../../report/plots/figures.js';
import type { AnalyzePlotsOptions } from '../plot-commands.js';
import type { Summary } from '../../report/summary.js';
import type { SkippedLayer } from '../../engine/plan.js';
import type { LayerFailure } from '../../engine/analyze.js';
import type { DetailsRow } from '../../shared/rows.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { modelArg, tableWanted, writeOutputs } from '../output.js';
import { makeProgress } from '../progress.js';
import { VERSION } from '../version.js';
import { threadBudget } from '../../engine/thread-policy.js';
import type { RunInfo } from '../../watcher.js';

/** analyze --queue: one big model as layer-group jobs for workers on other machines. */
const ANALYZE_QUEUE_OPTIONS = {
  queue: QUEUE_OPTIONS.queue,
  'layers-per-job': { ...QUEUE_OPTIONS['layers-per-job'], default: '8' },
  'queue-name': QUEUE_OPTIONS['queue-name'],
  'poll-ms': QUEUE_OPTIONS['poll-ms'],
  db: { type: 'string', value: 'FILE.sqlite', description: 'with --queue: keep the result in this results database (a rerun then finds it)' },
} as const satisfies OptionSpecs;

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
    { title: 'fine-tunes and adapters', options: MODEL_DIFF_OPTIONS },
    { title: 'output', options: OUTPUT_OPTIONS },
    { title: 'queue (one big model over several machines)', options: ANALYZE_QUEUE_OPTIONS },
  ],
  examples: [
    'analyze model.safetensors',
    'analyze ./my-hf-model --json out.json --csv out.csv',
    'analyze model.safetensors --layers dense --min-evals 50 -q --json -',
    'analyze model.onnx --randomize --mp-fit --plot plots/ --report report.html',
    'analyze model.safetensors --plot plots/ --plot-figures esd,alpha-depth --plot-format svg',
    'analyze model.gguf --fit TPL --pl-package powerlaw --threads 4',
    'analyze ./finetuned --base-model ./base',
    'analyze ./lora-adapter --peft',
    'analyze ./lora-adapter --peft with-base --base-model ./base',
    'analyze /shared/models/big --queue redis://queue-host:6379 --layers-per-job 8 --json out.json',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(analyze, argv);
    const path = modelArg(positionals, 'analyze');
    const color = io.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
    const opts = toAnalyzeOptions(values);
    const plotting = plotOptions(values, opts.threads);
    const queue = str(values, 'queue');
    if (!queue && ['queue-name', 'layers-per-job', 'db', 'poll-ms'].some((k) => values[k] !== undefined)) throw usageError('--layers-per-job, --queue-name, --poll-ms and --db go with --queue redis://HOST:PORT (for many models: weightwatcher sweep)');
    if (queue && plotting) throw usageError('--plot and --report need the eigenvalues, which queue jobs do not send back; run them without --queue');
    const baseModel = str(values, 'base-model');
    if (queue && (baseModel !== undefined || opts.peft)) throw usageError('--base-model and --peft are not supported with --queue: run them without --queue');
    const ww = new WeightWatcher(path, baseModel === undefined ? {} : { baseModel });
    // Figures render while the analysis runs; the plot stack loads only here.
    const plots = plotting ? await (await import('../plot-commands.js')).AnalyzePlots.start(plotting) : undefined;
    try {
      let details: DetailsRow[];
      let summary: Summary;
      let run: { source: string; format: string; elapsedMs: number; skipped: SkippedLayer[]; failures: LayerFailure[] } & Partial<Pick<RunInfo, 'routes' | 'fallbacks' | 'routeStats' | 'threads'>>;
      if (queue) {
        const q = await (await import('../sweep-run.js')).analyzeOnQueue(path, opts, values, io);
        ({ summary, run } = q);
        details = q.details as DetailsRow[];
        io.stderr.write(`analyze: ${q.retries} job retries (${q.stalled} recovered from dead workers)\n`);
      } else {
        const { notice } = threadBudget(opts.threads ?? null);
        if (notice) io.stderr.write(`weightwatcher: note: ${notice}\n`);
        const progress = makeProgress(io.stderr, !values.quiet);
        try {
          details = await ww.analyze({ ...opts, onProgress: progress.update, ...(plots?.wantsLayers ? { onLayer: plots.onLayer } : {}) });
        } finally {
          progress.done();
        }
        summary = ww.getSummary();
        run = ww.lastRun!;
      }
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
        routes: run.routes,
        route_fallbacks: run.fallbacks,
        route_stats: run.routeStats,
        threads: run.threads,
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
          const routes = run.routes ? `; spectra: ${Object.entries(run.routes).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
          io.stdout.write(`${details.length} layers analysed in ${(run.elapsedMs / 1000).toFixed(2)} s (${run.format}: ${run.source}${routes})\n`);
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
