/**
 * The analysis options, one row each: the single source from which the option types, `DEFAULTS`,
 * `resolveOptions` (src/shared/options.ts), the CLI flags, their parsing and help
 * (src/cli/args.ts), docs/options.md (scripts/gen-options-docs.ts) and the sweep cache key
 * (src/sweep/fingerprint.ts) are derived. Adding an option is one row here plus its implementation;
 * test/unit/option-table.test.ts fails when a derived place misses a row.
 *
 * Checks that involve several options (min_evals < max_evals, pl_package rules, …) are the
 * `CROSS_RULES` of options.ts; a row checks its own value only.
 */
import { WeightWatcherError } from './errors.js';

/**
 * A layer filter entry: an id (≥ 0 keeps, < 0 excludes), a type (`dense`, `conv2d`, `conv1d`,
 * `embedding`, `norm`), a name (`-name` excludes), or an id range `'2-5'` (keeps ids 2…5; a layer
 * actually named `2-5` wins).
 */
export type LayerFilter = number | string;

/**
 * Model formats, as `format` (`--format`) names them. In a folder holding several, the first in
 * this order is used (safetensors > bin > onnx > gguf > tfjs > keras > npz > npy).
 */
export const MODEL_FORMATS = ['safetensors', 'pytorch', 'onnx', 'gguf', 'tfjs', 'keras', 'npz', 'npy'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];
/** Other spellings accepted for `format`. */
export const FORMAT_ALIASES: Readonly<Record<string, ModelFormat>> = {
  bin: 'pytorch',
  pt: 'pytorch',
  torch: 'pytorch',
  h5: 'keras',
  'tf.js': 'tfjs',
};

/** fix_fingers: off, restrict xmin candidates to the ESD peak, or clip the largest eigenvalues. */
export type FixFingers = false | 'xmin_peak' | 'clip_xmax';

/** peft: off, the adapters' products only (true = 'peft_only'), or every layer plus W + BA. */
export type PeftMode = false | 'peft_only' | 'with_base';

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly layerId: number;
  readonly name: string;
  readonly elapsedMs: number;
}

/** The CLI help group a flag is listed in. */
export type CliGroup = 'selection' | 'analysis' | 'model-diff' | 'run';

/** A row's command-line flag: how it is shown in `--help` and how its text becomes the API value. */
export interface CliFlag<In> {
  /** The flag without dashes (`min-evals`; `no-pool` for an option that defaults to true). */
  readonly flag: string;
  readonly group: CliGroup;
  /** One line for `--help`. */
  readonly help: string;
  /** Placeholder after the flag (`--min-evals N`); absent for a boolean flag. */
  readonly value?: string;
  /** Default shown in `--help`, when there is one worth stating. */
  readonly helpDefault?: string;
  /** Boolean flag: the option value the flag sets. */
  readonly sets?: In;
  /** Value flag: the flag's text → the option's API value (throws E_USAGE naming the flag). */
  readonly parse?: (text: string) => In;
  /** A value that is optional: the flag alone means `implicit`; a following word only when one of `choices`. */
  readonly implicit?: string;
  readonly choices?: readonly string[];
}

/** One option: `In` is what the API accepts, `Out` what `resolveOptions` hands the engine. */
export interface OptionRow<Out, In> {
  /** The second accepted spelling (camelCase for the reference's snake_case names). */
  readonly alias?: string;
  readonly default: Out;
  /** Validates one given value and returns it resolved; `fail(message)` for a bad one. */
  readonly check: (value: unknown, fail: (message: string) => never) => Out;
  readonly cli?: CliFlag<In>;
  /** The docs/options.md line: the default as read by a person, the meaning, and how it compares with the reference. */
  readonly doc: { readonly default: string; readonly meaning: string; readonly reference: string };
  /** Whether the option can change a number in the results (and so belongs in the sweep cache key). */
  readonly changesNumbers: boolean;
}

/** The value types a row carries for the derived option types (never set at run time). */
export interface RowTypes<Out, In> {
  readonly types?: { readonly out: Out; readonly in: In };
}

/**
 * A row with its value types: `row<Out, In>()({ … })` (In defaults to Out). The row keeps its
 * literal alias, flag and group, so the option types and the CLI groups can be derived from them.
 */
function row<Out, In = Out>() {
  return <const R extends OptionRow<Out, In>>(r: R): R & RowTypes<Out, In> => r;
}

// ---- value checks (library) ----

