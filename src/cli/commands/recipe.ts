/** `weightwatcher recipe NAME <model>`: a research recipe's per-layer metrics and settings (docs/recipes.md). */
import { WeightWatcher } from '../../watcher.js';
import { RECIPE_NAMES, type RecipeName, type RecipeOptions, type RecipeResult } from '../../recipes/run.js';
import { npyFloat64, peftConfigJson, recipeCsv, recipeJson } from '../../recipes/output.js';
import { formatCell } from '../../report/table.js';
import { str, usageError, type OptionSpecs } from '../args.js';
import { MODEL_ARGUMENT, parseCommandArgs, type Command } from '../command.js';
import { write } from '../output.js';
import { checkOutputs, type OutputTarget } from '../output-paths.js';

/** The recipe flags (the oracle's option names, with '-' for '_'), for the option table. */
export const RECIPE_OPTIONS: OptionSpecs = {
  precision: {
    type: 'string',
    value: 'P',
    choices: ['float64', 'float32'],
    default: 'float64',
    description: "float64, or float32: the papers' torch arithmetic (their discrete choices exactly)",
  },
  order: {
    type: 'string',
    value: 'ORDER',
    choices: ['natural', 'sorted', 'header'],
    default: 'natural',
    description: 'module order: natural (h.2 < h.10), sorted, header',
  },
  scope: {
    type: 'string',
    value: 'SCOPE',
    choices: ['auto', 'blocks', 'model'],
    default: 'auto',
    description: 'alphapruning-alpha-peak, farms-alpha: decoder blocks (auto: when there are any) or the whole model',
  },
  sparsity: { type: 'string', value: 'S', default: '0.7', description: 'alphapruning-sparsity: target mean sparsity, in [0, 1)' },
  epsilon: { type: 'string', value: 'E', default: '0.3', description: 'alphapruning-sparsity: ratios span [1-E, 1+E] before scaling' },
  lr: { type: 'string', value: 'LR', default: '0.1', description: 'tempbalance-lr: the untuned learning rate' },
  'assign-func': {
    type: 'string',
    value: 'F',
    choices: ['tb_linear_map', 'tb_sqrt', 'tb_log2', 'tb_step'],
    default: 'tb_linear_map',
    description: 'tempbalance-lr: alpha → learning-rate map',
  },
  'fix-fingers': {
    type: 'string',
    value: 'RULE',
    choices: ['xmin_mid', 'xmin_peak'],
    default: 'xmin_mid',
    description: 'farms-alpha: xmin rule (the paper LLM runs use xmin_peak)',
  },
  'xmin-pos': { type: 'string', value: 'K', default: '2', description: 'tempbalance-*, farms-*: xmin = eigenvalue at index int(N/K)' },
  'num-row-samples': { type: 'string', value: 'R', default: '100', description: 'farms-*: window rows' },
  'q-ratio': { type: 'string', value: 'Q', default: '2.0', description: 'farms-*: window columns = int(R·Q)' },
  'sampling-ops-per-dim': {
    type: 'string',
    value: 'N|none',
    description: 'farms-*: windows per dimension (farms-alpha: 10; farms-alpha-imagecls: none = slide by --step-size)',
  },
  'step-size': { type: 'string', value: 'S', default: '10', description: 'farms-*: sliding step when --sampling-ops-per-dim is none' },
};

const OUTPUTS: OptionSpecs = {
  json: { type: 'string', value: 'FILE', description: "write {method, options, layers, summary} as JSON ('-' = stdout)" },
  csv: { type: 'string', value: 'FILE', description: "write one row per layer as CSV ('-' = stdout)" },
  npy: {
    type: 'string',
    value: 'FILE',
    description: "the method's per-layer array as 1-D float64 .npy (AlphaPruning's alpha_peak.npy layout)",
  },
  'peft-config': { type: 'string', value: 'FILE', description: 'lora-rank: rank_pattern/alpha_pattern as a PEFT adapter_config.json' },
  quiet: { type: 'boolean', description: 'no per-layer lines on stdout' },
};

function num(values: Record<string, unknown>, flag: string): number | undefined {
  const v = str(values as never, flag);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw usageError(`--${flag} expects a number, got '${v}'`);
  return x;
}

