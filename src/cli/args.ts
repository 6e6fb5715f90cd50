/**
 * Command-line option specs (parser settings plus their help text), the parser, and the
 * translation of analyze/describe options to API options. Built on node:util parseArgs; negative
 * numbers are accepted as values (`--xmax -1`).
 */
import { parseArgs } from 'node:util';
import { WeightWatcherError } from '../shared/errors.js';
import { OPTION_ROWS, OPTION_TABLE, type AnalyzeOptions } from '../shared/options.js';
import type { CliFlag, CliGroup } from '../shared/option-table.js';

export { parseLayers } from '../shared/option-table.js';

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

type Table = typeof OPTION_TABLE;
type FlagOf<R> = R extends { readonly cli: { readonly flag: infer F extends string } } ? F : never;
type GroupOf<R> = R extends { readonly cli: { readonly group: infer G } } ? G : never;
/** The flags of one help group, keyed by flag, as the table's rows give them. */
type FlagGroup<G extends CliGroup> = { readonly [K in keyof Table as GroupOf<Table[K]> extends G ? FlagOf<Table[K]> : never]: OptionSpec };

/** A table row's flag as the parser and `--help` read it. */
function flagSpec(cli: CliFlag<unknown>): OptionSpec {
  return {
    type: cli.value === undefined ? 'boolean' : 'string',
    description: cli.help,
    ...(cli.value !== undefined && { value: cli.value }),
    ...(cli.helpDefault !== undefined && { default: cli.helpDefault }),
    ...(cli.implicit !== undefined && { implicit: cli.implicit }),
    ...(cli.choices !== undefined && { choices: cli.choices }),
  };
}

/** The flags of the table's rows in one group, in table order. */
function flagGroup<G extends CliGroup>(group: G): FlagGroup<G> {
  return Object.fromEntries(
    OPTION_ROWS.flatMap(([, r]) => (r.cli?.group === group ? [[r.cli.flag, flagSpec(r.cli)] as const] : [])),
  ) as FlagGroup<G>;
}

/** Options that change which layers are selected (analyze, describe): the table's `selection` rows. */
export const SELECTION_OPTIONS = flagGroup('selection');

/** Options of analyze only, the fit and the optional column groups: the table's `analysis` rows. */
export const ANALYSIS_OPTIONS = flagGroup('analysis');

/** Fine-tune deltas and LoRA adapters (analyze, describe, compare): --base-model plus the table's `model-diff` rows. */
export const MODEL_DIFF_OPTIONS = {
  'base-model': { type: 'string', value: 'PATH', description: 'analyse W − W_base per layer against this base model (fine-tune deltas)' },
  ...flagGroup('model-diff'),
} as const satisfies OptionSpecs;

/** The table's run-control flags (--threads), listed with each command's output options. */
export const RUN_OPTIONS = flagGroup('run');

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
  quiet: { type: 'boolean', short: 'q', description: 'no table on stdout, no progress' },
  progress: { type: 'boolean', description: 'progress on stderr even with --quiet' },
  'progress-every': {
    type: 'string',
    value: 'SECONDS',
    default: '10',
    description: 'when stderr is not a terminal (a log), a progress line every SECONDS; on a terminal the line is live',
  },
  'no-progress': { type: 'boolean', description: 'no progress on stderr' },
  'no-color': { type: 'boolean', description: 'no colours in the table (also NO_COLOR)' },
  ...RUN_OPTIONS,
} as const satisfies OptionSpecs;

/** The queue coordinator's options (sweep --queue, analyze --queue): scale-out over machines. */
export const QUEUE_OPTIONS = {
  queue: {
    type: 'string',
    value: 'redis://HOST:PORT',
    description:
      "enqueue jobs on Redis (BullMQ) for 'weightwatcher worker' processes on any machines; models must be on a filesystem they share, at the same absolute path (models given by name: each worker resolves the same commit through its own Hugging Face cache)",
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

/** A number flag's value (undefined when absent), within `bounds`; E_USAGE naming the flag otherwise. */
export function num(name: string, v: string | undefined, bounds: Bounds = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`--${name} expects a number, got '${v}'`);
  return checkBounds(name, n, v, bounds);
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

/** The analysis options the table's flags in `values` give (flags absent from `values` are left out). */
export function toAnalyzeOptions(values: Values): AnalyzeOptions {
  const o: Record<string, unknown> = {};
  for (const [name, r] of OPTION_ROWS) {
    const given = r.cli && values[r.cli.flag];
    if (given === undefined || given === false) continue;
    o[name] = typeof given === 'string' ? r.cli.parse!(given) : r.cli.sets;
  }
  return o;
}
