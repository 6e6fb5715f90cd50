/**
 * analyze()/describe() options: the reference's keyword names (snake_case, so Python users can
 * translate calls directly; camelCase aliases are accepted), defaults (R1) and the
 * reference's validation rules (R1) with messages that say what was wrong.
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

export interface AnalyzeOptions {
  /** Layer filters: ids (all ≥ 0 to keep, negative to exclude), types ('dense', 'conv2d', …), names ('-name' excludes). */
  layers?: LayerFilter | readonly LayerFilter[];
  min_evals?: number;
  max_evals?: number | null;
  max_N?: number;
  start_ids?: number;
  pool?: boolean;
  conv2d_norm?: boolean;
  glorot_fix?: boolean;
  channels?: 'first' | 'last' | null;
  tolerance?: number;
  fit?: 'PL' | 'TPL' | 'E_TPL' | 'power_law' | 'truncated_power_law';
  pl_package?: 'ww' | 'powerlaw';
  xmax?: number | 'force' | null;
  fix_fingers?: FixFingers;
  xmin_max?: number | null;
  max_fingers?: number;
  finger_thresh?: number;
  randomize?: boolean;
  mp_fit?: boolean;
  detX?: boolean;
  vectors?: boolean;
  inverse?: boolean;
  intra?: boolean;
  sparsify?: boolean;
  stacked?: boolean;
  svd_method?: 'fast' | 'accurate';
  /**
   * LoRA adapters (R40): true / 'peft_only' analyses each lora_B·lora_A product (`lora_BA`
   * rows); 'with_base' also analyses W + BA (`lora_W_plus_AB`) and every other layer.
   */
  peft?: boolean | 'peft_only' | 'with_base';
  /**
   * With a base model: 'name' (default) pairs each layer with the base layer of the same name and
   * skips layers without one; 'substring' walks the base layers like the reference (Q14).
   */
  base_match?: 'name' | 'substring';
  /** Seed for randomize / intra sparsify (the reference is unseeded). */
  seed?: number;
  /** 'float64' (default, parity) or 'float32' (opt-in speed; its measured error: docs/numerics.md#float32-opt-in). */
  precision?: 'float64' | 'float32';
  /** Keep per-layer eigenvalues and fit arrays on the result (for plots / getESD). */
  keep_evals?: boolean;
  /** ONNX: also analyse weights held in Constant nodes (incl. subgraphs), listed after the initializers. */
  onnx_constants?: boolean;
  /** Thread budget shared by concurrent layers and OpenBLAS (default: all cores). */
  threads?: number | null;
  /**
   * State dicts (safetensors, .bin, npz, npy, GGUF): every tensor is a candidate layer, not only
   * `*.weight` keys, so 2-D and 4-D float tensors with any name are analysed. Ids then run over
   * every tensor in file order (as for ONNX); without it they run over `*.weight` keys only.
   */
  all_tensors?: boolean;
  /**
   * Decompress entries that inflate more than 100× (beyond 8 MiB), which are refused by default as
   * likely decompression bombs (.npz, .keras and torch zip members).
   */
  allow_large?: boolean;
  /** Read a path as this format (a file) or use this format's files in a folder; default: detected. */
  format?: ModelFormat | null;
  /**
   * What analyze() does when layers fail. Default: rows for the layers that worked, failures in
   * `lastRun.failures`; it throws LayerFailuresError (E_LAYERS_FAILED) only when every planned layer
   * failed. true: throw when any layer failed. false: never throw for layer failures.
   */
  throwOnFailure?: boolean;
  /** Called after each layer with progress information. */
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly layerId: number;
  readonly name: string;
  readonly elapsedMs: number;
}

export interface ResolvedOptions {
  layers: LayerFilter[];
  min_evals: number;
  max_evals: number | null;
  max_N: number;
  start_ids: number;
  pool: boolean;
  conv2d_norm: boolean;
  glorot_fix: boolean;
  channels: 'first' | 'last' | null;
  tolerance: number;
  fit: 'power_law' | 'truncated_power_law';
  pl_package: 'ww' | 'powerlaw';
  xmax: number | 'force' | null;
  fix_fingers: FixFingers;
  xmin_max: number | null;
  max_fingers: number;
  finger_thresh: number;
  randomize: boolean;
  mp_fit: boolean;
  detX: boolean;
  vectors: boolean;
  inverse: boolean;
  intra: boolean;
  sparsify: boolean;
  stacked: boolean;
  svd_method: 'fast' | 'accurate';
  peft: PeftMode;
  base_match: 'name' | 'substring';
  seed: number | null;
  precision: 'float64' | 'float32';
  keep_evals: boolean;
  threads: number | null;
  onnx_constants: boolean;
  all_tensors: boolean;
  allow_large: boolean;
  format: ModelFormat | null;
  throwOnFailure: boolean | undefined;
  onProgress: ((p: Progress) => void) | undefined;
}

