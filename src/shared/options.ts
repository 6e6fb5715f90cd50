/**
 * analyze()/describe() options: the reference's keyword names (snake_case, so Python users can
 * translate calls directly; the camelCase aliases of the table are typed and accepted too), their
 * defaults (R1) and the reference's validation rules (R1) with messages that say what was wrong.
 * Everything here is derived from the rows of OPTION_TABLE (option-table.ts); the rules that involve
 * several options are CROSS_RULES below.
 */
import { WeightWatcherError } from './errors.js';
import { OPTION_ROWS, OPTION_TABLE, type OptionName, type OptionTable, type RowTypes } from './option-table.js';

export {
  FORMAT_ALIASES,
  MODEL_FORMATS,
  OPTION_ROWS,
  OPTION_TABLE,
  type FixFingers,
  type LayerFilter,
  type ModelFormat,
  type OptionName,
  type PeftMode,
  type Progress,
} from './option-table.js';

type InputOf<R> = R extends RowTypes<unknown, infer In> ? In : never;
type OutputOf<R> = R extends RowTypes<infer Out, unknown> ? Out : never;
type AliasOf<R> = R extends { readonly alias: infer A extends string } ? A : never;

/** The options as callers give them: every row's name, and its alias, with the values the row accepts. */
export type AnalyzeOptions = { [K in keyof OptionTable]?: InputOf<OptionTable[K]> } & {
  [K in keyof OptionTable as AliasOf<OptionTable[K]>]?: InputOf<OptionTable[K]>;
};

/** The options after resolveOptions: every row's name with its resolved value. */
export type ResolvedOptions = { -readonly [K in keyof OptionTable]: OutputOf<OptionTable[K]> };

/** Each row's default. */
export const DEFAULTS: Readonly<ResolvedOptions> = Object.freeze(
  Object.fromEntries(OPTION_ROWS.map(([name, r]) => [name, r.default])) as ResolvedOptions,
);

/** Alias → name, from the rows. */
const BY_ALIAS: ReadonlyMap<string, OptionName> = new Map(
  OPTION_ROWS.flatMap(([name, r]) => (r.alias === undefined ? [] : [[r.alias, name] as const])),
);

function usage(msg: string): never {
  throw new WeightWatcherError('E_USAGE', `invalid options: ${msg}`);
}

/**
 * The reference's rules that involve several options (R1), in the order the reference checks
 * them. `given` holds the options as the caller spelled their values (E_TPL is only visible there).
 */
const CROSS_RULES: ReadonlyArray<(o: ResolvedOptions, given: Readonly<Record<string, unknown>>) => void> = [
  (o) => {
    if (o.min_evals && o.max_evals && o.min_evals >= o.max_evals)
      usage(`min_evals (${o.min_evals}) must be smaller than max_evals (${o.max_evals})`);
    if (o.max_evals !== null && o.max_N < o.max_evals) usage(`max_N (${o.max_N}) must be ≥ max_evals (${o.max_evals})`);
    if (o.max_N < o.min_evals) usage(`max_N (${o.max_N}) must be ≥ min_evals (${o.min_evals})`);
  },
  (o) => {
    if (o.fix_fingers && typeof o.xmax === 'number') usage('fix_fingers cannot be combined with an integer xmax');
  },
  (o, given) => {
    if (given.fit !== 'E_TPL') return;
    if (o.fix_fingers === 'clip_xmax') usage("fit='E_TPL' cannot be combined with fix_fingers='clip_xmax'");
    o.fix_fingers = 'xmin_peak';
  },
  (o) => {
    if (o.intra && (o.randomize || o.vectors)) usage('intra cannot be combined with randomize or vectors');
  },
  (o, given) => {
    if (o.pl_package !== 'ww') return;
    if (o.xmax === 'force') usage("xmax='force' requires pl_package='powerlaw'");
    if (o.fit !== 'power_law') usage(`fit='${String(given.fit)}' requires pl_package='powerlaw'`);
    // Q22: the reference accepts this and then fails every layer; refuse it up front instead.
    if (o.fix_fingers === 'xmin_peak') usage("fix_fingers='xmin_peak' requires pl_package='powerlaw'");
  },
  (o) => {
    if (o.inverse && o.vectors) usage('inverse cannot be combined with vectors');
  },
];

/** Fill defaults, normalise aliases, and apply the reference's validity rules. */
export function resolveOptions(input: AnalyzeOptions | Readonly<Record<string, unknown>> = {}): ResolvedOptions {
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    const name = k in OPTION_TABLE ? k : BY_ALIAS.get(k);
    if (name === undefined) usage(`unknown option '${k}'`);
    if (name in given) usage(`give ${name} once, not also as ${k}`);
    given[name] = v;
  }
  const o = { ...DEFAULTS } as Record<string, unknown>;
  for (const [name, r] of OPTION_ROWS) if (name in given) o[name] = r.check(given[name], usage);
  const resolved = o as ResolvedOptions;
  for (const rule of CROSS_RULES) rule(resolved, given);
  return resolved;
}

/** The options that can change a number in the results (the sweep cache key), in table order. */
export const NUMERIC_OPTIONS: readonly OptionName[] = OPTION_ROWS.filter(([, r]) => r.changesNumbers).map(([name]) => name);
