/**
 * Command-line option specs (parser settings plus their help text), the parser, and the
 * translation of analyze/describe options to API options. Built on node:util parseArgs; negative
 * numbers are accepted as values (`--xmax -1`).
 */
import { parseArgs } from 'node:util';
import { WeightWatcherError } from '../shared/errors.js';
import type { AnalyzeOptions, LayerFilter } from '../shared/options.js';

/** --plot-scale's upper bound: 8× a 535×435 figure is a 60 MB canvas. */
export const MAX_PLOT_SCALE = 8;

/**
 * One command-line option: how the parser reads it and how `--help` shows it (one source of truth,
 * so every command gets its help from the specs it parses with).
 */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown after the flag in help: `--min-evals N`. String options only. */
  readonly value?: string;
  /** One line for `--help`. */
  readonly description: string;
  /** Default shown in help, when there is one worth stating. */
  readonly default?: string;
  /**
   * String options whose value is optional: the flag alone means this value, and a following
   * argument is taken as the value only when it is one of `choices` (`--peft`, `--peft with-base`).
   */
  readonly implicit?: string;
  readonly choices?: readonly string[];
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Options that change which layers are selected (analyze, describe). */
export const SELECTION_OPTIONS = {
  layers: {
    type: 'string',
    value: 'LIST',
    description:
      'comma-separated ids (2,5,16), id ranges (2-5), types (dense,conv2d,conv1d,embedding,norm) or names (fc1); -ID / -NAME exclude (-3, -fc1); an entry that matches no layer is an error',
  },
  'min-evals': { type: 'string', value: 'N', description: 'skip layers with fewer eigenvalues', default: '10' },
  'max-evals': { type: 'string', value: 'N|none', description: 'skip layers with more eigenvalues', default: '15000' },
  'max-n': { type: 'string', value: 'N', description: 'skip layers whose larger dimension exceeds N', default: '50000' },
  'start-ids': { type: 'string', value: 'N', description: 'first layer id', default: '0' },
  'no-pool': { type: 'boolean', description: 'one row per conv2d kernel position (slice_id)' },
  channels: { type: 'string', value: 'first|last', description: 'conv kernel layout override' },
  'onnx-constants': { type: 'boolean', description: 'ONNX: also analyse weights held in Constant nodes' },
  'all-tensors': {
    type: 'boolean',
    description: 'every 2-D/4-D float tensor is a layer, not only *.weight keys (ids then run over all tensors in file order)',
  },
  format: {
    type: 'string',
    value: 'NAME',
    description:
      "read as safetensors|pytorch|onnx|gguf|tfjs|keras|npz|npy; in a folder, use that format's files (default: detected; safetensors > bin > onnx > gguf > tfjs > keras > npz > npy)",
  },
  'allow-large': {
    type: 'boolean',
    description: 'inflate compressed entries that expand more than 100× (refused by default as decompression bombs)',
  },
} as const satisfies OptionSpecs;

