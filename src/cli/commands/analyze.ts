/** `weightwatcher analyze <model>`: per-layer metrics, summary, and the requested outputs. */
import { WeightWatcher, type RunInfo, type RunStatus } from '../../watcher.js';
import { nativeInfo } from '../../native/binding.js';
import { resolveOptions } from '../../shared/options.js';
import { escapeControl } from '../../shared/text.js';
import { renderSkipped, renderSummary, renderTable } from '../../report/table.js';
import {
  ANALYSIS_OPTIONS,
  MODEL_DIFF_OPTIONS,
  OUTPUT_OPTIONS,
  QUEUE_OPTIONS,
  SELECTION_OPTIONS,
  plotScale,
  str,
  toAnalyzeOptions,
  usageError,
  type OptionSpecs,
  type ParsedArgs,
} from '../args.js';
import { selectFigures, selectFormats } from '../../report/plots/figures.js';
import type { AnalyzePlotsOptions } from '../plot-commands.js';
import type { Summary } from '../../report/summary.js';
import { SkippedLayers } from '../../engine/plan.js';
import type { DetailsRow } from '../../shared/rows.js';
import { EXIT, MODEL_ARGUMENT, PROGRAM, parseCommandArgs, type Command, type Io } from '../command.js';
import { modelArg, tableOutputs, tableWanted, writeOutputs } from '../output.js';
import { checkOutputs } from '../output-paths.js';
import { makeProgress, progressMode } from '../progress.js';
import { VERSION } from '../version.js';
import { threadBudget } from '../../engine/thread-policy.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf } from '../model-source-options.js';

/** analyze --queue: one big model as layer-group jobs for workers on other machines. */
const ANALYZE_QUEUE_OPTIONS = {
  queue: QUEUE_OPTIONS.queue,
  'layers-per-job': { ...QUEUE_OPTIONS['layers-per-job'], default: '8' },
  'queue-name': QUEUE_OPTIONS['queue-name'],
  'poll-ms': QUEUE_OPTIONS['poll-ms'],
  db: {
    type: 'string',
    value: 'FILE.sqlite',
    description: 'with --queue: keep the result in this results database (a rerun then finds it)',
  },
} as const satisfies OptionSpecs;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "1 layer failed:" and one line per failed layer with its error code and message. */
export function renderFailures(failures: RunInfo['failures']): string {
  const lines = failures.map(
    (f) => `  ${String(f.layer_id).padStart(5)}  ${escapeControl(f.name)}: ${f.code} ${escapeControl(f.message)}\n`,
  );
  return `${plural(failures.length, 'layer')} failed:\n${lines.join('')}`;
}

/** Notes from the reader (e.g. the other formats a folder holds), on stderr. */
export function writeNotes(run: Pick<RunInfo, 'notes'>, io: Io): void {
  for (const n of run.notes) io.stderr.write(`${PROGRAM}: note: ${escapeControl(n)}\n`);
}

/** What the rest of analyze needs from a run, local or on a queue. */
type RunSummary = Pick<RunInfo, 'status' | 'planned' | 'failures' | 'explanation' | 'notes' | 'elapsedMs' | 'source' | 'format' | 'skips'> &
  Partial<Pick<RunInfo, 'routes' | 'fallbacks' | 'routeStats' | 'threads'>>;

