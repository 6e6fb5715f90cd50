/** `weightwatcher sharpen IN OUT`: remove each layer's correlation traps (SVD sharpening) into a new model. */
import { WeightWatcher } from '../../watcher.js';
import { ANALYSIS_OPTIONS } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';
import { modelSourceOf, resolveModelArgs } from '../model-source-options.js';
import { TRANSFORM_DESCRIPTION, TRANSFORM_GROUPS, checkTransformOutputs, inOut, runTransform } from './smooth.js';

export const sharpen: Command = {
  name: 'sharpen',
  summary: 'SVD sharpening: correlation traps removed, written to a new model',
  usage: 'IN OUT [options]',
  description: `${TRANSFORM_DESCRIPTION}

Each selected layer's entries are randomly permuted and the Marchenko–Pastur fit of that permuted
matrix counts its spikes (correlation traps); that many top singular components are then removed
from the original layer (exact SVD). A layer whose MP fit fails is left unchanged. The reference's
SVDSharpness; --seed makes the permutations reproducible (default: unseeded, as the reference).`,
  options: [
    {
      title: 'sharpening',
      options: { seed: { ...ANALYSIS_OPTIONS.seed, description: 'seed for the random permutations (default: unseeded)' } },
    },
    ...TRANSFORM_GROUPS,
  ],
  examples: ['sharpen model.safetensors sharpened.safetensors', 'sharpen ./model-folder ./sharpened --seed 1 --layers dense'],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(sharpen, argv);
    const [name, output] = inOut(positionals, 'sharpen');
    const [input] = (await resolveModelArgs([name], modelSourceOf(values, io), io, 'sharpen')) as [string];
    await checkTransformOutputs(values, input, output);
    return runTransform(values, io, (opts) => new WeightWatcher(input).sharpen(output, opts));
  },
};