/** Options of analyze only: the fit and the optional column groups. */
export const ANALYSIS_OPTIONS = {
  fit: {
    type: 'string',
    value: 'PL|TPL|E_TPL',
    description: 'power law, truncated power law (Lambda column), or TPL with xmin_peak',
    default: 'PL',
  },
  'pl-package': {
    type: 'string',
    value: 'ww|powerlaw',
    description: "fitter: built-in, or the powerlaw package's rules; TPL and --xmax force need powerlaw",
    default: 'ww',
  },
  xmax: {
    type: 'string',
    value: 'force|K',
    description: 'force: xmax = largest eigenvalue (powerlaw only); K: drop the |K| largest eigenvalues first',
  },
  'fix-fingers': {
    type: 'string',
    value: 'xmin_peak|clip_xmax',
    description: 'xmin candidates near the ESD peak, or clip the largest eigenvalues while alpha falls',
  },
  'xmin-max': { type: 'string', value: 'X', description: 'xmin_peak: upper end of the xmin candidates (default 1.5 × the ESD peak)' },
  'max-fingers': { type: 'string', value: 'N', description: 'clip_xmax: most eigenvalues clipped', default: '10' },
  'finger-thresh': { type: 'string', value: 'X', description: 'clip_xmax: alpha drop that counts as a finger', default: '1.0' },
  randomize: { type: 'boolean', description: 'compare with the ESD of the shuffled matrices (rand_* columns)' },
  'mp-fit': { type: 'boolean', description: 'Marchenko–Pastur fit (num_spikes, sigma_mp, mp_softrank, …)' },
  detx: { type: 'boolean', description: 'detX constraint columns' },
  vectors: { type: 'boolean', description: 'eigenvector entropy / localization / participation columns' },
  inverse: { type: 'boolean', description: 'analyse 1/λ' },
  intra: { type: 'boolean', description: 'products of consecutive layers (experimental)' },
  'no-sparsify': { type: 'boolean', description: 'intra: multiply the layers directly, without a random 0/1 matrix' },
  stacked: { type: 'boolean', description: 'all layers standardised and stacked into one matrix' },
  'no-conv2d-norm': { type: 'boolean', description: 'do not scale pooled conv2d matrices by √(1/2)' },
  'glorot-fix': { type: 'boolean', description: 'divide each matrix by its Glorot scale instead' },
  tolerance: { type: 'string', value: 'X', description: 'eigenvalues below X count in weak_rank_loss', default: '1e-6' },
  seed: { type: 'string', value: 'N', description: 'seed for randomize and intra sparsification (default: unseeded)' },
  precision: {
    type: 'string',
    value: 'float64|float32',
    description: 'float32: single-precision spectra, opt-in (error per column: docs/numerics.md)',
    default: 'float64',
  },
  'svd-method': {
    type: 'string',
    value: 'fast|accurate',
    description: 'fast: Gram eigenvalues behind a per-layer accuracy guard; accurate: LAPACK gesdd always (docs/numerics.md)',
    default: 'fast',
  },
} as const satisfies OptionSpecs;

/** Fine-tune deltas and LoRA adapters (analyze, describe, compare). */
export const MODEL_DIFF_OPTIONS = {
  'base-model': { type: 'string', value: 'PATH', description: 'analyse W − W_base per layer against this base model (fine-tune deltas)' },
  'base-match': {
    type: 'string',
    value: 'name|substring',
    default: 'name',
    description: "pairing with the base model's layers: same name (unmatched layers skipped), or the reference's substring walk",
  },
  peft: {
    type: 'string',
    value: 'with-base',
    implicit: 'only',
    choices: ['with-base', 'only'],
    description: 'LoRA adapters: analyse each lora_B·lora_A (lora_BA rows); with-base: also W + BA and every other layer',
  },
} as const satisfies OptionSpecs;

/** PNG size for --plot (analyze and compare): pixels per SVG pixel. */
export const PLOT_SCALE_OPTION = {
  type: 'string',
  value: 'X',
  description: `PNG pixels per SVG pixel, up to ${MAX_PLOT_SCALE} (1: the SVG's size, 535×435 for a layer figure and about twice as fast to write; 2: sharp on high-DPI screens)`,
  default: '2',
} as const;

/** Output and run control of analyze. */
export const OUTPUT_OPTIONS = {
  json: { type: 'string', value: 'FILE', description: "write {details, summary, meta} as JSON ('-' = stdout)" },
  csv: { type: 'string', value: 'FILE', description: "write the details table as CSV ('-' = stdout)" },
  plot: {
    type: 'string',
    value: 'DIR',
    description: 'per-layer and model figures as files in DIR, rendered in parallel while the analysis runs',
  },
  report: { type: 'string', value: 'FILE.html', description: 'self-contained HTML report' },
  'plot-figures': {
    type: 'string',
    value: 'LIST',
    description:
      'figures for --plot and --report, comma-separated: layer figures esd, esd-linear, esd-loglin, ks-vs-xmin, alpha-vs-xmin, esd-random, mp-fit, mp-fit-random; model figures alpha-hist, <column>-depth (alpha-depth, log_spectral_norm-depth, …)',
    default: 'every layer figure the data allows, alpha-hist, alpha-depth, log_spectral_norm-depth',
  },
  'plot-format': {
    type: 'string',
    value: 'svg|png|both',
    description: 'file formats --plot writes (svg skips rasterising)',
    default: 'both',
  },
  'plot-scale': PLOT_SCALE_OPTION,
  'allow-failures': { type: 'boolean', description: 'exit 0 when some layers failed (default: exit 3, failures listed)' },
  all: { type: 'boolean', description: 'print every column' },
  quiet: { type: 'boolean', short: 'q', description: 'no table on stdout' },
  'no-color': { type: 'boolean', description: 'no colours in the table (also NO_COLOR)' },
  threads: {
    type: 'string',
    value: 'N',
    description: 'thread budget: concurrent layers × OpenBLAS threads, and plot render workers; capped at the cores (docs/performance.md)',
    default: 'all cores',
  },
} as const satisfies OptionSpecs;

