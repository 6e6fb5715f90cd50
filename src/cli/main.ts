#!/usr/bin/env node
/**
 * weightwatcher / ww command line. Exit codes: 0 ok, 1 failure, 2 bad usage (sweep: 3 when some
 * models or layers failed). Errors go to stderr and name the file and what was wrong.
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { WeightWatcher } from '../watcher.js';
import { isWeightWatcherError, WeightWatcherError, errorMessage } from '../util/errors.js';
import { nativeInfo } from '../native/binding.js';
import { renderSkipped, renderSummary, renderTable, formatCell } from '../report/table.js';
import { toCsv, toJson } from '../report/output.js';
import { makeProgress } from './progress.js';
import { ANALYSIS_OPTIONS, OUTPUT_OPTIONS, SELECTION_OPTIONS, parse, str, toAnalyzeOptions, usageError, type ParsedArgs } from './args.js';
import type { Row } from '../metrics/extensions.js';
import type { Summary } from '../report/summary.js';
import type { SkippedLayer } from '../engine/plan.js';
import type { LayerFailure } from '../engine/analyze.js';

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const HELP = `weightwatcher ${version} — data-free diagnostics for trained neural networks

usage:
  weightwatcher analyze  <model> [options]   per-layer spectra, power-law alpha and metrics
  weightwatcher describe <model> [options]   layers that would be analysed (no SVD)
  weightwatcher esd      <model> --layer ID|NAME [--json FILE]   eigenvalues of one layer
  weightwatcher compare  <A> <B> [C …] [--plot FILE.png] [--report FILE.html]
  weightwatcher sweep    <model…> --db FILE.sqlite [options] [--json OUT] [--queue redis://HOST:PORT]
                                              many checkpoints / models into a results database
  weightwatcher sweep-report --db FILE.sqlite [--plot DIR] [--report FILE.html]
  weightwatcher worker   --queue redis://HOST:PORT [--concurrency N]   runs queued analyses
  weightwatcher info                          native build: BLAS, LAPACK, OpenBLAS core, threads
  (weightwatcher <command> --help for sweep, sweep-report, worker, compare)
  (ww is the same command)

<model>: a model file (.safetensors, .bin/.pt/.pth, .onnx, .gguf, .npy/.npz, TF.js model.json,
         .keras/.h5) or a folder (Hugging Face layout, sharded safetensors with index, …)

selection:
  --layers LIST          ids, names or types, comma-separated: 2,5,16 | -3 | dense,conv2d | -fc1
  --min-evals N          skip layers with fewer eigenvalues (default 10)
  --max-evals N|none     skip layers with more eigenvalues (default 15000)
  --max-n N              skip layers whose larger dimension exceeds N (default 50000)
  --start-ids N          first layer id (default 0)
  --no-pool              one row per conv2d kernel position (slice_id)
  --channels first|last  conv kernel layout override
  --onnx-constants       ONNX: also analyse weights held in Constant nodes
analysis:
  --fit PL|TPL|E_TPL     --pl-package ww|powerlaw   --xmax force|K   --fix-fingers xmin_peak|clip_xmax
  --xmin-max X  --max-fingers N  --finger-thresh X  --randomize  --mp-fit  --detx  --vectors
  --inverse  --intra  --no-sparsify  --stacked  --no-conv2d-norm  --tolerance X  --seed N
  --precision float64|float32   (float32: faster SVD, see README for its error)
output:
  --json FILE   {details, summary, meta}      --csv FILE    details table   (FILE '-' = stdout)
  --plot DIR    per-layer and model plots (SVG + PNG)      --report FILE.html   self-contained report
  --all         print every column            --quiet, -q   no table on stdout
  --threads N   thread budget: concurrent layers × OpenBLAS threads (default: all cores)  --no-color
queue (analyze one big model over many machines; docs/sweeps.md):
  --queue redis://HOST:PORT   layer-group jobs for 'weightwatcher worker' processes
  --layers-per-job N (default 8)   --queue-name NAME   --db FILE.sqlite (keep the result)
`;

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Write `text` to a file, or to stdout when the path is '-'. */
async function write(path: string, text: string, io?: Io): Promise<void> {
  if (path === '-' && io) {
    io.stdout.write(text);
    return;
  }
  try {
    await writeFile(path, text);
  } catch (e) {
    throw new WeightWatcherError('E_IO', `${path}: cannot write (${errorMessage(e)})`, { file: path, cause: e });
  }
}

