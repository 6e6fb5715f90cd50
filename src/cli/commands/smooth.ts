/**
 * `weightwatcher smooth IN OUT`: SVD smoothing into a new safetensors file or folder. Also the
 * selection options and the report both model-writing commands (smooth, sharpen) share.
 */
import { WeightWatcher } from '../../watcher.js';
import { SMOOTH_METHODS, type TransformResult } from '../../engine/smoothing.js';
import { renderSkipped, renderTable } from '../../report/table.js';
import { jsonSafe } from '../../report/output.js';
import type { AnalyzeOptions } from '../../shared/options.js';
import { OUTPUT_OPTIONS, SELECTION_OPTIONS, str, toAnalyzeOptions, usageError, type ParsedArgs } from '../args.js';
import { parseCommandArgs, type Command, type Io, type OptionGroup } from '../command.js';
import { write } from '../output.js';
import { makeProgress, progressMode } from '../progress.js';
import { VERSION } from '../version.js';
import { stat } from 'node:fs/promises';
import { checkOutputs } from '../output-paths.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf, resolveModelArgs } from '../model-source-options.js';

const { layers, 'min-evals': minEvals, 'max-evals': maxEvals, 'max-n': maxN, 'start-ids': startIds, channels } = SELECTION_OPTIONS;

/** Layer selection and output of smooth and sharpen. */
export const TRANSFORM_GROUPS: readonly OptionGroup[] = [
  { title: 'selection', options: { layers, 'min-evals': minEvals, 'max-evals': maxEvals, 'max-n': maxN, 'start-ids': startIds, channels } },
  {
    title: 'output',
    options: {
      json: {
        type: 'string',
        value: 'FILE',
        description: "write the per-layer report {input, output, layers, skipped, …} as JSON ('-' = stdout)",
      },
      quiet: OUTPUT_OPTIONS.quiet,
      progress: OUTPUT_OPTIONS.progress,
      'progress-every': OUTPUT_OPTIONS['progress-every'],
      'no-progress': OUTPUT_OPTIONS['no-progress'],
      threads: { ...OUTPUT_OPTIONS.threads, description: 'OpenBLAS threads for the SVDs' },
    },
  },
  { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
];

export const TRANSFORM_DESCRIPTION = `IN: a safetensors file, or a folder with model.safetensors or shards and their index.
OUT: a new file (for a file) or a new folder (for a folder: same file names, the index and the other
non-weight files copied). IN is never modified; OUT appears only when complete. Every other tensor
and the metadata are copied byte for byte; a changed tensor keeps its dtype (bf16 stays bf16: the
written values are the rounded truncation).`;

/** IN and OUT. */
export function inOut(positionals: readonly string[], cmd: string): [string, string] {
  if (positionals.length !== 2) throw usageError(`${cmd} takes an input model and an output path, got ${positionals.length} arguments`);
  return positionals as [string, string];
}

/** The transform's outputs, checked before any work: the model copy (a file, or a folder for a folder input) and --json. */
export async function checkTransformOutputs(values: ParsedArgs['values'], input: string, output: string): Promise<void> {
  const json = str(values, 'json');
  const folder = (await stat(input).catch(() => undefined))?.isDirectory() === true;
  await checkOutputs(
    [
      { flag: 'OUT', path: output, kind: folder ? 'folder' : 'file' },
      json === undefined ? undefined : { flag: '--json', path: json, kind: 'file', stdout: true },
    ],
    [input],
  );
}

/** Run a transform with progress on stderr, then print and write its report. */
export async function runTransform(
  values: ParsedArgs['values'],
  io: Io,
  run: (opts: AnalyzeOptions) => Promise<TransformResult>,
): Promise<number> {
  const progress = makeProgress(io.stderr, progressMode(values));
  let res: TransformResult;
  try {
    res = await run({ ...toAnalyzeOptions(values), onProgress: progress.update });
  } finally {
    progress.done();
  }
  const json = str(values, 'json');
  if (json)
    await write(json, JSON.stringify(jsonSafe({ ...res, meta: { tool: `weightwatcher (TypeScript) ${VERSION}` } }), null, 2) + '\n', io);
  if (!values.quiet && json !== '-') {
    const rows = res.layers.map((l) => ({
      ...l,
      k: l.k ?? '-',
      what:
        l.action === 'unchanged'
          ? `unchanged${l.reason ? `: ${l.reason}` : ''}`
          : `${l.action} ${Math.abs(l.k_per_matrix!)}${l.rf > 1 ? ' per slice' : ''}`,
    }));
    if (rows.length)
      io.stdout.write(
        renderTable(rows, {
          color: false,
          columns: [
            ['layer_id', 'id'],
            ['name', 'name'],
            ['dtype', 'dtype'],
            ['N', 'N'],
            ['M', 'M'],
            ['rf', 'rf'],
            ['k', 'k'],
            ['what', 'change'],
          ],
          maxName: 40,
        }),
      );
    const changed = res.layers.filter((l) => l.action !== 'unchanged').length;
    io.stdout.write(
      `\n${changed} of ${res.layers.length} layers changed; wrote ${res.files.join(', ')} in ${(res.elapsedMs / 1000).toFixed(2)} s\n`,
    );
    if (res.copied.length) io.stdout.write(`copied unchanged: ${res.copied.join(', ')}\n`);
    if (res.omitted.length) io.stdout.write(`not carried over (other weight files): ${res.omitted.join(', ')}\n`);
    if (res.skipped.length) io.stdout.write(`${res.skipped.length} layers not selected (left as they are):\n${renderSkipped(res.skipped)}`);
  }
  return 0;
}

export const smooth: Command = {
  name: 'smooth',
  summary: 'SVD smoothing: low-rank layers, written to a new model',
  usage: 'IN OUT [options]',
  description: `${TRANSFORM_DESCRIPTION}

Each selected layer W becomes its best rank-k approximation (exact SVD), k per method: detX (the
detX constraint's count), svd (⌊percent · M · rf⌋), rmt (Marchenko–Pastur spikes), alpha_min (the
power-law tail's size). A negative percent removes the top ⌊|percent| · M · rf⌋ components instead.
conv2d layers use ceil(k / rf) per kernel position. The reference's SVDSmoothing.`,
  options: [
    {
      title: 'smoothing',
      options: {
        method: { type: 'string', value: SMOOTH_METHODS.join('|'), description: 'how k is chosen per layer', default: 'detX' },
        percent: { type: 'string', value: 'P', description: 'svd: the fraction of M·rf to keep, in [-1, 1]', default: '0.8' },
      },
    },
    ...TRANSFORM_GROUPS,
  ],
  examples: [
    'smooth model.safetensors smoothed.safetensors',
    'smooth model.safetensors rank20.safetensors --method svd --percent 0.2',
    'smooth ./sharded-model ./smoothed-model --method rmt --layers dense --json report.json',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(smooth, argv);
    const [name, output] = inOut(positionals, 'smooth');
    const [input] = (await resolveModelArgs([name], modelSourceOf(values, io), io, 'smooth')) as [string];
    await checkTransformOutputs(values, input, output);
    const method = str(values, 'method') ?? 'detX';
    const canonical = SMOOTH_METHODS.find((m) => m.toLowerCase() === method.toLowerCase());
    if (!canonical) throw usageError(`--method must be one of ${SMOOTH_METHODS.join(', ')}, got '${method}'`);
    const p = str(values, 'percent');
    const percent = p === undefined ? 0.8 : Number(p);
    if (p !== undefined && (p.trim() === '' || !Number.isFinite(percent) || percent < -1 || percent > 1))
      throw usageError(`--percent expects a number in [-1, 1], got '${p}'`);
    return runTransform(values, io, (opts) => new WeightWatcher(input).smooth(output, { ...opts, method: canonical, percent }));
  },
};