const json = (v: unknown): string => JSON.stringify(v) ?? String(v);
function isAbortSignal(s: unknown): s is AbortSignal {
  const o = s as Partial<AbortSignal> | null;
  return (
    typeof s === 'object' &&
    o !== null &&
    typeof o.aborted === 'boolean' &&
    typeof o.addEventListener === 'function' &&
    typeof o.removeEventListener === 'function'
  );
}
function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}
/** `'a', 'b' or 'c'` */
function orList(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
  return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

function integer(name: string, min?: number) {
  return (v: unknown, fail: (m: string) => never): number => {
    if (!isInt(v)) return fail(`${name} must be an integer, got ${json(v)}`);
    if (min !== undefined && v < min) fail(`${name} must be ≥ ${min}, got ${v}`);
    return v;
  };
}
function boolean(name: string) {
  return (v: unknown, fail: (m: string) => never): boolean => {
    return typeof v === 'boolean' ? v : fail(`${name} must be true or false, got ${json(v)}`);
  };
}
function oneOf<const T extends readonly unknown[]>(name: string, values: T) {
  return (v: unknown, fail: (m: string) => never): T[number] => {
    if (!values.includes(v)) fail(`${name} must be ${orList(values)}, got ${json(v)}`);
    return v;
  };
}

// ---- flag parsers (CLI) ----

function usage(message: string): never {
  throw new WeightWatcherError('E_USAGE', message);
}
function cliInt(flag: string, min?: number) {
  return (text: string): number => {
    if (!/^-?\d+$/.test(text.trim())) usage(`--${flag} expects an integer, got '${text}'`);
    const n = Number(text);
    if (min !== undefined && n < min) usage(`--${flag} must be ≥ ${min}, got ${text}`);
    return n;
  };
}
function cliNum(flag: string, bounds: { min?: number; above?: number } = {}) {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) usage(`--${flag} expects a number, got '${text}'`);
    if (bounds.min !== undefined && n < bounds.min) usage(`--${flag} must be ≥ ${bounds.min}, got ${text}`);
    if (bounds.above !== undefined && !(n > bounds.above)) usage(`--${flag} must be > ${bounds.above}, got ${text}`);
    return n;
  };
}
/** A word the library check validates (its message names the option). */
const cliWord = <T>(text: string): T => text as T;
/** A word from a fixed map of spellings. */
function cliChoice<T>(flag: string, spellings: Readonly<Record<string, T>>, expected: string) {
  return (text: string): T => (text in spellings ? spellings[text]! : usage(`--${flag} ${expected}, got '${text}'`));
}

/**
 * `--layers 2,5,-fc1,dense,7-9` → [2, 5, '-fc1', 'dense', '7-9'] (integers become ids; '7-9' is an
 * id range unless a layer has that name). An empty list is an error.
 */
export function parseLayers(text: string): LayerFilter[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0 || entries.every((e) => e === '-')) usage(`--layers needs at least one id, name or type, got '${text}'`);
  return entries.map((s) => (/^-?\d+$/.test(s) ? Number(s) : s));
}

const Q = (id: string): string => `[${id}](reference-differences.md#${id.toLowerCase()})`;

/**
 * The option rows, in the order docs/options.md lists them (and `--help` within each group).
 * The JSDoc of each key is what editors show for `analyze({ key })`.
 */