export const DEFAULTS: Omit<ResolvedOptions, 'onProgress' | 'throwOnFailure'> = {
  layers: [],
  min_evals: 10,
  max_evals: 15000,
  max_N: 50000,
  start_ids: 0,
  pool: true,
  conv2d_norm: true,
  glorot_fix: false,
  channels: null,
  tolerance: 1e-6,
  fit: 'power_law',
  pl_package: 'ww',
  xmax: null,
  fix_fingers: false,
  xmin_max: null,
  max_fingers: 10,
  finger_thresh: 1.0,
  randomize: false,
  mp_fit: false,
  detX: false,
  vectors: false,
  inverse: false,
  intra: false,
  sparsify: true,
  stacked: false,
  svd_method: 'fast',
  peft: false,
  base_match: 'name',
  seed: null,
  precision: 'float64',
  keep_evals: false,
  threads: null,
  onnx_constants: false,
  all_tensors: false,
  allow_large: false,
  format: null,
};

const CAMEL_ALIASES: Record<string, keyof ResolvedOptions> = {
  minEvals: 'min_evals',
  maxEvals: 'max_evals',
  maxN: 'max_N',
  startIds: 'start_ids',
  conv2dNorm: 'conv2d_norm',
  glorotFix: 'glorot_fix',
  plPackage: 'pl_package',
  fixFingers: 'fix_fingers',
  xminMax: 'xmin_max',
  maxFingers: 'max_fingers',
  fingerThresh: 'finger_thresh',
  mpFit: 'mp_fit',
  baseMatch: 'base_match',
  svdMethod: 'svd_method',
  keepEvals: 'keep_evals',
  onnxConstants: 'onnx_constants',
  allTensors: 'all_tensors',
  allowLarge: 'allow_large',
  throw_on_failure: 'throwOnFailure',
};

const KNOWN = new Set<string>([...Object.keys(DEFAULTS), 'onProgress', 'throwOnFailure']);

