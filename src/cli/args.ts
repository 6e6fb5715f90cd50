/**
 * Command-line options shared by analyze / describe / esd, and their translation to API options.
 * Built on node:util parseArgs; negative numbers are accepted as values (`--xmax -1`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WeightWatcherError } from '../shared/errors.js';
import type { AnalyzeOptions, LayerFilter } from '../shared/options.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options that change which layers are selected (all subcommands). */
export const SELECTION_OPTIONS = {
  layers: { type: 'string' },
  'min-evals': { type: 'string' },
  'max-evals': { type: 'string' },
  'max-n': { type: 'string' },
  'start-ids': { type: 'string' },
  'no-pool': { type: 'boolean' },
  channels: { type: 'string' },
  'onnx-constants': { type: 'boolean' },
} as const satisfies OptionSpec;

/** Options of analyze only. */
export const ANALYSIS_OPTIONS = {
  fit: { type: 'string' },
  'pl-package': { type: 'string' },
  xmax: { type: 'string' },
  'fix-fingers': { type: 'string' },
  'xmin-max': { type: 'string' },
  'max-fingers': { type: 'string' },
  'finger-thresh': { type: 'string' },
  randomize: { type: 'boolean' },
  'mp-fit': { type: 'boolean' },
  detx: { type: 'boolean' },
  vectors: { type: 'boolean' },
  inverse: { type: 'boolean' },
  intra: { type: 'boolean' },
  'no-sparsify': { type: 'boolean' },
  stacked: { type: 'boolean' },
  'no-conv2d-norm': { type: 'boolean' },
  'glorot-fix': { type: 'boolean' },
  tolerance: { type: 'string' },
  seed: { type: 'string' },
  precision: { type: 'string' },
  'svd-method': { type: 'string' },
} as const satisfies OptionSpec;

export const OUTPUT_OPTIONS = {
  json: { type: 'string' },
  csv: { type: 'string' },
  plot: { type: 'string' },
  report: { type: 'string' },
  threads: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-color': { type: 'boolean' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  layer: { type: 'string' },
} as const satisfies OptionSpec;

export function usageError(message: string): WeightWatcherError {
  return new WeightWatcherError('E_USAGE', message);
}

/** Let option values start with '-' when they are numbers: `--xmax -1` → `--xmax=-1`. */
function joinNegativeValues(argv: readonly string[], valued: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && valued.has(a.slice(2)) && next !== undefined && /^-\d/.test(next)) {
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

export function parse(argv: readonly string[], options: OptionSpec): ParsedArgs {
  const valued = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([k]) => k));
  try {
    const r = parseArgs({ args: joinNegativeValues(argv, valued), options, allowPositionals: true, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw usageError(e instanceof Error ? e.message.split('\n')[0]! : String(e));
  }
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw usageError(`--${name} expects an integer, got '${v}'`);
  return Number(v);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`--${name} expects a number, got '${v}'`);
  return n;
}

/** `--layers 2,5,-fc1,dense` → [2, 5, '-fc1', 'dense'] (integers become ids). */
export function parseLayers(v: string | undefined): LayerFilter[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (/^-?\d+$/.test(s) ? Number(s) : s));
}

type Values = ParsedArgs['values'];

/** A string option's value (undefined when absent). */
export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function toAnalyzeOptions(values: Values): AnalyzeOptions {
  const s = (k: string) => values[k] as string | undefined;
  const b = (k: string) => values[k] === true;
  const o: AnalyzeOptions = {};
  const set = <K extends keyof AnalyzeOptions>(k: K, v: AnalyzeOptions[K] | undefined) => { if (v !== undefined) o[k] = v; };
  set('layers', parseLayers(s('layers')));
  set('min_evals', int('min-evals', s('min-evals')));
  const maxEvals = s('max-evals');
  set('max_evals', maxEvals === 'none' ? null : int('max-evals', maxEvals));
  set('max_N', int('max-n', s('max-n')));
  set('start_ids', int('start-ids', s('start-ids')));
  if (b('no-pool')) o.pool = false;
  set('channels', s('channels') as AnalyzeOptions['channels']);
  set('fit', s('fit') as AnalyzeOptions['fit']);
  set('pl_package', s('pl-package') as AnalyzeOptions['pl_package']);
  const xmax = s('xmax');
  set('xmax', xmax === undefined ? undefined : xmax === 'force' ? 'force' : int('xmax', xmax));
  const ff = s('fix-fingers');
  set('fix_fingers', ff === undefined ? undefined : ff === 'false' || ff === 'none' ? false : (ff as 'xmin_peak' | 'clip_xmax'));
  set('xmin_max', num('xmin-max', s('xmin-max')));
  set('max_fingers', int('max-fingers', s('max-fingers')));
  set('finger_thresh', num('finger-thresh', s('finger-thresh')));
  for (const [flag, key] of [['randomize', 'randomize'], ['mp-fit', 'mp_fit'], ['detx', 'detX'], ['vectors', 'vectors'], ['inverse', 'inverse'], ['intra', 'intra'], ['stacked', 'stacked'], ['glorot-fix', 'glorot_fix']] as const) {
    if (b(flag)) o[key] = true;
  }
  if (b('no-sparsify')) o.sparsify = false;
  if (b('onnx-constants')) o.onnx_constants = true;
  if (b('no-conv2d-norm')) o.conv2d_norm = false;
  set('tolerance', num('tolerance', s('tolerance')));
  set('seed', int('seed', s('seed')));
  set('precision', s('precision') as AnalyzeOptions['precision']);
  set('svd_method', s('svd-method') as AnalyzeOptions['svd_method']);
  set('threads', int('threads', s('threads')));
  return o;
}