export const OPTION_TABLE = {
  /** Layer filters: ids (all ≥ 0 to keep, negative to exclude), id ranges ('2-5'), types ('dense', 'conv2d', …), names ('-name' excludes). */
  layers: row<LayerFilter[], LayerFilter | readonly LayerFilter[]>()({
    default: [],
    check: (v, fail) => {
      const list = Array.isArray(v) ? [...(v as unknown[])] : [v];
      for (const f of list) {
        if (!isInt(f) && typeof f !== 'string') fail(`layer filters must be integers or strings, got ${json(f)}`);
        if (typeof f === 'string' && (f.trim() === '' || f === '-')) fail(`layer filters must not be empty, got ${json(f)}`);
      }
      const ids = list.filter(isInt);
      if (ids.length && Math.max(...ids) > 0 && Math.min(...ids) < 0)
        fail('layer id filters must be all positive (keep) or all negative (exclude), not mixed');
      return list as LayerFilter[];
    },
    cli: {
      flag: 'layers',
      group: 'selection',
      value: 'LIST',
      help: 'comma-separated ids (2,5,16), id ranges (2-5), types (dense,conv2d,conv1d,embedding,norm) or names (fc1); -ID / -NAME exclude (-3, -fc1); an entry that matches no layer is an error',
      parse: parseLayers,
    },
    doc: {
      default: 'all',
      meaning:
        "ids (all ≥ 0 keep, negative exclude), id ranges (`'2-5'`; a layer named `2-5` wins), types (`dense`, `conv2d`, `conv1d`, `embedding`, `norm`), names (`'-name'` excludes); the three categories overwrite each other",
      reference: `same combination (${Q('Q5')}); **stricter**: an entry that matches no layer is \`E_USAGE\` naming the nearest layers, only a leading \`-\` excludes, names to keep and to exclude cannot be mixed`,
    },
    changesNumbers: true,
  }),
  /** Skip layers with fewer eigenvalues (default 10). */
  min_evals: row<number>()({
    alias: 'minEvals',
    default: 10,
    check: integer('min_evals', 0),
    cli: {
      flag: 'min-evals',
      group: 'selection',
      value: 'N',
      help: 'skip layers with fewer eigenvalues',
      helpDefault: '10',
      parse: cliInt('min-evals', 0),
    },
    doc: {
      default: '10',
      meaning: 'skip layers with fewer eigenvalues (M·rf; M with `pool: false`)',
      reference: `same (${Q('Q43')}); decided from shapes before reading (${Q('Q44')})`,
    },
    changesNumbers: true,
  }),
  /** Skip layers with more eigenvalues (default 15000; null: no limit). */
  max_evals: row<number | null>()({
    alias: 'maxEvals',
    default: 15000,
    check: (v, fail) => {
      if (v === null) return null;
      if (!isInt(v)) return fail(`max_evals must be an integer or null, got ${json(v)}`);
      if (v < -1) fail(`max_evals must be ≥ -1, got ${v}`);
      return v;
    },
    cli: {
      flag: 'max-evals',
      group: 'selection',
      value: 'N|none',
      help: 'skip layers with more eigenvalues',
      helpDefault: '15000',
      parse: (t) => (t === 'none' ? null : cliInt('max-evals', 0)(t)),
    },
    doc: { default: '15000', meaning: 'skip layers with more eigenvalues; `null` (`--max-evals none`) for no limit', reference: 'same' },
    changesNumbers: true,
  }),
  /** Skip layers whose larger dimension exceeds this (default 50000). */
  max_N: row<number>()({
    alias: 'maxN',
    default: 50000,
    check: integer('max_N', 1),
    cli: {
      flag: 'max-n',
      group: 'selection',
      value: 'N',
      help: 'skip layers whose larger dimension exceeds N',
      helpDefault: '50000',
      parse: cliInt('max-n', 1),
    },
    doc: { default: '50000', meaning: 'skip layers whose larger dimension N is bigger', reference: 'same' },
    changesNumbers: true,
  }),
  /** First layer id (default 0). */
  start_ids: row<number>()({
    alias: 'startIds',
    default: 0,
    check: integer('start_ids', 0),
    cli: { flag: 'start-ids', group: 'selection', value: 'N', help: 'first layer id', helpDefault: '0', parse: cliInt('start-ids', 0) },
    doc: { default: '0', meaning: 'first layer id', reference: `same: ONNX ignores it, in-memory tensors start at 1 (${Q('Q4')})` },
    changesNumbers: true,
  }),
  /** false: one row per conv2d kernel position (slice_id). */
  pool: row<boolean>()({
    default: true,
    check: boolean('pool'),
    cli: { flag: 'no-pool', group: 'selection', help: 'one row per conv2d kernel position (slice_id)', sets: false },
    doc: {
      default: 'true',
      meaning: 'false: one row per conv2d kernel position (`slice_id`), each scaled by √(rf/2)',
      reference: `same (${Q('Q40')})`,
    },
    changesNumbers: true,
  }),
  /** Scale pooled conv2d matrices by √(1/2) (default true). */
  conv2d_norm: row<boolean>()({
    alias: 'conv2dNorm',
    default: true,
    check: boolean('conv2d_norm'),
    cli: { flag: 'no-conv2d-norm', group: 'analysis', help: 'do not scale pooled conv2d matrices by √(1/2)', sets: false },
    doc: { default: 'true', meaning: 'scale pooled conv2d matrices by √(1/2), in float32', reference: `same (${Q('R14')})` },
    changesNumbers: true,
  }),
  /** Divide each matrix by its Glorot scale instead of conv2d_norm. */
  glorot_fix: row<boolean>()({
    alias: 'glorotFix',
    default: false,
    check: boolean('glorot_fix'),
    cli: { flag: 'glorot-fix', group: 'analysis', help: 'divide each matrix by its Glorot scale instead', sets: true },
    doc: {
      default: 'false',
      meaning: 'divide each matrix by the Glorot scale √(2/((N+M)·count)) instead of conv2d_norm',
      reference: `**fixed**: the reference ignores it (${Q('Q1')})`,
    },
    changesNumbers: true,
  }),
  /** Conv kernel layout override: 'first' (Keras) or 'last' (PyTorch); default: the format's. */
  channels: row<'first' | 'last' | null, 'first' | 'last' | null>()({
    default: null,
    check: (v, fail) => {
      if (v === null) return null;
      const lower = typeof v === 'string' ? v.toLowerCase() : v;
      return lower === 'first' || lower === 'last' ? lower : fail(`channels must be 'first' or 'last', got ${json(v)}`);
    },
    cli: { flag: 'channels', group: 'selection', value: 'first|last', help: 'conv kernel layout override', parse: cliWord },
    doc: {
      default: "the format's",
      meaning: '`first` (Keras `[kh, kw, in, out]`) or `last` (PyTorch `[out, in, kh, kw]`) conv kernel layout',
      reference: `**fixed**: the reference crashes (${Q('Q6')})`,
    },
    changesNumbers: true,
  }),
  /** 'PL' (default), 'TPL' (truncated power law) or 'E_TPL' (TPL with fix_fingers 'xmin_peak'). */
  fit: row<'power_law' | 'truncated_power_law', 'PL' | 'TPL' | 'E_TPL' | 'power_law' | 'truncated_power_law'>()({
    default: 'power_law',
    check: (v, fail) => {
      const fits = {
        PL: 'power_law',
        power_law: 'power_law',
        TPL: 'truncated_power_law',
        E_TPL: 'truncated_power_law',
        truncated_power_law: 'truncated_power_law',
      } as const;
      if (typeof v !== 'string' || !(v in fits)) fail(`fit must be 'PL', 'TPL' or 'E_TPL', got ${json(v)}`);
      return fits[v as keyof typeof fits];
    },
    cli: {
      flag: 'fit',
      group: 'analysis',
      value: 'PL|TPL|E_TPL',
      help: 'power law, truncated power law (Lambda column), or TPL with xmin_peak',
      helpDefault: 'PL',
      parse: cliWord,
    },
    doc: {
      default: '`PL`',
      meaning:
        "`PL`, `TPL` (truncated power law, `Lambda` column), `E_TPL` (TPL with `fix_fingers: 'xmin_peak'`); TPL needs `pl_package: 'powerlaw'`",
      reference: `same numbers, in C++: 50–220× faster per layer, ×45 end to end (${Q('R21')})`,
    },
    changesNumbers: true,
  }),
  /** Fitter: 'ww' (built-in, default) or 'powerlaw' (the powerlaw package's rules). */
  pl_package: row<'ww' | 'powerlaw'>()({
    alias: 'plPackage',
    default: 'ww',
    check: oneOf('pl_package', ['ww', 'powerlaw']),
    cli: {
      flag: 'pl-package',
      group: 'analysis',
      value: 'ww|powerlaw',
      help: "fitter: built-in, or the powerlaw package's rules; TPL and --xmax force need powerlaw",
      helpDefault: 'ww',
      parse: cliWord,
    },
    doc: {
      default: '`ww`',
      meaning:
        "`ww` (built-in fitter) or `powerlaw` (the powerlaw 1.5 package's rules: unique-value candidates, in-range choice, `xmax` column null)",
      reference: `same (${Q('R19')}, ${Q('R20')}, ${Q('Q42')})`,
    },
    changesNumbers: true,
  }),
  /** 'force' (xmax = largest eigenvalue; powerlaw only) or ±k (drop the k largest eigenvalues). */
  xmax: row<number | 'force' | null>()({
    default: null,
    check: (v, fail) => {
      if (v !== null && v !== 'force' && !(isInt(v) && v !== 0)) fail(`xmax must be null, 'force' or a non-zero integer, got ${json(v)}`);
      return v as number | 'force' | null;
    },
    cli: {
      flag: 'xmax',
      group: 'analysis',
      value: 'force|K',
      help: 'force: xmax = largest eigenvalue (powerlaw only); K: drop the |K| largest eigenvalues first',
      parse: (t) => (t === 'force' ? 'force' : cliInt('xmax')(t)),
    },
    doc: {
      default: 'none',
      meaning: '`force` (powerlaw only: xmax = λmax, KS with the truncated CDF) or ±k (drop the k largest eigenvalues before fitting)',
      reference: `**fixed**: k above half the eigenvalues fails that fit cleanly (${Q('Q18')})`,
    },
    changesNumbers: true,
  }),
  /** 'xmin_peak' (xmin candidates near the ESD peak) or 'clip_xmax' (clip the largest eigenvalues while alpha falls). */
  fix_fingers: row<FixFingers>()({
    alias: 'fixFingers',
    default: false,
    check: oneOf('fix_fingers', [false, 'xmin_peak', 'clip_xmax']),
    cli: {
      flag: 'fix-fingers',
      group: 'analysis',
      value: 'xmin_peak|clip_xmax',
      help: 'xmin candidates near the ESD peak, or clip the largest eigenvalues while alpha falls',
      parse: (t) => (t === 'false' || t === 'none' ? false : cliWord<FixFingers>(t)),
    },
    doc: {
      default: 'off',
      meaning:
        '`clip_xmax`: drop the largest eigenvalues while alpha falls by more than `finger_thresh` (`num_fingers`, `raw_alpha` columns); `xmin_peak`: xmin candidates up to `xmin_max` around the ESD peak (powerlaw only)',
      reference: `same (${Q('R22')}, ${Q('R23')}); **fixed**: \`xmin_peak\` with \`ww\` is refused, it fails every layer in the reference (${Q('Q22')})`,
    },
    changesNumbers: true,
  }),
  /** xmin_peak: upper end of the xmin candidates (default 1.5 × the ESD peak). */
  xmin_max: row<number | null>()({
    alias: 'xminMax',
    default: null,
    check: (v, fail) => {
      if (v !== null && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(`xmin_max must be a number > 0, got ${json(v)}`);
      return v as number | null;
    },
    cli: {
      flag: 'xmin-max',
      group: 'analysis',
      value: 'X',
      help: 'xmin_peak: upper end of the xmin candidates (default 1.5 × the ESD peak)',
      parse: cliNum('xmin-max', { above: 0 }),
    },
    doc: { default: '1.5 × peak', meaning: '`xmin_peak`: upper end of the xmin candidates', reference: `same (${Q('Q23')})` },
    changesNumbers: true,
  }),
  /** clip_xmax: most eigenvalues clipped (default 10). */
  max_fingers: row<number>()({
    alias: 'maxFingers',
    default: 10,
    check: integer('max_fingers', 1),
    cli: {
      flag: 'max-fingers',
      group: 'analysis',
      value: 'N',
      help: 'clip_xmax: most eigenvalues clipped',
      helpDefault: '10',
      parse: cliInt('max-fingers', 1),
    },
    doc: {
      default: '10',
      meaning: '`clip_xmax`: most eigenvalues clipped; used only when ≥ half the eigenvalue count, else 10',
      reference: `same (${Q('Q12')})`,
    },
    changesNumbers: true,
  }),
  /** clip_xmax: alpha drop that counts as a finger (default 1.0). */
  finger_thresh: row<number>()({
    alias: 'fingerThresh',
    default: 1.0,
    check: (v, fail) => {
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fail(`finger_thresh must be a number ≥ 0, got ${json(v)}`);
    },
    cli: {
      flag: 'finger-thresh',
      group: 'analysis',
      value: 'X',
      help: 'clip_xmax: alpha drop that counts as a finger',
      helpDefault: '1.0',
      parse: cliNum('finger-thresh', { min: 0 }),
    },
    doc: { default: '1.0', meaning: '`clip_xmax`: alpha drop that counts as a finger', reference: 'same' },
    changesNumbers: true,
  }),
  /** Compare with the ESD of the shuffled matrices (rand_* columns). */
  randomize: row<boolean>()({
    default: false,
    check: boolean('randomize'),
    cli: { flag: 'randomize', group: 'analysis', help: 'compare with the ESD of the shuffled matrices (rand_* columns)', sets: true },
    doc: {
      default: 'false',
      meaning:
        "shuffle each matrix's entries and compare ESDs: `max_rand_eval`, `rand_distance` (element-wise Jensen–Shannon distance), `ww_softrank`, `ww_maxdist`, and the MP fit of the randomized ESD (`rand_*`)",
      reference: `same formulas (${Q('R32')}, ${Q('Q38')}); seedable (${Q('R33')})`,
    },
    changesNumbers: true,
  }),
  /** Marchenko–Pastur fit columns (num_spikes, sigma_mp, mp_softrank, …). */
  mp_fit: row<boolean>()({
    alias: 'mpFit',
    default: false,
    check: boolean('mp_fit'),
    cli: { flag: 'mp-fit', group: 'analysis', help: 'Marchenko–Pastur fit (num_spikes, sigma_mp, mp_softrank, …)', sets: true },
    doc: {
      default: 'false',
      meaning: 'Marchenko–Pastur fit: `num_spikes`, `sigma_mp`, `mp_softrank`, `W_scale`, `bulk_max`, `bulk_min`',
      reference: `same, including the failed-fit signature \`mp_softrank\` = 0.0025 (${Q('R31')}, ${Q('Q26')})`,
    },
    changesNumbers: true,
  }),
  /** detX constraint columns. */
  detX: row<boolean>()({
    default: false,
    check: boolean('detX'),
    cli: { flag: 'detx', group: 'analysis', help: 'detX constraint columns', sets: true },
    doc: {
      default: 'false',
      meaning: '`detX_num`, `detX_val`, `detX_val_unrescaled`',
      reference: `same; names kept although swapped in meaning (${Q('Q28')})`,
    },
    changesNumbers: true,
  }),
  /** Eigenvector entropy / localization / participation columns. */
  vectors: row<boolean>()({
    default: false,
    check: boolean('vectors'),
    cli: { flag: 'vectors', group: 'analysis', help: 'eigenvector entropy / localization / participation columns', sets: true },
    doc: {
      default: 'false',
      meaning:
        'eigenvector entropy, localization and participation ratios: bulk and tail means and variances (12 columns), via LAPACK `dsyevd`',
      reference: `bulk/tail split by rank, deterministic (${Q('R34')})`,
    },
    changesNumbers: true,
  }),
  /** Analyse 1/λ (not with vectors). */
  inverse: row<boolean>()({
    default: false,
    check: boolean('inverse'),
    cli: { flag: 'inverse', group: 'analysis', help: 'analyse 1/λ', sets: true },
    doc: {
      default: 'false',
      meaning: 'analyse 1/λ; not with `vectors`',
      reference: `**fixed**: inverted once, not after every conv slice (${Q('Q16')})`,
    },
    changesNumbers: true,
  }),
  /** Every layer standardised and stacked into one matrix. */
  stacked: row<boolean>()({
    default: false,
    check: boolean('stacked'),
    cli: { flag: 'stacked', group: 'analysis', help: 'all layers standardised and stacked into one matrix', sets: true },
    doc: {
      default: 'false',
      meaning: 'every layer robust-standardised and stacked into one matrix: one row `Stacked Layer`',
      reference: `**fixed**: full ESD (${Q('Q33')})`,
    },
    changesNumbers: true,
  }),
  /** Products of consecutive layers (experimental; not with randomize or vectors). */
  intra: row<boolean>()({
    default: false,
    check: boolean('intra'),
    cli: { flag: 'intra', group: 'analysis', help: 'products of consecutive layers (experimental)', sets: true },
    doc: {
      default: 'false',
      meaning:
        'products of consecutive layers, rows `"<a> X <b> "` with `Xflag`; the ESD is the singular values; not with `randomize` or `vectors`',
      reference: `same alignment (${Q('Q15')}, ${Q('Q34')}); full ESD (${Q('Q48')})`,
    },
    changesNumbers: true,
  }),
  /** intra: multiply through a random 0/1 matrix (default true). */
  sparsify: row<boolean>()({
    default: true,
    check: boolean('sparsify'),
    cli: { flag: 'no-sparsify', group: 'analysis', help: 'intra: multiply the layers directly, without a random 0/1 matrix', sets: false },
    doc: { default: 'true', meaning: 'intra: multiply through a random 0/1 matrix', reference: 'same; seedable' },
    changesNumbers: true,
  }),
  /** Eigenvalues below this count in weak_rank_loss (default 1e-6). */
  tolerance: row<number>()({
    default: 1e-6,
    check: (v, fail) => (typeof v === 'number' && v >= 0 ? v : fail(`tolerance must be a non-negative number, got ${json(v)}`)),
    cli: {
      flag: 'tolerance',
      group: 'analysis',
      value: 'X',
      help: 'eigenvalues below X count in weak_rank_loss',
      helpDefault: '1e-6',
      parse: cliNum('tolerance', { min: 0 }),
    },
    doc: { default: '1e-6', meaning: 'eigenvalues below it count in `weak_rank_loss`', reference: 'same' },
    changesNumbers: true,
  }),
  /** 'fast' (default: Gram eigenvalues behind an accuracy guard) or 'accurate' (LAPACK gesdd always). */
  svd_method: row<'fast' | 'accurate'>()({
    alias: 'svdMethod',
    default: 'fast',
    check: oneOf('svd_method', ['fast', 'accurate']),
    cli: {
      flag: 'svd-method',
      group: 'analysis',
      value: 'fast|accurate',
      help: 'fast: Gram eigenvalues behind a per-layer accuracy guard; accurate: LAPACK gesdd always (docs/numerics.md)',
      helpDefault: 'fast',
      parse: cliWord,
    },
    doc: {
      default: '`fast`',
      meaning:
        '`fast`: Gram eigenvalues (`dsyrk`+`dsyevd`), σmin by LU/QR inverse iteration where needed, behind a per-layer guard that falls back to `dgesdd` whenever a column could leave the parity tolerances; `accurate`: `dgesdd` always ([numerics.md](numerics.md)). Both reproduce the reference',
      reference: `the reference's \`fast\` is a GPU route that falls back to the CPU SVD without CUDA (${Q('R16')})`,
    },
    // Both routes reproduce the reference, but not to the last bit: a cached fast run must not answer an accurate request.
    changesNumbers: true,
  }),
  /** Seed for randomize / intra sparsify (the reference is unseeded). */
  seed: row<number | null>()({
    default: null,
    check: (v, fail) => {
      if (v !== null && !isInt(v)) fail(`seed must be an integer, got ${json(v)}`);
      return v as number | null;
    },
    cli: {
      flag: 'seed',
      group: 'analysis',
      value: 'N',
      help: 'seed for randomize and intra sparsification (default: unseeded)',
      parse: cliInt('seed'),
    },
    doc: {
      default: 'random',
      meaning: 'seeds `randomize` and intra sparsification; each layer has its own stream, so results do not depend on scheduling',
      reference: `new (${Q('R33')})`,
    },
    changesNumbers: true,
  }),
  /** 'float64' (default, parity) or 'float32' (opt-in speed; its measured error: docs/numerics.md#float32-opt-in). */
  precision: row<'float64' | 'float32'>()({
    default: 'float64',
    check: oneOf('precision', ['float64', 'float32']),
    cli: {
      flag: 'precision',
      group: 'analysis',
      value: 'float64|float32',
      help: 'float32: single-precision spectra, opt-in (error per column: docs/numerics.md)',
      helpDefault: 'float64',
      parse: cliWord,
    },
    doc: {
      default: '`float64`',
      meaning:
        '`float32`: single-precision spectra (`sgesdd`, or `ssyrk`+`ssyevd` with `fast`), error per column in [numerics.md](numerics.md#float32-opt-in)',
      reference: 'new, opt-in',
    },
    changesNumbers: true,
  }),
  /** Thread budget shared by concurrent layers and OpenBLAS (default: all cores). */
  threads: row<number | null>()({
    default: null,
    check: (v, fail) => {
      if (v !== null && !(isInt(v) && v >= 1)) fail(`threads must be a positive integer, got ${json(v)}`);
      return v as number | null;
    },
    cli: {
      flag: 'threads',
      group: 'run',
      value: 'N',
      help: 'thread budget: concurrent layers × OpenBLAS threads, and plot render workers; capped at the cores (docs/performance.md)',
      helpDefault: 'all cores',
      parse: cliInt('threads', 1),
    },
    doc: {
      default: 'all cores',
      meaning:
        'thread budget shared by concurrent layers and OpenBLAS; capped at the core count, with a notice ([performance.md](performance.md#thread-policy))',
      reference: 'new',
    },
    changesNumbers: false,
  }),
  /** ONNX: also analyse weights held in Constant nodes (incl. subgraphs), listed after the initializers. */
  onnx_constants: row<boolean>()({
    alias: 'onnxConstants',
    default: false,
    check: boolean('onnx_constants'),
    cli: { flag: 'onnx-constants', group: 'selection', help: 'ONNX: also analyse weights held in Constant nodes', sets: true },
    doc: {
      default: 'false',
      meaning: 'ONNX: also analyse weights held in `Constant` nodes, listed after the initializers',
      reference: `new (${Q('R7')})`,
    },
    changesNumbers: true,
  }),
  /**
   * LoRA adapters (R40): true / 'peft_only' analyses each lora_B·lora_A product (`lora_BA`
   * rows); 'with_base' also analyses W + BA (`lora_W_plus_AB`) and every other layer.
   */
  peft: row<PeftMode, boolean | 'peft_only' | 'with_base'>()({
    default: false,
    check: (v, fail) => {
      if (v === true) return 'peft_only';
      return v === false || v === 'peft_only' || v === 'with_base'
        ? v
        : fail(`peft must be true, false, 'peft_only' or 'with_base', got ${json(v)}`);
    },
    cli: {
      flag: 'peft',
      group: 'model-diff',
      value: 'with-base',
      implicit: 'only',
      choices: ['with-base', 'only'],
      help: 'LoRA adapters: analyse each lora_B·lora_A (lora_BA rows); with-base: also W + BA and every other layer',
      parse: cliChoice<PeftMode>(
        'peft',
        { only: 'peft_only', 'peft-only': 'peft_only', peft_only: 'peft_only', 'with-base': 'with_base', with_base: 'with_base' },
        "takes no value or 'with-base'",
      ),
    },
    doc: {
      default: 'false',
      meaning:
        "LoRA adapters: `true`/`'peft_only'` analyses each adapter update B·A (`…lora_BA` rows, top r eigenvalues); `'with_base'` also W + B·A (`…lora_W_plus_AB`) and every other layer; a `peft` column on every row",
      reference: `same rows (${Q('R40')}); **fixed**: small ranks are kept (${Q('Q32')}), factors pair by name, W may come from a base model ([model-operations.md](model-operations.md#lora-adapters-peft))`,
    },
    changesNumbers: true,
  }),
  /**
   * With a base model: 'name' (default) pairs each layer with the base layer of the same name and
   * skips layers without one; 'substring' walks the base layers like the reference (Q14).
   */
  base_match: row<'name' | 'substring'>()({
    alias: 'baseMatch',
    default: 'name',
    check: oneOf('base_match', ['name', 'substring']),
    cli: {
      flag: 'base-match',
      group: 'model-diff',
      value: 'name|substring',
      helpDefault: 'name',
      help: "pairing with the base model's layers: same name (unmatched layers skipped), or the reference's substring walk",
      parse: cliChoice('base-match', { name: 'name', substring: 'substring' } as const, "must be 'name' or 'substring'"),
    },
    doc: {
      default: '`name`',
      meaning: "pairing with the base model: `name` (same layer name) or `substring` (the reference's pointer walk)",
      reference: "new; `substring` reproduces the reference's pairing",
    },
    changesNumbers: true,
  }),
  /**
   * State dicts (safetensors, .bin, npz, npy, GGUF): every tensor is a candidate layer, not only
   * `*.weight` keys, so 2-D and 4-D float tensors with any name are analysed. Ids then run over
   * every tensor in file order (as for ONNX); without it they run over `*.weight` keys only.
   */
  all_tensors: row<boolean>()({
    alias: 'allTensors',
    default: false,
    check: boolean('all_tensors'),
    cli: {
      flag: 'all-tensors',
      group: 'selection',
      help: 'every 2-D/4-D float tensor is a layer, not only *.weight keys (ids then run over all tensors in file order)',
      sets: true,
    },
    doc: {
      default: 'false',
      meaning:
        'state dicts (safetensors, PyTorch, GGUF, NumPy): every tensor is a candidate layer, not only `*.weight` keys; 2-D/4-D float tensors are analysed, integer tensors skipped for their dtype; ids run over every tensor in file order (without it, over `*.weight` keys only, as the reference numbers them)',
      reference: 'new',
    },
    changesNumbers: true,
  }),
  /** Read a path as this format (a file) or use this format's files in a folder; default: detected. */
  format: row<ModelFormat | null, ModelFormat | null>()({
    default: null,
    check: (v, fail) => {
      if (v === null) return null;
      const f = typeof v === 'string' ? (FORMAT_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v;
      if (!(MODEL_FORMATS as readonly unknown[]).includes(f)) fail(`format must be one of ${MODEL_FORMATS.join(', ')}, got ${json(v)}`);
      return f as ModelFormat;
    },
    cli: {
      flag: 'format',
      group: 'selection',
      value: 'NAME',
      help: "read as safetensors|pytorch|onnx|gguf|tfjs|keras|npz|npy; in a folder, use that format's files (default: detected; safetensors > bin > onnx > gguf > tfjs > keras > npz > npy)",
      parse: cliWord,
    },
    doc: {
      default: 'detected',
      meaning:
        "`safetensors`, `pytorch` (`bin`), `onnx`, `gguf`, `tfjs`, `keras` (`h5`), `npz`, `npy`: read a file with that reader, or use that format's files in a folder ([formats.md](formats.md#detection))",
      reference: 'new',
    },
    changesNumbers: true,
  }),
  /**
   * Decompress entries that inflate more than 100× (beyond 8 MiB), which are refused by default as
   * likely decompression bombs (.npz, .keras and torch zip members).
   */
  allow_large: row<boolean>()({
    alias: 'allowLarge',
    default: false,
    check: boolean('allow_large'),
    cli: {
      flag: 'allow-large',
      group: 'selection',
      help: 'inflate compressed entries that expand more than 100× (refused by default as decompression bombs)',
      sets: true,
    },
    doc: {
      default: 'false',
      meaning:
        'inflate compressed entries (npz members, torch and `.keras` archive entries, HDF5 datasets) that expand more than 100× beyond 8 MiB, refused by default as decompression bombs ([security.md](security.md#decompression))',
      reference: 'new',
    },
    // It decides whether a layer can be read at all, not its numbers; a refused run fails rather than caching.
    changesNumbers: false,
  }),
  /**
   * What analyze() does when layers fail. Default: rows for the layers that worked, failures in
   * `lastRun.failures`; it throws LayerFailuresError (E_LAYERS_FAILED) only when every planned layer
   * failed. true: throw when any layer failed. false: never throw for layer failures.
   */
  throwOnFailure: row<boolean | undefined>()({
    alias: 'throw_on_failure',
    default: undefined,
    check: (v, fail) => {
      if (v !== undefined && typeof v !== 'boolean') fail(`throwOnFailure must be true or false, got ${json(v)}`);
      return v as boolean | undefined;
    },
    doc: {
      default: 'throw when every layer failed',
      meaning:
        '`true`: `analyze()` throws `LayerFailuresError` (`E_LAYERS_FAILED`) when any layer failed; `false`: never, read `lastRun` ([api.md](api.md#weightwatcher))',
      reference: 'new',
    },
    changesNumbers: false,
  }),
  /** Keep per-layer eigenvalues and fit arrays on the result (for plots / getESD). */
  keep_evals: row<boolean>()({
    alias: 'keepEvals',
    default: false,
    check: boolean('keep_evals'),
    doc: {
      default: 'false',
      meaning:
        "keep each layer's ESD, fit arrays and randomized ESD after the run (`getLayerResults()`); `analyze({ onLayer })` hands them over layer by layer without it",
      reference: 'new',
    },
    changesNumbers: false,
  }),
  /** Called after each layer with progress information. */
  onProgress: row<((p: Progress) => void) | undefined>()({
    default: undefined,
    check: (v, fail) => {
      if (v !== undefined && typeof v !== 'function') fail(`onProgress must be a function, got ${json(v)}`);
      return v as ((p: Progress) => void) | undefined;
    },
    doc: { default: '—', meaning: 'called after each layer with `{done, total, layerId, name, elapsedMs}`', reference: 'new' },
    changesNumbers: false,
  }),
  /** Cancels the call: no layer starts after the abort; the call rejects with AbortedError (name 'AbortError', code E_ABORTED). */
  signal: row<AbortSignal | undefined>()({
    default: undefined,
    check: (v, fail) =>
      v === undefined || isAbortSignal(v) ? v : fail('signal must be an AbortSignal (from an AbortController or AbortSignal.timeout())'),
    doc: {
      default: '—',
      meaning:
        'an `AbortSignal`: after `abort()` no new layer starts and the call rejects with `AbortedError` (`name` `AbortError`, `code` `E_ABORTED`) once the layers in flight end; nothing half-written ([api.md](api.md#cancellation))',
      reference: 'new',
    },
    changesNumbers: false,
  }),
  /** Cancels the call after this many milliseconds (the same error as `signal`, with `timedOut: true`). */
  timeoutMs: row<number | undefined>()({
    default: undefined,
    check: (v, fail) =>
      v === undefined || (typeof v === 'number' && v > 0 && Number.isFinite(v))
        ? v
        : fail(`timeoutMs must be a positive number of milliseconds, got ${json(v)}`),
    doc: {
      default: 'none',
      meaning:
        'cancels the call after this many milliseconds, counted from the call (opening the model included); the error is that of `signal`, with `timedOut: true`',
      reference: 'new',
    },
    changesNumbers: false,
  }),
} as const;

export type OptionTable = typeof OPTION_TABLE;
export type OptionName = keyof OptionTable;
/** Any row, for code that walks the table. */
export type AnyOptionRow = OptionRow<unknown, unknown>;

/** The rows as a list, in table order. */
export const OPTION_ROWS: ReadonlyArray<readonly [OptionName, AnyOptionRow]> = Object.entries(OPTION_TABLE) as unknown as ReadonlyArray<
  readonly [OptionName, AnyOptionRow]
>;