/** The queue coordinator's options (sweep --queue, analyze --queue): scale-out over machines. */
export const QUEUE_OPTIONS = {
  queue: {
    type: 'string',
    value: 'redis://HOST:PORT',
    description:
      "enqueue jobs on Redis (BullMQ) for 'weightwatcher worker' processes on any machines; models must be on a filesystem they share, at the same absolute path",
  },
  'layers-per-job': { type: 'string', value: 'N', description: 'split each model into jobs of N layers (one big model over many workers)' },
  'queue-name': { type: 'string', value: 'NAME', description: 'BullMQ queue name', default: 'weightwatcher' },
  'poll-ms': {
    type: 'string',
    value: 'MS',
    description: 'how often the coordinator also polls job states (besides Redis events)',
    default: '2000',
  },
} as const satisfies OptionSpecs;

export function usageError(message: string): WeightWatcherError {
  return new WeightWatcherError('E_USAGE', message);
}

/**
 * Let option values start with '-' (`--xmax -1`, `--layers -fc1` → `--xmax=-1`, `--layers=-fc1`):
 * node:util's parser takes a dash-led word for an option. A word that is itself one of the
 * command's flags (`--layers -q`) stays a flag; `--layers=-q` says otherwise. Options with an
 * optional value get theirs (`--peft` → `--peft=only`, `--peft with-base` → `--peft=with-base`).
 */
function joinValues(argv: readonly string[], options: OptionSpecs): string[] {
  const flags = new Set([
    ...Object.keys(options).map((k) => `--${k}`),
    ...Object.values(options).flatMap((o) => (o.short ? [`-${o.short}`] : [])),
    '--help',
    '-h',
  ]);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const spec = a.startsWith('--') && !a.includes('=') ? options[a.slice(2)] : undefined;
    if (spec?.type === 'string' && spec.implicit !== undefined) {
      const joined = next !== undefined && spec.choices?.includes(next);
      out.push(`${a}=${joined ? next : spec.implicit}`);
      if (joined) i++;
    } else if (
      spec?.type === 'string' &&
      next !== undefined &&
      next.length > 1 &&
      next.startsWith('-') &&
      !flags.has(next.split('=')[0]!)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** node:util's parse errors, said the way the rest of the CLI says things. */
function parseErrorMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = err.message?.split('\n')[0] ?? String(e);
  const option = /'(-[^' ,]+)/.exec(message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /argument missing/.test(message)) return `${option} needs a value`;
  return message;
}

export function parse(argv: readonly string[], options: OptionSpecs): ParsedArgs {
  const config = Object.fromEntries(
    Object.entries(options).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
  );
  try {
    const r = parseArgs({ args: joinValues(argv, options), options: config, allowPositionals: true, strict: true });
    return { values: r.values, positionals: r.positionals };
  } catch (e) {
    throw usageError(parseErrorMessage(e));
  }
}

/** Bounds a numeric option must respect (stricter than the reference, which accepts anything). */
interface Bounds {
  readonly min?: number;
  readonly max?: number;
  /** The value must be above `above`. */
  readonly above?: number;
}

function checkBounds(name: string, n: number, v: string, b: Bounds): number {
  if (b.min !== undefined && n < b.min) throw usageError(`--${name} must be ≥ ${b.min}, got ${v}`);
  if (b.max !== undefined && n > b.max) throw usageError(`--${name} must be ≤ ${b.max}, got ${v}`);
  if (b.above !== undefined && !(n > b.above)) throw usageError(`--${name} must be > ${b.above}, got ${v}`);
  return n;
}

function int(name: string, v: string | undefined, bounds: Bounds = {}): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw usageError(`--${name} expects an integer, got '${v}'`);
  return checkBounds(name, Number(v), v, bounds);
}

function num(name: string, v: string | undefined, bounds: Bounds = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`--${name} expects a number, got '${v}'`);
  return checkBounds(name, n, v, bounds);
}

