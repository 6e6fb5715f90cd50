/**
 * `weightwatcher sweep <model…> --db FILE`: many checkpoints or models into a results database,
 * resumable, locally or (--queue) over workers on many machines. The work (and SQLite) loads only
 * when the command runs.
 */
import { ANALYSIS_OPTIONS, QUEUE_OPTIONS, SELECTION_OPTIONS, type OptionSpecs } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';
import { MODEL_SOURCE_OPTIONS } from '../model-source-options.js';

const SWEEP_OPTIONS = {
  db: { type: 'string', value: 'FILE.sqlite', description: 'results database (created when missing); required' },
  json: { type: 'string', value: 'OUT', description: `write {"runs":[{"model","step","summary","details"}]} in step order ('-' = stdout)` },
  'step-regex': {
    type: 'string',
    value: 'RE',
    description:
      'checkpoint step in model names (first capture group); default: checkpoint-N, step_N, ckptN, global_stepN, iter-N, epoch_N',
  },
  fingerprint: {
    type: 'string',
    value: 'sampled|full',
    description: 'how model files are hashed for the run key (docs/sweeps.md)',
    default: 'sampled',
  },
  force: { type: 'boolean', description: 'analyse again even when the database has the run' },
  'no-spectra': {
    type: 'boolean',
    description: "do not store the layers' eigenvalues (float32, ~3.7 MB per 7B checkpoint) that sweep-report's ESD panel draws",
  },
  threads: { type: 'string', value: 'N', description: 'thread budget of each analysis', default: 'all cores' },
  quiet: { type: 'boolean', short: 'q', description: 'no table at the end (progress lines still go to stderr)' },
} as const satisfies OptionSpecs;

export const sweep: Command = {
  name: 'sweep',
  summary: 'many checkpoints or models into a results database (resumable)',
  usage: '<model…> --db FILE.sqlite [options]',
  description: `<model…>: files, folders or glob patterns. A folder of checkpoint folders (or of model files)
is expanded to them; steps come from the names (checkpoint-1200, step_1200, ckpt1200), else from
the order given.

Each model is analysed with the same options and stored in the SQLite database, one transaction
per model. A model whose content fingerprint and options are already there is skipped, so an
interrupted sweep resumes where it stopped. Progress: one line per model on stderr, with an ETA.
Exit codes: 0 ok, 1 nothing analysed or unusable input, 2 bad usage, 3 some models or layers
failed (listed with their errors). Details: docs/sweeps.md.`,
  options: [
    { title: 'sweep', options: SWEEP_OPTIONS },
    { title: 'queue (several machines)', options: QUEUE_OPTIONS },
    { title: 'selection', options: SELECTION_OPTIONS },
    { title: 'analysis', options: ANALYSIS_OPTIONS },
    { title: 'models by name (Hugging Face)', options: MODEL_SOURCE_OPTIONS },
  ],
  examples: [
    'sweep ../shared/corpus/minigpt/init ../shared/corpus/minigpt/small-data ../shared/corpus/minigpt/big-data --db runs.sqlite',
    'sweep runs/my-finetune/ --db runs.sqlite --json sweep.json',
    "sweep 'zoo/**/*.safetensors' --db zoo.sqlite --randomize --seed 0",
    'sweep /shared/ckpts/run7 --db runs.sqlite --queue redis://queue-host:6379',
  ],
  async run(argv, io) {
    // Models given by name are resolved by sweep() (the model-source flags pass through): each becomes
    // its cached snapshot, downloaded when missing, and its run records the repo, revision and commit.
    return (await import('../sweep-run.js')).runSweep(parseCommandArgs(sweep, argv), io);
  },
};