function usage(msg: string): WeightWatcherError {
  return new WeightWatcherError('E_USAGE', `invalid options: ${msg}`);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Fill defaults, normalise aliases, and apply the reference's validity rules. */
export function resolveOptions(input: AnalyzeOptions | Record<string, unknown> = {}): ResolvedOptions {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    const key = CAMEL_ALIASES[k] ?? k;
    if (!KNOWN.has(key)) throw usage(`unknown option '${k}'`);
    raw[key] = v;
  }
  const o = { ...DEFAULTS, onProgress: undefined, throwOnFailure: undefined, ...raw } as ResolvedOptions;
  const layers = raw.layers;
  o.layers = layers === undefined ? [] : Array.isArray(layers) ? [...(layers as LayerFilter[])] : [layers as LayerFilter];
  for (const f of o.layers) {
    if (!isInt(f) && typeof f !== 'string') throw usage(`layer filters must be integers or strings, got ${JSON.stringify(f)}`);
    if (typeof f === 'string' && (f.trim() === '' || f === '-')) throw usage(`layer filters must not be empty, got ${JSON.stringify(f)}`);
  }

  for (const k of ['min_evals', 'max_N', 'start_ids', 'max_fingers'] as const) {
    if (!isInt(o[k])) throw usage(`${k} must be an integer, got ${JSON.stringify(o[k])}`);
  }
  // Stricter than the reference, which accepts negative counts and thresholds and then selects or clips nothing.
  if (o.min_evals < 0) throw usage(`min_evals must be ≥ 0, got ${o.min_evals}`);
  if (o.max_N < 1) throw usage(`max_N must be ≥ 1, got ${o.max_N}`);
  if (o.max_fingers < 1) throw usage(`max_fingers must be ≥ 1, got ${o.max_fingers}`);
  if (o.xmin_max !== null && !(typeof o.xmin_max === 'number' && Number.isFinite(o.xmin_max) && o.xmin_max > 0))
    throw usage(`xmin_max must be a number > 0, got ${JSON.stringify(o.xmin_max)}`);
  if (!(typeof o.finger_thresh === 'number' && Number.isFinite(o.finger_thresh) && o.finger_thresh >= 0))
    throw usage(`finger_thresh must be a number ≥ 0, got ${JSON.stringify(o.finger_thresh)}`);
  if (o.max_evals !== null && !isInt(o.max_evals)) throw usage(`max_evals must be an integer or null, got ${JSON.stringify(o.max_evals)}`);
  if (o.min_evals && o.max_evals && o.min_evals >= o.max_evals)
    throw usage(`min_evals (${o.min_evals}) must be smaller than max_evals (${o.max_evals})`);
  if (o.max_evals !== null && o.max_evals < -1) throw usage(`max_evals must be ≥ -1, got ${o.max_evals}`);
  if (o.max_evals !== null && o.max_N < o.max_evals) throw usage(`max_N (${o.max_N}) must be ≥ max_evals (${o.max_evals})`);
  if (o.max_N < o.min_evals) throw usage(`max_N (${o.max_N}) must be ≥ min_evals (${o.min_evals})`);
  if (o.svd_method !== 'fast' && o.svd_method !== 'accurate')
    throw usage(`svd_method must be 'fast' or 'accurate', got ${JSON.stringify(o.svd_method)}`);
  if (o.channels !== null && (typeof o.channels !== 'string' || !['first', 'last'].includes(o.channels.toLowerCase()))) {
    throw usage(`channels must be 'first' or 'last', got ${JSON.stringify(o.channels)}`);
  }
  if (o.channels) o.channels = o.channels.toLowerCase() as 'first' | 'last';
  const ids = o.layers.filter(isInt);
  if (ids.length && Math.max(...ids) > 0 && Math.min(...ids) < 0)
    throw usage('layer id filters must be all positive (keep) or all negative (exclude), not mixed');
  if (o.fix_fingers) {
    if (o.fix_fingers !== 'xmin_peak' && o.fix_fingers !== 'clip_xmax')
      throw usage(`fix_fingers must be false, 'xmin_peak' or 'clip_xmax', got ${JSON.stringify(o.fix_fingers)}`);
    if (isInt(o.xmax)) throw usage('fix_fingers cannot be combined with an integer xmax');
  }
  const fit = (input as Record<string, unknown>).fit ?? 'PL';
  const fitMap: Record<string, ResolvedOptions['fit']> = {
    PL: 'power_law',
    power_law: 'power_law',
    TPL: 'truncated_power_law',
    E_TPL: 'truncated_power_law',
    truncated_power_law: 'truncated_power_law',
  };
  if (typeof fit !== 'string' || !(fit in fitMap)) throw usage(`fit must be 'PL', 'TPL' or 'E_TPL', got ${JSON.stringify(fit)}`);
  o.fit = fitMap[fit]!;
  if (fit === 'E_TPL') {
    if (o.fix_fingers === 'clip_xmax') throw usage("fit='E_TPL' cannot be combined with fix_fingers='clip_xmax'");
    o.fix_fingers = 'xmin_peak';
  }
  if (o.intra && (o.randomize || o.vectors)) throw usage('intra cannot be combined with randomize or vectors');
  if (o.start_ids < 0) throw usage(`start_ids must be ≥ 0, got ${o.start_ids}`);
  if (o.pl_package !== 'ww' && o.pl_package !== 'powerlaw')
    throw usage(`pl_package must be 'ww' or 'powerlaw', got ${JSON.stringify(o.pl_package)}`);
  if (o.xmax !== null && o.xmax !== 'force' && !(isInt(o.xmax) && o.xmax !== 0))
    throw usage(`xmax must be null, 'force' or a non-zero integer, got ${JSON.stringify(o.xmax)}`);
  if (o.pl_package === 'ww') {
    if (o.xmax === 'force') throw usage("xmax='force' requires pl_package='powerlaw'");
    if (o.fit !== 'power_law') throw usage(`fit='${String(fit)}' requires pl_package='powerlaw'`);
    // Q22: the reference accepts this and then fails every layer; refuse it up front instead.
    if (o.fix_fingers === 'xmin_peak') throw usage("fix_fingers='xmin_peak' requires pl_package='powerlaw'");
  }
  if (o.inverse && o.vectors) throw usage('inverse cannot be combined with vectors');
  const peft = o.peft as unknown;
  if (peft === true) o.peft = 'peft_only';
  else if (peft !== false && peft !== 'peft_only' && peft !== 'with_base')
    throw usage(`peft must be true, false, 'peft_only' or 'with_base', got ${JSON.stringify(peft)}`);
  if (o.base_match !== 'name' && o.base_match !== 'substring')
    throw usage(`base_match must be 'name' or 'substring', got ${JSON.stringify(o.base_match)}`);
  if (o.threads !== null && !(isInt(o.threads) && o.threads >= 1))
    throw usage(`threads must be a positive integer, got ${JSON.stringify(o.threads)}`);
  if (o.seed !== null && !isInt(o.seed)) throw usage(`seed must be an integer, got ${JSON.stringify(o.seed)}`);
  if (o.precision !== 'float64' && o.precision !== 'float32')
    throw usage(`precision must be 'float64' or 'float32', got ${JSON.stringify(o.precision)}`);
  for (const k of ['all_tensors', 'allow_large', 'onnx_constants', 'keep_evals'] as const) {
    if (typeof o[k] !== 'boolean') throw usage(`${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
  if (o.throwOnFailure !== undefined && typeof o.throwOnFailure !== 'boolean')
    throw usage(`throwOnFailure must be true or false, got ${JSON.stringify(o.throwOnFailure)}`);
  if (o.format !== null) {
    const f = typeof o.format === 'string' ? (FORMAT_ALIASES[o.format.toLowerCase()] ?? o.format.toLowerCase()) : o.format;
    if (!(MODEL_FORMATS as readonly unknown[]).includes(f))
      throw usage(`format must be one of ${MODEL_FORMATS.join(', ')}, got ${JSON.stringify(o.format)}`);
    o.format = f as ModelFormat;
  }
  if (typeof o.tolerance !== 'number' || !(o.tolerance >= 0))
    throw usage(`tolerance must be a non-negative number, got ${JSON.stringify(o.tolerance)}`);
  return o;
}