async function writeOutputs(values: ParsedArgs['values'], payload: { details: Row[]; summary: object; meta: object }, io: Io): Promise<void> {
  const json = str(values, 'json');
  const csv = str(values, 'csv');
  if (json) await write(json, toJson(payload), io);
  if (csv) await write(csv, toCsv(payload.details), io);
}

/** `--json -` / `--csv -` use stdout, so the table is not printed there too. */
function tableWanted(values: ParsedArgs['values']): boolean {
  return !values.quiet && str(values, 'json') !== '-' && str(values, 'csv') !== '-';
}

function modelArg(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) throw usageError(`${cmd} takes exactly one model path, got ${positionals.length}`);
  return positionals[0]!;
}

async function plotCommands() {
  return import('./plot-commands.js');
}

async function sweepCommands() {
  return import('./sweep-commands.js');
}

const ANALYZE_QUEUE_OPTIONS = {
  queue: { type: 'string' },
  'queue-name': { type: 'string' },
  'layers-per-job': { type: 'string' },
  'poll-ms': { type: 'string' },
  db: { type: 'string' },
} as const;

async function cmdAnalyze(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...SELECTION_OPTIONS, ...ANALYSIS_OPTIONS, ...OUTPUT_OPTIONS, ...ANALYZE_QUEUE_OPTIONS });
  const path = modelArg(positionals, 'analyze');
  const color = io.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
  const opts = toAnalyzeOptions(values);
  const plotDir = str(values, 'plot');
  const reportFile = str(values, 'report');
  const needEvals = plotDir !== undefined || reportFile !== undefined;
  const queue = str(values, 'queue');
  if (!queue && ['queue-name', 'layers-per-job', 'db', 'poll-ms'].some((k) => values[k] !== undefined)) throw usageError('--queue-name, --layers-per-job and --db go with --queue redis://HOST:PORT (for many models: weightwatcher sweep)');
  if (queue && needEvals) throw usageError('--plot and --report need the eigenvalues, which queue jobs do not send back; run them without --queue (or use sweep-report)');
  const ww = new WeightWatcher(path);
  let details: Row[];
  let summary: Summary;
  let run: { source: string; format: string; elapsedMs: number; skipped: SkippedLayer[]; failures: LayerFailure[] };
  if (queue) {
    const q = await (await sweepCommands()).analyzeOnQueue(path, opts, values, io);
    ({ details, summary, run } = q);
    io.stderr.write(`analyze: ${q.retries} job retries (${q.stalled} recovered from dead workers)\n`);
  } else {
    const progress = makeProgress(io.stderr, !values.quiet);
    try {
      details = await ww.analyze({ ...opts, keep_evals: needEvals, onProgress: progress.update });
    } finally {
      progress.done();
    }
    summary = ww.getSummary();
    run = ww.lastRun!;
  }
  const meta = {
    tool: `weightwatcher (TypeScript) ${version}`,
    source: run.source,
    format: run.format,
    options: opts,
    elapsed_ms: Math.round(run.elapsedMs),
    native: nativeInfo(),
    skipped: run.skipped,
    failures: run.failures,
  };
  await writeOutputs(values, { details, summary, meta }, io);
  if (plotDir) {
    const files = await (await plotCommands()).writeAnalyzePlots(plotDir, ww);
    io.stderr.write(`wrote ${files.length} plot files to ${plotDir}\n`);
  }
  if (reportFile) {
    await (await plotCommands()).writeAnalyzeReport(reportFile, ww, path);
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
}

