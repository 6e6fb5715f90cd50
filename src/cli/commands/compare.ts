/**
 * `weightwatcher compare A B [C …]`: models (or saved results) side by side. Arguments are checked
 * here; the analysis, figures and report (vega, resvg) load only when the command runs.
 */
import { extname } from 'node:path';
import {
  ANALYSIS_OPTIONS,
  MODEL_DIFF_OPTIONS,
  PLOT_SCALE_OPTION,
  SELECTION_OPTIONS,
  plotScale,
  str,
  toAnalyzeOptions,
  usageError,
} from '../args.js';
import { selectFormats } from '../../report/plots/figures.js';
import type { CompareRequest } from '../../report/compare.js';
import { parseCommandArgs, runCommand, type Command, type Io } from '../command.js';
import { checkOutputs } from '../output-paths.js';
import { defaultNames } from '../../report/compare.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf, resolveModelArgs } from '../model-source-options.js';

/** The checked arguments (the type lives in report/compare.ts, which plot-commands.ts also reads). */
export type CompareArgs = CompareRequest;

function compareArgs(argv: readonly string[]): CompareArgs {
  const { values, positionals } = parseCommandArgs(compare, argv);
  const args: CompareArgs = { inputs: positionals };
  const names = str(values, 'names');
  for (const k of ['plot', 'report', 'json'] as const) {
    const v = str(values, k);
    if (v !== undefined) args[k] = v;
  }
  if (names !== undefined) args.names = names.split(',').map((s) => s.trim());
  args.analyze = toAnalyzeOptions(values);
  const base = str(values, 'base-model');
  if (base !== undefined) {
    args.baseModel = base;
    const saved = args.inputs.filter((p) => extname(p).toLowerCase() === '.json' && !p.endsWith('.index.json'));
    if (saved.length) throw usageError(`--base-model applies to models, not to saved results (${saved.join(', ')})`);
  }
  if (args.inputs.length < 2) throw usageError(`compare needs at least two models to compare (got ${args.inputs.length})`);
  if (args.names && args.names.length !== args.inputs.length)
    throw usageError(`--names has ${args.names.length} names for ${args.inputs.length} models`);
  if (args.names && args.names.some((n) => !n)) throw usageError('--names has an empty name');
  if (args.names && new Set(args.names).size !== args.names.length) throw usageError('--names must be distinct');
  if (args.plot !== undefined && !['.png', '.svg'].includes(extname(args.plot).toLowerCase()))
    throw usageError(`--plot ${args.plot}: the file name must end in .png or .svg`);
  const format = str(values, 'plot-format');
  if (format !== undefined) {
    if (args.plot === undefined) throw usageError('--plot-format needs --plot');
    args.formats = selectFormats(format);
  }
  const scale = plotScale(values);
  if (scale !== undefined) {
    if (args.plot === undefined || format === 'svg') throw usageError('--plot-scale sets the size of the PNG --plot writes');
    args.pngScale = scale;
  }
  if (args.report !== undefined && !/\.html?$/i.test(args.report))
    throw usageError(`--report ${args.report}: the file name must end in .html`);
  return args;
}

export const compare: Command = {
  name: 'compare',
  summary: 'compare models or saved results side by side',
  usage: 'A B [C …] [options]',
  description: `Each of A, B, … is a model path (analysed with the options below) or a saved result (.json with
{details, summary, meta}, as written by analyze --json). Prints the side-by-side summary, the number
of layers with alpha > 6 / alpha < 2 per model and per-layer alpha differences when layer names match.
With --base-model every model is analysed as its difference to that base (W − W_base per layer):
several fine-tunes of one base, side by side.`,
  options: [
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'analysis', options: ANALYSIS_OPTIONS },
    { title: 'fine-tunes and adapters', options: MODEL_DIFF_OPTIONS },
    {
      title: 'output',
      options: {
        plot: {
          type: 'string',
          value: 'FILE.png|FILE.svg',
          description: 'write the comparison figure (FILE.png and FILE.svg next to each other)',
        },
        'plot-format': { type: 'string', value: 'svg|png|both', description: 'which of the two --plot writes', default: 'both' },
        'plot-scale': PLOT_SCALE_OPTION,
        report: { type: 'string', value: 'FILE.html', description: 'write a self-contained HTML report' },
        json: {
          type: 'string',
          value: 'FILE',
          description: "write the comparison (summaries, counts, per-layer differences) as JSON ('-' = stdout)",
        },
        names: { type: 'string', value: 'a,b,c', description: 'model names for tables and legends (default: from the paths)' },
      },
    },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: [
    'compare init/model.safetensors trained/model.safetensors',
    'compare before.json after.json --names before,after --plot compare.png',
    'compare before.json after.json --plot compare.svg --plot-format svg',
    'compare a.safetensors b.safetensors c.safetensors --report compare.html --json compare.json',
    'compare ft-1 ft-2 ft-3 --base-model ./base --min-evals 50',
    'compare openai-community/openai-gpt openai-community/gpt2 --plot cmp.png',
  ],
  async run(argv, io) {
    const args = compareArgs(argv);
    const plotBase = args.plot?.slice(0, args.plot.length - extname(args.plot).length);
    await checkOutputs(
      [
        args.plot === undefined
          ? undefined
          : {
              flag: '--plot',
              path: args.plot,
              kind: 'file',
              siblings: [extname(args.plot).toLowerCase() === '.png' ? `${plotBase}.svg` : `${plotBase}.png`],
            },
        args.report === undefined ? undefined : { flag: '--report', path: args.report, kind: 'file' },
        args.json === undefined ? undefined : { flag: '--json', path: args.json, kind: 'file', stdout: true },
      ],
      args.baseModel === undefined ? args.inputs : [...args.inputs, args.baseModel],
    );
    // Models given by name are resolved (cached or downloaded) to local paths here; their names stay the ones typed.
    const source = modelSourceOf(parseCommandArgs(compare, argv).values, io);
    args.names ??= defaultNames(args.inputs);
    args.inputs = await resolveModelArgs(args.inputs, source, io, 'compare');
    if (args.baseModel !== undefined) [args.baseModel] = await resolveModelArgs([args.baseModel], source, io, 'compare');
    return (await import('../plot-commands.js')).compareModels(args, io);
  },
};

/** compare as the CLI runs it (help, messages, exit codes), for callers without the dispatcher. */
export function runCompare(argv: string[], io: Io): Promise<number> {
  return runCommand(compare, argv, io);
}