export const analyze: Command = {
  name: 'analyze',
  summary: 'per-layer spectra, power-law alpha and metrics',
  usage: '<model> [options]',
  description: `${MODEL_ARGUMENT}

Prints the main columns (--all: every column), the summary, the counts of layers with alpha < 2
and > 6, why layers were skipped and which failed, with their errors. Output paths are checked
before the analysis; every file is written atomically (an interrupted run leaves the previous file).

--plot and --report render each layer's figures as soon as the layer is analysed, in worker
threads (one per core of the thread budget), so a model's ESDs are never all in memory.`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'analysis', options: ANALYSIS_OPTIONS },
    { title: 'fine-tunes and adapters', options: MODEL_DIFF_OPTIONS },
    { title: 'output', options: OUTPUT_OPTIONS },
    { title: 'queue (one big model over several machines)', options: ANALYZE_QUEUE_OPTIONS },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: [
    'analyze model.safetensors',
    'analyze ./my-hf-model --json out.json --csv out.csv',
    'analyze model.safetensors --layers dense --min-evals 50 -q --json -',
    'analyze model.safetensors --layers -lm_head,-wte',
    'analyze weights.npz --all-tensors --layers 2-5',
    'analyze model.onnx --randomize --mp-fit --plot plots/ --report report.html',
    'analyze model.safetensors --plot plots/ --plot-figures esd,alpha-depth --plot-format svg',
    'analyze model.gguf --fit TPL --pl-package powerlaw --threads 4',
    'analyze openai-community/gpt2',
    'analyze meta-llama/Llama-3.2-1B@main --token hf_… --cache-dir /data/hf',
    'analyze ./finetuned --base-model ./base',
    'analyze ./lora-adapter --peft',
    'analyze ./lora-adapter --peft with-base --base-model ./base',
    'analyze /shared/models/big --queue redis://queue-host:6379 --layers-per-job 8 --json out.json',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(analyze, argv);
    const path = modelArg(positionals, 'analyze');
    const opts = toAnalyzeOptions(values);
    resolveOptions(opts); // invalid combinations are refused before any file is touched
    const plotting = plotOptions(values, opts.threads);
    const queue = str(values, 'queue');
    if (!queue && ['queue-name', 'layers-per-job', 'db', 'poll-ms'].some((k) => values[k] !== undefined))
      throw usageError(
        '--layers-per-job, --queue-name, --poll-ms and --db go with --queue redis://HOST:PORT (for many models: weightwatcher sweep)',
      );
    if (queue && plotting)
      throw usageError('--plot and --report need the eigenvalues, which queue jobs do not send back; run them without --queue');
    const baseModel = str(values, 'base-model');
    if (queue && (baseModel !== undefined || opts.peft))
      throw usageError('--base-model and --peft are not supported with --queue: run them without --queue');
    // A model given by name is resolved by the coordinator (sweep()), which records its commit; the
    // workers read that snapshot, or the same commit from their own cache (docs/hub.md).
    if (queue && values.stream === true)
      throw usageError(
        '--stream does not go with --queue: the workers read local files; drop --stream (a model given by name is downloaded into the cache once)',
      );
    await checkOutputs(
      [
        ...tableOutputs(values),
        plotting?.plotDir === undefined ? undefined : { flag: '--plot', path: plotting.plotDir, kind: 'folder' },
        plotting?.reportFile === undefined ? undefined : { flag: '--report', path: plotting.reportFile, kind: 'file' },
      ],
      baseModel === undefined ? [path] : [path, baseModel],
    );

    const color = io.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
    const ww = new WeightWatcher(path, { ...(baseModel !== undefined && { baseModel }), ...modelSourceOf(values, io) });
    // Figures render while the analysis runs; the plot stack loads only here.
    const plots = plotting ? await (await import('../plot-commands.js')).AnalyzePlots.start(plotting) : undefined;
    try {
      let details: DetailsRow[];
      let summary: Summary;
      let run: RunSummary;
      if (queue) {
        const q = await (await import('../sweep-run.js')).analyzeOnQueue(path, opts, values, io);
        summary = q.summary;
        details = q.details as DetailsRow[];
        const skips = new SkippedLayers();
        for (const s of q.run.skipped) skips.add(s.layer_id, s.name, s.kind, s.reason);
        const failed = q.run.failures.length;
        const status: RunStatus = failed ? (details.length ? 'partial' : 'failed') : details.length ? 'ok' : 'empty';
        run = { ...q.run, status, planned: details.length + failed, notes: q.notes, skips };
        io.stderr.write(`analyze: ${q.retries} job retries (${q.stalled} recovered from dead workers)\n`);
      } else {
        const { notice } = threadBudget(opts.threads ?? null);
        if (notice) io.stderr.write(`${PROGRAM}: note: ${notice}\n`);
        const progress = makeProgress(io.stderr, progressMode(values));
        try {
          details = await ww.analyze({
            ...opts,
            onProgress: progress.update,
            throwOnFailure: false,
            ...(plots?.wantsLayers ? { onLayer: plots.onLayer } : {}),
          });
        } finally {
          progress.done();
        }
        summary = ww.getSummary();
        run = ww.lastRun!;
      }
      writeNotes(run, io);
      // Built only for --json: its skipped list is a million objects on hostile files.
      const meta = () => ({
        tool: `weightwatcher (TypeScript) ${VERSION}`,
        source: run.source,
        format: run.format,
        options: opts,
        ...(baseModel === undefined ? {} : { base_model: baseModel }),
        status: run.status,
        ...(run.explanation !== undefined && { explanation: run.explanation }),
        ...(run.notes.length && { notes: run.notes }),
        elapsed_ms: Math.round(run.elapsedMs),
        native: nativeInfo(),
        skipped: run.skips,
        failures: run.failures,
        routes: run.routes,
        route_fallbacks: run.fallbacks,
        route_stats: run.routeStats,
        threads: run.threads,
      });
      await writeOutputs(values, { details, summary, meta }, io);
      if (plots && plotting) {
        if (details.length === 0) io.stderr.write(`${PROGRAM}: note: no plots or report: nothing was analysed\n`);
        else {
          const { files } = await plots.finish(ww, path);
          if (plotting.plotDir !== undefined) io.stderr.write(`wrote ${files.length} plot files to ${plotting.plotDir}\n`);
          if (plotting.reportFile !== undefined) io.stderr.write(`wrote report ${plotting.reportFile}\n`);
        }
      }

      const table = tableWanted(values);
      if (table && details.length) {
        io.stdout.write(
          values.all
            ? renderTable(details, { color, columns: Object.keys(details[0]!).map((k) => [k, k]) })
            : renderTable(details, { color }),
        );
        io.stdout.write('\n' + renderSummary(summary, details, { color }));
        const routes = run.routes
          ? `; spectra: ${Object.entries(run.routes)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : '';
        io.stdout.write(
          `${details.length} layers analysed in ${(run.elapsedMs / 1000).toFixed(2)} s (${run.format}: ${escapeControl(run.source)}${routes})\n`,
        );
      }
      if (table && run.skips.length)
        io.stdout.write(
          `${run.skips.length} skipped (reasons per layer: describe, or meta.skipped with --json):\n${renderSkipped(run.skips.countsByKind())}`,
        );

      switch (run.status) {
        case 'empty':
          io.stderr.write(
            `${PROGRAM}: error: nothing to analyse in ${escapeControl(run.source)}: ${escapeControl(run.explanation ?? 'no layer qualified')}\n`,
          );
          return EXIT.failure;
        case 'failed':
          io.stderr.write(`${PROGRAM}: error: all ${renderFailures(run.failures).replace(/^\d+ /, `${run.planned} `)}`);
          return EXIT.failure;
        case 'partial':
          (table ? io.stdout : io.stderr).write(renderFailures(run.failures));
          return values['allow-failures'] ? EXIT.ok : EXIT.someFailed;
        case 'ok':
          return EXIT.ok;
      }
    } finally {
      await plots?.close();
    }
  },
};

/** --plot, --report, --plot-figures, --plot-format, --plot-scale → what to render (undefined: no figures), checked before the analysis. */
function plotOptions(values: ParsedArgs['values'], threads: number | null | undefined): AnalyzePlotsOptions | undefined {
  const plotDir = str(values, 'plot');
  const reportFile = str(values, 'report');
  const figures = str(values, 'plot-figures');
  const format = str(values, 'plot-format');
  const scale = plotScale(values);
  if (figures !== undefined && plotDir === undefined && reportFile === undefined)
    throw usageError('--plot-figures needs --plot or --report');
  if (format !== undefined && plotDir === undefined) throw usageError('--plot-format needs --plot (the report embeds SVG)');
  if (scale !== undefined && (plotDir === undefined || format === 'svg'))
    throw usageError('--plot-scale sets the size of the PNGs --plot writes (the report embeds SVG)');
  if (plotDir === undefined && reportFile === undefined) return undefined;
  return {
    ...(plotDir !== undefined ? { plotDir } : {}),
    ...(reportFile !== undefined ? { reportFile } : {}),
    ...(figures !== undefined ? { figures: selectFigures(figures.split(',')) } : {}),
    ...(format !== undefined ? { formats: selectFormats(format) } : {}),
    ...(scale !== undefined ? { pngScale: scale } : {}),
    threads: threads ?? null,
  };
}
