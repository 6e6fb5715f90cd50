/** `weightwatcher esd <model> --layer ID|NAME`: one layer's eigenvalues. */
import { WeightWatcher } from '../../watcher.js';
import { formatCell } from '../../report/table.js';
import { ANALYSIS_OPTIONS, str, usageError } from '../args.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { modelArg, write } from '../output.js';
import { checkOutputs } from '../output-paths.js';
import { MODEL_SOURCE_OPTIONS, modelSourceOf } from '../model-source-options.js';

export const esd: Command = {
  name: 'esd',
  summary: 'eigenvalues of one layer',
  usage: '<model> --layer ID|NAME [options]',
  description: `${MODEL_ARGUMENT}

Prints the layer's eigenvalues (ascending, without conv2d_norm scaling, as the reference's get_ESD)
one per line, or writes them as JSON; the count and the largest go to stderr.`,
  options: [
    {
      title: 'options',
      options: {
        layer: { type: 'string', value: 'ID|NAME', description: 'the layer: its id, or its name (required)' },
        json: { type: 'string', value: 'FILE', description: "write {layer, count, evals} as JSON ('-' = stdout)" },
        precision: ANALYSIS_OPTIONS.precision,
        'svd-method': ANALYSIS_OPTIONS['svd-method'],
      },
    },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: ['esd model.safetensors --layer 3', 'esd model.safetensors --layer h.0.attn.c_attn --json esd.json'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(esd, argv);
    const path = modelArg(positionals, 'esd');
    const layerArg = str(values, 'layer');
    if (layerArg === undefined) throw usageError('esd needs --layer ID|NAME');
    const layer = /^-?\d+$/.test(layerArg) ? Number(layerArg) : layerArg;
    const jsonFile = str(values, 'json');
    await checkOutputs([jsonFile === undefined ? undefined : { flag: '--json', path: jsonFile, kind: 'file', stdout: true }], [path]);
    const evals = await new WeightWatcher(path, modelSourceOf(values, io)).getESD(layer, {
      precision: str(values, 'precision') as 'float64' | 'float32' | undefined,
      svd_method: str(values, 'svd-method') as 'fast' | 'accurate' | undefined,
    });
    if (jsonFile) await write(jsonFile, JSON.stringify({ layer, count: evals.length, evals: Array.from(evals) }) + '\n', io);
    else io.stdout.write(Array.from(evals, (v) => String(v)).join('\n') + '\n');
    io.stderr.write(`${evals.length} eigenvalues, max ${formatCell(evals[evals.length - 1] ?? NaN)}\n`);
    return 0;
  },
};