function choice<T extends string>(values: Record<string, unknown>, flag: string): T | undefined {
  const v = str(values as never, flag);
  const allowed = RECIPE_OPTIONS[flag]!.choices!;
  if (v !== undefined && !allowed.includes(v)) throw usageError(`--${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T | undefined;
}

/** The recipe options of parsed flags (validated again, with ranges, by the recipe). */
export function recipeOptionsOf(values: Record<string, unknown>): RecipeOptions {
  const o: RecipeOptions = {};
  const set = <K extends keyof RecipeOptions>(k: K, v: RecipeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('precision', choice(values, 'precision'));
  set('order', choice(values, 'order'));
  set('scope', choice(values, 'scope'));
  set('sparsity', num(values, 'sparsity'));
  set('epsilon', num(values, 'epsilon'));
  set('lr', num(values, 'lr'));
  set('assign_func', choice(values, 'assign-func'));
  set('fix_fingers', choice(values, 'fix-fingers'));
  set('xmin_pos', num(values, 'xmin-pos'));
  set('num_row_samples', num(values, 'num-row-samples'));
  set('q_ratio', num(values, 'q-ratio'));
  set('step_size', num(values, 'step-size'));
  const ops = str(values as never, 'sampling-ops-per-dim');
  if (ops !== undefined) o.sampling_ops_per_dim = ops === 'none' ? null : num(values, 'sampling-ops-per-dim')!;
  return o;
}

/** The column a line on stdout shows for each recipe. */
const HEADLINE: Record<RecipeName, string> = {
  'alphapruning-alpha-peak': 'alpha',
  'alphapruning-sparsity': 'sparsity',
  'tempbalance-alpha': 'alpha',
  'tempbalance-lr': 'lr',
  'farms-alpha': 'alpha',
  'farms-alpha-imagecls': 'alpha',
  'lora-rank': 'rank',
};

function printLayers(r: RecipeResult, out: NodeJS.WritableStream): void {
  const key = HEADLINE[r.method];
  const width = Math.max(4, ...r.layers.map((l) => l.name.length));
  out.write(`${'name'.padEnd(width)}  ${key}\n`);
  for (const l of r.layers) {
    const v = l[key];
    const shown =
      l.included === false
        ? `— (${typeof l.reason === 'string' ? l.reason : 'not included'})`
        : v === null || v === undefined
          ? '—'
          : formatCell(v as number);
    out.write(`${l.name.padEnd(width)}  ${shown}\n`);
  }
}

export const recipe: Command = {
  name: 'recipe',
  summary: 'per-layer settings of research built on WeightWatcher (AlphaPruning, TempBalance, FARMS, LoRA ranks)',
  usage: `NAME <model> [options]`,
  description: `NAME: ${RECIPE_NAMES.join(', ')}.
${MODEL_ARGUMENT}

Computes the per-layer metric of the paper's code (docs/recipes.md) on the same layers, with the
same options and column names: AlphaPruning's alpha_peak and pruning sparsities, TempBalance's
median-xmin alphas and learning rates, FARMS' windowed alphas, Adaptive-Rank-LoRA's ranks.`,
  options: [
    { title: 'recipe', options: RECIPE_OPTIONS },
    { title: 'output', options: OUTPUTS },
  ],
  examples: [
    'recipe alphapruning-alpha-peak ./llama-7b --npy cache/alpha_peak.npy',
    'recipe alphapruning-sparsity ./llama-7b --sparsity 0.7 --epsilon 0.2 --json sparsity.json',
    'recipe tempbalance-lr model.safetensors --lr 0.05 --csv lr.csv',
    'recipe farms-alpha ./llama-7b --fix-fingers xmin_peak --num-row-samples 2000 --q-ratio 1 --sampling-ops-per-dim 15',
    'recipe lora-rank model.safetensors --peft-config adapter/adapter_config.json',
  ],
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(recipe, argv);
    const [name, path, ...extra] = positionals;
    if (name === undefined || path === undefined) throw usageError(`recipe needs NAME and a model (NAME: ${RECIPE_NAMES.join(', ')})`);
    if (extra.length) throw usageError(`recipe takes NAME and one model, got extra arguments: ${extra.join(' ')}`);
    if (!(RECIPE_NAMES as readonly string[]).includes(name))
      throw usageError(`unknown recipe '${name}' (one of ${RECIPE_NAMES.join(', ')})`);
    const o = recipeOptionsOf(values);
    const target = (flag: string, stdout: boolean): OutputTarget | undefined => {
      const p = str(values, flag);
      return p === undefined ? undefined : { flag: `--${flag}`, path: p, kind: 'file', stdout };
    };
    const peftPath = str(values, 'peft-config');
    if (peftPath !== undefined && name !== 'lora-rank') throw usageError('--peft-config is for the lora-rank recipe');
    await checkOutputs([target('json', true), target('csv', true), target('npy', false), target('peft-config', true)], [path]);
    const result = await new WeightWatcher(path).recipe(name as RecipeName, o);
    const json = str(values, 'json');
    const csv = str(values, 'csv');
    const npyPath = str(values, 'npy');
    if (json !== undefined) await write(json, recipeJson(result), io);
    if (csv !== undefined) await write(csv, recipeCsv(result), io);
    if (npyPath !== undefined) await write(npyPath, npyFloat64(result.array), io);
    if (peftPath !== undefined) await write(peftPath, peftConfigJson(result), io);
    const toStdout = [json, csv, peftPath].includes('-');
    if (!values.quiet && !toStdout) printLayers(result, io.stdout);
    return 0;
  },
};