async function cmdDescribe(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...SELECTION_OPTIONS, json: OUTPUT_OPTIONS.json, csv: OUTPUT_OPTIONS.csv, 'no-color': OUTPUT_OPTIONS['no-color'], quiet: OUTPUT_OPTIONS.quiet });
  const path = modelArg(positionals, 'describe');
  const ww = new WeightWatcher(path);
  const rows = await ww.describe(toAnalyzeOptions(values));
  await writeOutputs(values, { details: rows, summary: {}, meta: { source: path } }, io);
  if (tableWanted(values)) {
    const cols: [string, string][] = [['layer_id', 'id'], ['name', 'name'], ['layer_type', 'type'], ['N', 'N'], ['M', 'M'], ['Q', 'Q'], ['rf', 'rf'], ['num_evals', 'num_evals'], ['slice_id', 'slice']];
    io.stdout.write(rows.length ? renderTable(rows, { color: false, columns: cols.filter(([k]) => rows.some((r) => k in r)) }) : 'no layer qualified\n');
    io.stdout.write(`${rows.length} layers\n`);
    const skipped = ww.lastRun?.skipped ?? [];
    if (skipped.length) {
      io.stdout.write(`${skipped.length} skipped:\n`);
      for (const s of skipped) io.stdout.write(`  ${String(s.layer_id).padStart(5)}  ${s.name}: ${s.reason}\n`);
    }
  }
  return 0;
}

async function cmdEsd(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { layer: OUTPUT_OPTIONS.layer, json: OUTPUT_OPTIONS.json, precision: ANALYSIS_OPTIONS.precision });
  const path = modelArg(positionals, 'esd');
  const layerArg = str(values, 'layer');
  if (layerArg === undefined) throw usageError('esd needs --layer ID|NAME');
  const layer = /^-?\d+$/.test(layerArg) ? Number(layerArg) : layerArg;
  const evals = await new WeightWatcher(path).getESD(layer, { precision: str(values, 'precision') as 'float64' | 'float32' | undefined });
  const jsonFile = str(values, 'json');
  if (jsonFile) await write(jsonFile, JSON.stringify({ layer, count: evals.length, evals: Array.from(evals) }) + '\n', io);
  else io.stdout.write(Array.from(evals, (v) => String(v)).join('\n') + '\n');
  io.stderr.write(`${evals.length} eigenvalues, max ${formatCell(evals[evals.length - 1] ?? NaN)}\n`);
  return 0;
}

function cmdInfo(io: Io): number {
  io.stdout.write(JSON.stringify({ version, node: process.version, ...nativeInfo() }, null, 2) + '\n');
  return 0;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'analyze': return await cmdAnalyze(rest, io);
      case 'describe': return await cmdDescribe(rest, io);
      case 'esd': return await cmdEsd(rest, io);
      case 'compare': return await (await plotCommands()).runCompare(rest, io);
      case 'sweep': return await (await sweepCommands()).runSweep(rest, io);
      case 'sweep-report': return await (await sweepCommands()).runSweepReport(rest, io);
      case 'worker': return await (await sweepCommands()).runWorker(rest, io);
      case 'info': return cmdInfo(io);
      case undefined: case 'help': case '--help': case '-h':
        io.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case '--version': case '-v':
        io.stdout.write(`${version}\n`);
        return 0;
      default:
        throw usageError(`unknown command '${cmd}' (analyze, describe, esd, compare, sweep, sweep-report, worker, info)`);
    }
  } catch (e) {
    const usage = isWeightWatcherError(e) && e.code === 'E_USAGE';
    io.stderr.write(`weightwatcher: ${usage ? 'usage error' : 'error'}: ${errorMessage(e)}\n`);
    if (usage) io.stderr.write("run 'weightwatcher help' for the options\n");
    return usage ? 2 : 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