/**
 * `--layers 2,5,-fc1,dense,7-9` → [2, 5, '-fc1', 'dense', '7-9'] (integers become ids; '7-9' is an
 * id range unless a layer has that name). An empty list is an error.
 */
export function parseLayers(v: string | undefined): LayerFilter[] | undefined {
  if (v === undefined) return undefined;
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0 || entries.every((e) => e === '-')) throw usageError(`--layers needs at least one id, name or type, got '${v}'`);
  return entries.map((s) => (/^-?\d+$/.test(s) ? Number(s) : s));
}

type Values = ParsedArgs['values'];

/** --plot-scale (undefined when absent), above 0 and at most MAX_PLOT_SCALE. */
export function plotScale(values: Values): number | undefined {
  return num('plot-scale', str(values, 'plot-scale'), { above: 0, max: MAX_PLOT_SCALE });
}

/** A string option's value (undefined when absent). */
export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function toAnalyzeOptions(values: Values): AnalyzeOptions {
  const s = (k: string) => values[k] as string | undefined;
  const b = (k: string) => values[k] === true;
  const o: AnalyzeOptions = {};
  const set = <K extends keyof AnalyzeOptions>(k: K, v: AnalyzeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('layers', parseLayers(s('layers')));
  set('min_evals', int('min-evals', s('min-evals'), { min: 0 }));
  const maxEvals = s('max-evals');
  set('max_evals', maxEvals === 'none' ? null : int('max-evals', maxEvals, { min: 0 }));
  set('max_N', int('max-n', s('max-n'), { min: 1 }));
  set('start_ids', int('start-ids', s('start-ids'), { min: 0 }));
  if (b('no-pool')) o.pool = false;
  set('channels', s('channels') as AnalyzeOptions['channels']);
  set('fit', s('fit') as AnalyzeOptions['fit']);
  set('pl_package', s('pl-package') as AnalyzeOptions['pl_package']);
  const xmax = s('xmax');
  set('xmax', xmax === undefined ? undefined : xmax === 'force' ? 'force' : int('xmax', xmax));
  const ff = s('fix-fingers');
  set('fix_fingers', ff === undefined ? undefined : ff === 'false' || ff === 'none' ? false : (ff as 'xmin_peak' | 'clip_xmax'));
  set('xmin_max', num('xmin-max', s('xmin-max'), { above: 0 }));
  set('max_fingers', int('max-fingers', s('max-fingers'), { min: 1 }));
  set('finger_thresh', num('finger-thresh', s('finger-thresh'), { min: 0 }));
  for (const [flag, key] of [
    ['randomize', 'randomize'],
    ['mp-fit', 'mp_fit'],
    ['detx', 'detX'],
    ['vectors', 'vectors'],
    ['inverse', 'inverse'],
    ['intra', 'intra'],
    ['stacked', 'stacked'],
    ['glorot-fix', 'glorot_fix'],
  ] as const) {
    if (b(flag)) o[key] = true;
  }
  if (b('no-sparsify')) o.sparsify = false;
  if (b('onnx-constants')) o.onnx_constants = true;
  if (b('all-tensors')) o.all_tensors = true;
  if (b('allow-large')) o.allow_large = true;
  set('format', s('format') as AnalyzeOptions['format']);
  if (b('no-conv2d-norm')) o.conv2d_norm = false;
  set('tolerance', num('tolerance', s('tolerance'), { min: 0 }));
  set('seed', int('seed', s('seed')));
  set('precision', s('precision') as AnalyzeOptions['precision']);
  set('svd_method', s('svd-method') as AnalyzeOptions['svd_method']);
  set('threads', int('threads', s('threads'), { min: 1 }));
  const peft = s('peft');
  if (peft !== undefined) {
    const modes: Record<string, AnalyzeOptions['peft']> = {
      only: 'peft_only',
      'peft-only': 'peft_only',
      peft_only: 'peft_only',
      'with-base': 'with_base',
      with_base: 'with_base',
    };
    if (!(peft in modes)) throw usageError(`--peft takes no value or 'with-base', got '${peft}'`);
    o.peft = modes[peft];
  }
  const match = s('base-match');
  if (match !== undefined && match !== 'name' && match !== 'substring')
    throw usageError(`--base-match must be 'name' or 'substring', got '${match}'`);
  set('base_match', match);
  return o;
}
