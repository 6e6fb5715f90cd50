/**
 * `recipe NAME MODEL` (docs/recipes.md): the per-layer metrics and settings of the research codes
 * built on WeightWatcher — AlphaPruning, TempBalance, FARMS and Adaptive-Rank-LoRA — computed on
 * the project's spectrum routes, layers streamed one at a time. Each recipe returns the paper
 * code's per-layer columns under the same names, a summary, and the method's per-layer array.
 */
import type { TensorStore } from '../formats/types.js';
import { WeightWatcherError } from '../shared/errors.js';
import { torchSum32 } from './torch-sum.js';
import { layerThreads } from '../engine/thread-policy.js';
import { medianFit, scanFit, type Arith, type HillFit } from './hill.js';
import {
  listModules,
  scopedModules,
  blockModules,
  type ModuleList,
  type ModuleOrder,
  type RecipeModule,
  type RecipeScope,
} from './modules.js';
import { layerSpectrum, type LayerSpectrum } from './spectrum.js';
import { fixedWindows, slidingWindows, windowEigs, type Window } from './farms.js';
import { alphaPruningSparsity, ASSIGN_FUNCS, loraRanks, mpSpikes, tempBalanceLr, type AssignFunc } from './mappings.js';

export const RECIPE_NAMES = [
  'alphapruning-alpha-peak',
  'alphapruning-sparsity',
  'tempbalance-alpha',
  'tempbalance-lr',
  'farms-alpha',
  'farms-alpha-imagecls',
  'lora-rank',
] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

/** Options of ww.recipe(); each has the CLI flag of the same name with '-' for '_'. */
export interface RecipeOptions {
  /** 'float64' (default) or 'float32' (the papers' torch arithmetic: their discrete choices exactly). */
  precision?: 'float64' | 'float32';
  /** Module order: 'natural' (default; h.2 < h.10), 'sorted' (string order), 'header' (file order). */
  order?: ModuleOrder;
  /** alphapruning-alpha-peak, farms-alpha: 'auto' (default: the decoder blocks when there are any), 'blocks', 'model'. */
  scope?: RecipeScope;
  /** alphapruning-sparsity: target mean sparsity (default 0.7). */
  sparsity?: number;
  /** alphapruning-sparsity: ratios span [1 − ε, 1 + ε] before scaling (default 0.3). */
  epsilon?: number;
  /** tempbalance-lr: the untuned learning rate (default 0.1). */
  lr?: number;
  /** tempbalance-lr: 'tb_linear_map' (default), 'tb_sqrt', 'tb_log2', 'tb_step'. */
  assign_func?: AssignFunc;
  /** farms-alpha: 'xmin_mid' (default) or 'xmin_peak' (the paper's LLM runs). */
  fix_fingers?: 'xmin_peak' | 'xmin_mid';
  /** tempbalance-*, farms-*: xmin = the eigenvalue at index int(N / xmin_pos) (default 2). */
  xmin_pos?: number;
  /** farms-*: window rows (default 100). */
  num_row_samples?: number;
  /** farms-*: window aspect ratio, columns = int(rows · q_ratio) (default 2). */
  q_ratio?: number;
  /** farms-*: windows per dimension (farms-alpha default 10; farms-alpha-imagecls default null = slide by step_size). */
  sampling_ops_per_dim?: number | null;
  /** farms-*: sliding step when sampling_ops_per_dim is null (default 10). */
  step_size?: number;
  /** Called after each layer (progress). */
  onLayer?: (done: number, total: number, name: string) => void;
}

/**
 * How layers get threads (the library wires the process scheduler, engine/scheduler.ts): `run`
 * executes one layer's decompositions with that many OpenBLAS threads; `budget` threads in all.
 */
export interface RecipeExecution {
  readonly budget: number;
  readonly run: <T>(threads: number, fn: () => Promise<T>) => Promise<T>;
}

export type RecipeCell = number | string | boolean | null | readonly number[] | Readonly<Record<string, string>>;

export interface RecipeLayer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: 'linear' | 'conv2d';
  readonly block?: number;
  readonly [column: string]: RecipeCell | undefined;
}

export interface RecipeResult {
  readonly method: RecipeName;
  readonly options: Readonly<Record<string, unknown>>;
  readonly layers: readonly RecipeLayer[];
  readonly summary: Readonly<Record<string, unknown>>;
  /** The method's per-layer array for --npy, in module order (alpha_peak.npy layout for AlphaPruning). */
  readonly array: Float64Array;
  /** Names of the entries of `array`. */
  readonly arrayNames: readonly string[];
  /** lora-rank: the PEFT LoraConfig fields (rank_pattern, alpha_pattern, target_modules). */
  readonly peft?: Readonly<Record<string, unknown>>;
}

type Row = Record<string, RecipeCell>;

function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, what: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
    throw new WeightWatcherError('E_USAGE', `recipe option ${name} must be ${what}, got ${JSON.stringify(v) ?? typeof v}`);
}

function checkOptions(name: string, o: RecipeOptions): void {
  if (!(RECIPE_NAMES as readonly string[]).includes(name))
    throw new WeightWatcherError('E_USAGE', `unknown recipe '${name}' (one of ${RECIPE_NAMES.join(', ')})`);
  const oneOf = (k: keyof RecipeOptions, allowed: readonly string[]) => {
    const v = o[k];
    if (v !== undefined && !allowed.includes(v as string))
      throw new WeightWatcherError('E_USAGE', `recipe option ${k} must be one of ${allowed.join(', ')}, got ${String(v)}`);
  };
  oneOf('precision', ['float64', 'float32']);
  oneOf('order', ['natural', 'sorted', 'header']);
  oneOf('scope', ['auto', 'blocks', 'model']);
  oneOf('fix_fingers', ['xmin_peak', 'xmin_mid']);
  oneOf('assign_func', ASSIGN_FUNCS);
  checkNumber('sparsity', o.sparsity, (x) => x >= 0 && x < 1, 'in [0, 1)');
  checkNumber('epsilon', o.epsilon, (x) => x >= 0 && x < 1, 'in [0, 1)');
  checkNumber('lr', o.lr, (x) => x > 0, 'positive');
  checkNumber('xmin_pos', o.xmin_pos, (x) => x >= 1, '≥ 1');
  checkNumber('num_row_samples', o.num_row_samples, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
  checkNumber('q_ratio', o.q_ratio, (x) => x > 0, 'positive');
  checkNumber('step_size', o.step_size, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
  if (o.sampling_ops_per_dim !== null)
    checkNumber('sampling_ops_per_dim', o.sampling_ops_per_dim, (x) => Number.isInteger(x) && x >= 2, 'an integer ≥ 2 (or null)');
}

function eigSummary(evals: Float64Array): Row {
  if (evals.length === 0) return { num_eigs: 0 };
  let sum = 0;
  for (let i = 0; i < evals.length; i++) sum += evals[i]!;
  return { num_eigs: evals.length, eig_min: evals[0]!, eig_max: evals[evals.length - 1]!, eig_sum: sum };
}

/** Σλ as the papers' torch.sum (float32 result with --precision float32). */
function eigSum(evals: Float64Array, arith: Arith): number {
  if (arith === 'float32') return torchSum32(evals);
  let s = 0;
  for (let i = 0; i < evals.length; i++) s += evals[i]!;
  return s;
}

function baseRow(m: RecipeModule): Row {
  const row: Row = { name: m.name, shape: m.shape, kind: m.kind };
  if (m.block !== undefined) row.block = m.block;
  return row;
}

/** The fast route is kept only if its error bound is ≤ 1e-8 of the chosen xmin (alpha, D to ~1e-8). */
function xminCheck(fit: (evals: Float64Array) => HillFit): (s: LayerSpectrum) => string | undefined {
  return (s) => {
    const f = fit(s.evals);
    return Number.isFinite(f.xmin) && !(s.errorBound <= 1e-8 * f.xmin)
      ? "the chosen xmin is within 1e8 error bounds of the Gram route's accuracy"
      : undefined;
  };
}

function fitColumns(f: HillFit, spectralNorm: number, alphaName = 'alpha', hatName = 'alphahat'): Row {
  const row: Row = { [alphaName]: f.alpha, D: f.D };
  row.spectral_norm = spectralNorm;
  row[hatName] = f.alpha * Math.log10(spectralNorm);
  if (f.warning) row.warning = f.warning;
  return row;
}

interface Ctx {
  readonly store: TensorStore;
  readonly list: ModuleList;
  readonly arith: Arith;
  readonly o: RecipeOptions;
  readonly routes: Map<string, number>;
  readonly fallbacks: { name: string; reason: string }[];
  readonly exec: RecipeExecution;
}

function noteRoute(ctx: Ctx, name: string, s: LayerSpectrum): void {
  ctx.routes.set(s.route, (ctx.routes.get(s.route) ?? 0) + 1);
  if (s.fallback) ctx.fallbacks.push({ name, reason: s.fallback });
}

async function fullMatrixFit(ctx: Ctx, m: RecipeModule, fit: (evals: Float64Array) => HillFit): Promise<{ s: LayerSpectrum; f: HillFit }> {
  const s = await layerSpectrum(ctx.store, m, ctx.arith, 0.5, xminCheck(fit));
  noteRoute(ctx, m.name, s);
  return { s, f: fit(s.evals) };
}

/**
 * Runs `fn` on every module, as analyze runs layers: `concurrency` layers in flight, each with the
 * plan's OpenBLAS thread count (FARMS: one thread, its windows are small), rows in module order.
 */
async function forEachLayer(
  ctx: Ctx,
  modules: readonly RecipeModule[],
  fn: (m: RecipeModule) => Promise<Row>,
  opts: { singleThread?: boolean } = {},
): Promise<Row[]> {
  const plan = layerThreads(modules.length, ctx.exec.budget);
  const threads = opts.singleThread ? 1 : plan.blasThreads;
  const concurrency = opts.singleThread
    ? Math.max(1, Math.min(modules.length, ctx.exec.budget, plan.concurrency * plan.blasThreads))
    : plan.concurrency;
  const rows = new Array<Row>(modules.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < modules.length) {
      const i = next++;
      const m = modules[i]!;
      rows[i] = { ...baseRow(m), ...(await ctx.exec.run(threads, () => fn(m))) };
      ctx.o.onLayer?.(++done, modules.length, m.name);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return rows;
}

const peakFit = (arith: Arith) => (ev: Float64Array) => scanFit(ev, { peakBins: 100 }, arith);

async function alphaPeakRows(ctx: Ctx, modules: readonly RecipeModule[]): Promise<Row[]> {
  return forEachLayer(ctx, modules, async (m) => {
    const { s, f } = await fullMatrixFit(ctx, m, peakFit(ctx.arith));
    const lmax = s.evals[s.evals.length - 1]!;
    return { ...fitColumns(f, lmax), norm: eigSum(s.evals, ctx.arith), ...eigSummary(s.evals) };
  });
}

async function tempBalanceRows(ctx: Ctx, modules: readonly RecipeModule[], xminPos: number): Promise<Row[]> {
  return forEachLayer(ctx, modules, async (m) => {
    const { s, f } = await fullMatrixFit(ctx, m, (ev) => medianFit(ev, xminPos, ctx.arith));
    const lmax = s.evals[s.evals.length - 1]!;
    return { ...fitColumns(f, lmax), norm: eigSum(s.evals, ctx.arith), eigs_num: s.evals.length, ...eigSummary(s.evals) };
  });
}

/** FARMS' per-ESD columns (analysis_esd). */
function farmsColumns(evals: Float64Array, f: HillFit, arith: Arith): Row {
  const lmax = evals[evals.length - 1]!;
  const sum = eigSum(evals, arith);
  const r = arith === 'float32' ? Math.fround : (x: number) => x;
  return {
    ...fitColumns(f, lmax, 'alpha', 'alpha_hat'),
    norm: sum,
    stable_rank: r(sum / lmax),
    norm_stable_rank: r(sum / evals.length),
  };
}

/**
 * FARMS on a conv2d [out, in, kh, kw] (the image-classification code's rule): slices W[:, :, i, j]
 * made tall, `division = rows // cols` row blocks of nr = cols // Q rows × nc = cols columns, each
 * block pooled over the kh·kw slices and fitted; every column is the mean over the divisions.
 */
async function farmsConv(ctx: Ctx, m: RecipeModule, q: number, fit: (ev: Float64Array) => HillFit): Promise<Row> {
  const [out, inp, kh, kw] = m.shape as [number, number, number, number];
  if (out + inp < kh + kw) return { included: false, reason: 'conv2d with channels first (out + in < kh + kw): not supported by FARMS' };
  const data = await ctx.store.read(m.tensor);
  const k = kh * kw;
  const tall = out >= inp;
  const rows = tall ? out : inp;
  const cols = tall ? inp : out;
  // stack the k slices (made tall) into one (k·rows) × cols matrix: one native call per layer
  const stacked = new Float32Array(k * rows * cols);
  for (let s = 0; s < k; s++) {
    for (let o = 0; o < out; o++) {
      for (let c = 0; c < inp; c++) {
        const v = data[(o * inp + c) * k + s]!;
        if (tall) stacked[(s * rows + o) * cols + c] = v;
        else stacked[(s * rows + c) * cols + o] = v;
      }
    }
  }
  const nr = Math.max(1, Math.trunc(q > 1 ? Math.floor(cols / q) : cols));
  const nc = Math.max(1, Math.trunc(q > 1 ? cols : Math.floor(cols / (1 / q))));
  const division = Math.floor(rows / cols);
  if (division < 1) return { included: false, reason: 'no full division (rows < cols)' };
  const windows: Window[] = [];
  for (let d = 0; d < division; d++) for (let s = 0; s < k; s++) windows.push({ row: s * rows + d * nr, col: 0, rows: nr, cols: nc });
  const sp = await windowEigs(stacked, k * rows, cols, windows, 0.5, ctx.arith);
  noteRoute(ctx, m.name, sp);
  const per = k * Math.min(nr, nc);
  const acc: Record<string, number[]> = {};
  const all: number[] = [];
  for (let d = 0; d < division; d++) {
    const ev = sp.evals.slice(d * per, (d + 1) * per).sort();
    all.push(...ev);
    const cols = farmsColumns(ev, fit(ev), ctx.arith);
    for (const key of ['alpha', 'spectral_norm', 'D', 'norm', 'alpha_hat', 'stable_rank', 'norm_stable_rank'])
      (acc[key] ??= []).push(cols[key] as number);
  }
  const row: Row = {};
  for (const [key, v] of Object.entries(acc)) row[key] = v.reduce((a, b) => a + b, 0) / v.length;
  const allSorted = Float64Array.from(all).sort();
  return { ...row, ...eigSummary(allSorted), eigs_num: all.length };
}

interface FarmsSettings {
  readonly rows: number;
  readonly q: number;
  readonly ops: number | null;
  readonly step: number;
  /** FARMS-LLM caps the window rows at min(m, n) (fixed_sampling); the image-classification code does not. */
  readonly llm: boolean;
  readonly eigsThresh: number;
}

async function farmsRows(
  ctx: Ctx,
  modules: readonly RecipeModule[],
  fs: FarmsSettings,
  fit: (ev: Float64Array) => HillFit,
): Promise<Row[]> {
  return forEachLayer(
    ctx,
    modules,
    async (m) => {
      if (m.kind === 'conv2d') {
        // FARMS-LLM crashes on every conv2d (RQ10): both recipes use the image-classification rule.
        return farmsConv(ctx, m, fs.q, fit);
      }
      const [rows, cols] = m.shape as [number, number];
      const windows =
        fs.ops !== null
          ? fixedWindows(rows, cols, fs.rows, fs.q, fs.ops)
          : slidingWindows(rows, cols, fs.llm ? Math.min(fs.rows, rows, cols) : fs.rows, fs.q, fs.step);
      const data = await ctx.store.read(m.tensor);
      const sp = await windowEigs(data, rows, cols, windows, 1, ctx.arith, xminCheck(fit));
      noteRoute(ctx, m.name, sp);
      const evals = sp.evals.slice().sort();
      if (evals.length < fs.eigsThresh) return { included: false, reason: `fewer than ${fs.eigsThresh} sampled eigenvalues` };
      const row = { ...farmsColumns(evals, fit(evals), ctx.arith), ...eigSummary(evals) };
      return fs.llm ? row : { ...row, eigs_num: evals.length };
    },
    { singleThread: true },
  );
}

function alphasOf(rows: readonly Row[], key = 'alpha'): Float64Array {
  return Float64Array.from(rows.map((r) => (typeof r[key] === 'number' ? r[key] : NaN)));
}

/** Every row starts from baseRow (name, shape, kind, block). */
function asLayers(rows: readonly Row[]): RecipeLayer[] {
  return rows as unknown as RecipeLayer[];
}

function included(r: Row): boolean {
  return r.included !== false;
}

/** Runs recipe `name` on an opened store. */
export async function runRecipe(store: TensorStore, name: string, o: RecipeOptions = {}, exec?: RecipeExecution): Promise<RecipeResult> {
  checkOptions(name, o);
  const method = name as RecipeName;
  const arith: Arith = o.precision ?? 'float64';
  const list = listModules(store, o.order ?? 'natural');
  const ctx: Ctx = {
    store,
    list,
    arith,
    o,
    routes: new Map(),
    fallbacks: [],
    // Without a scheduler (direct calls, tests): one layer at a time, OpenBLAS threads as they are.
    exec: exec ?? { budget: 1, run: (_t, fn) => fn() },
  };
  const common = { precision: arith, order: o.order ?? 'natural' };
  const blocks = list.blocks
    ? { blocks_prefix: list.blocks.prefix, num_blocks: list.blocks.indices.length }
    : { blocks_prefix: null, num_blocks: 0 };
  const finish = (r: Omit<RecipeResult, 'method' | 'summary'> & { summary: Record<string, unknown> }): RecipeResult => ({
    method,
    ...r,
    summary: {
      ...r.summary,
      routes: Object.fromEntries(ctx.routes),
      ...(ctx.fallbacks.length ? { fallbacks: ctx.fallbacks } : {}),
      embeddings_skipped: list.embeddings,
    },
  });

  switch (method) {
    case 'alphapruning-alpha-peak': {
      const { modules, scope } = scopedModules(list, o.scope ?? 'auto');
      const rows = await alphaPeakRows(ctx, modules);
      const alphas = alphasOf(rows);
      const finite = [...alphas].filter(Number.isFinite);
      return finish({
        options: { ...common, fix_fingers: 'xmin_peak', bins: 100, scope },
        layers: asLayers(rows),
        summary: {
          num_layers: rows.length,
          alpha_mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null,
          ...blocks,
        },
        array: alphas,
        arrayNames: rows.map((r) => r.name as string),
      });
    }
    case 'alphapruning-sparsity': {
      const sparsity = o.sparsity ?? 0.7;
      const epsilon = o.epsilon ?? 0.3;
      // With blocks: every linear/conv2d in them (AlphaPruning prunes the nn.Linear ones); without:
      // every linear layer is its own block (the oracle's documented fallback).
      const modules = list.blocks ? blockModules(list) : list.modules.filter((m) => m.kind === 'linear');
      const numBlocks = list.blocks ? list.blocks.indices.length : modules.length;
      const rows = await alphaPeakRows(ctx, modules);
      const linear = rows.filter((r) => r.kind === 'linear');
      // Conv2d alphas are left out of the scores (the paper's arrays would misalign, RQ8).
      const L = Math.trunc(linear.length / Math.max(1, numBlocks));
      const numel = linear.map((r) => (r.shape as number[]).reduce((a, b) => a * b, 1));
      const alphas = [...alphasOf(linear)];
      const res = alphaPruningSparsity({ alphas, numel, layersPerBlock: L, sparsity, epsilon });
      const byName = new Map(linear.map((r, i) => [r.name as string, i]));
      const layers = rows.map((r): Row => {
        const i = byName.get(r.name as string);
        if (i === undefined) return { ...baseRowOf(r), included: false, reason: 'not a linear layer: AlphaPruning prunes nn.Linear only' };
        return {
          ...baseRowOf(r),
          numel: numel[i]!,
          alpha_peak: alphas[i]!,
          score: res.scores[i]!,
          sparsity: res.ratios[i]!,
          ...(r.warning ? { warning: r.warning } : {}),
        };
      });
      const total = numel.reduce((a, b) => a + b, 0);
      const achieved = total ? res.ratios.reduce((a, r, i) => a + numel[i]! * r, 0) / total : null;
      return finish({
        options: {
          ...common,
          fix_fingers: 'xmin_peak',
          bins: 100,
          sparsity_ratio: sparsity,
          epsilon,
          mapping_type: 'block_wise',
          s1: 1 - epsilon,
          s2: 1 + epsilon,
        },
        layers: asLayers(layers),
        summary: {
          layer_num_in_block: L,
          num_layers: linear.length,
          total_prunable: total,
          weighted_mean_sparsity: achieved,
          min_ratio: res.ratios.length ? Math.min(...res.ratios) : null,
          max_ratio: res.ratios.length ? Math.max(...res.ratios) : null,
          any_ratio_above_1: res.ratios.some((r) => r > 1),
          ...(res.uniform ? { uniform: true } : {}),
          ...blocks,
        },
        array: Float64Array.from(res.ratios),
        arrayNames: linear.map((r) => r.name as string),
      });
    }
    case 'tempbalance-alpha':
    case 'tempbalance-lr': {
      const xminPos = o.xmin_pos ?? 2;
      const rows = await tempBalanceRows(ctx, list.modules, xminPos);
      if (method === 'tempbalance-alpha') {
        return finish({
          options: { ...common, pl_fitting: 'median', xmin_pos: xminPos },
          layers: asLayers(rows),
          summary: { num_layers: rows.length },
          array: alphasOf(rows),
          arrayNames: rows.map((r) => r.name as string),
        });
      }
      const lr = o.lr ?? 0.1;
      const fn = o.assign_func ?? 'tb_linear_map';
      // build_optimizer_param_group: drop the first and the last layer, then those with < 50 eigenvalues
      const kept = rows.slice(1, -1).filter((r) => (r.eigs_num as number) >= 50 && Number.isFinite(r.alpha));
      const lrs = tempBalanceLr(
        kept.map((r) => r.alpha as number),
        lr,
        fn,
      );
      const tuned = new Map(kept.map((r, i) => [r.name as string, lrs[i]!]));
      const layers = rows.map((r): Row => {
        const t = tuned.get(r.name as string);
        const l = t ?? lr;
        return { ...r, tuned: t !== undefined, lr: l, lr_factor: l / lr };
      });
      return finish({
        options: { ...common, pl_fitting: 'median', xmin_pos: xminPos, untuned_lr: lr, assign_func: fn, eigs_thresh: 50 },
        layers: asLayers(layers),
        summary: {
          untuned_lr: lr,
          num_layers: rows.length,
          num_tuned: tuned.size,
          param_groups: [...[...tuned].map(([modules, l]) => ({ modules, lr: l })), { modules: '<all other parameters>', lr }],
        },
        array: Float64Array.from(layers.map((r) => r.lr)),
        arrayNames: layers.map((r) => r.name as string),
      });
    }
    case 'farms-alpha':
    case 'farms-alpha-imagecls': {
      const llm = method === 'farms-alpha';
      const xminPos = o.xmin_pos ?? 2;
      const fix = llm ? (o.fix_fingers ?? 'xmin_mid') : 'xmin_mid';
      const fs: FarmsSettings = {
        rows: o.num_row_samples ?? 100,
        q: o.q_ratio ?? 2.0,
        ops: o.sampling_ops_per_dim === undefined ? (llm ? 10 : null) : o.sampling_ops_per_dim,
        step: o.step_size ?? 10,
        llm,
        eigsThresh: 5,
      };
      const fit = fix === 'xmin_peak' ? peakFit(arith) : (ev: Float64Array) => medianFit(ev, xminPos, arith);
      const { modules, scope } = llm ? scopedModules(list, o.scope ?? 'auto') : { modules: [...list.modules], scope: 'model' as const };
      const rows = await farmsRows(ctx, modules, fs, fit);
      const kept = rows.filter(included);
      return finish({
        options: {
          ...common,
          fix_fingers: fix,
          xmin_pos: xminPos,
          num_row_samples: fs.rows,
          q_ratio: fs.q,
          sampling_ops_per_dim: fs.ops,
          step_size: fs.step,
          eigs_num_thresh: fs.eigsThresh,
          scope,
        },
        layers: asLayers(rows),
        summary: { num_layers: kept.length, ...(llm ? blocks : {}) },
        array: alphasOf(kept),
        arrayNames: kept.map((r) => r.name as string),
      });
    }
    case 'lora-rank': {
      const fit = (ev: Float64Array) => scanFit(ev, { eps: 1e-8 }, arith);
      const rows = await forEachLayer(ctx, list.modules, async (m) => {
        const { s, f } = await fullMatrixFit(ctx, m, fit);
        const lmax = s.evals[s.evals.length - 1]!;
        const dims = m.kind === 'conv2d' ? [m.shape[2]! * m.shape[3]!, m.shape[0]!, m.shape[1]!] : m.shape;
        return {
          ...fitColumns(f, lmax, 'alpha_hill'),
          norm: eigSum(s.evals, arith),
          num_spikes: mpSpikes(s.evals, dims, arith),
          ...eigSummary(s.evals),
        };
      });
      const ok = rows.filter((r) => Number.isFinite(r.alpha_hill));
      const res = loraRanks({ alphas: ok.map((r) => r.alpha_hill as number), spikes: ok.map((r) => r.num_spikes as number) });
      const idx = new Map(ok.map((r, i) => [r.name as string, i]));
      const rankPattern: Record<string, number> = {};
      const alphaPattern: Record<string, number> = {};
      const layers = rows.map((r): Row => {
        const i = idx.get(r.name as string);
        if (i === undefined) return { ...r, selected: false, rank: null, lora_alpha: null };
        const rank = res.ranks[i];
        if (rank !== undefined) {
          rankPattern[r.name as string] = rank;
          alphaPattern[r.name as string] = 2 * rank;
        }
        return {
          ...r,
          alpha_hill_normalized: res.alphaNormalized[i]!,
          num_spikes_normalized: res.spikesNormalized[i]!,
          weighted_score: res.scores[i]!,
          selected: res.selected[i]!,
          rank: rank ?? null,
          lora_alpha: rank === undefined ? null : 2 * rank,
        };
      });
      const targets = Object.keys(rankPattern);
      const minRank = targets.length ? Math.min(...Object.values(rankPattern)) : 8;
      return finish({
        options: {
          ...common,
          layer_selection_percentile: 0.5,
          minimum_rank: 4,
          maximum_rank: 64,
          hill_weight: 0.7,
          mp_spikes_weight: 0.3,
          xmin: 'goodness-of-fit',
        },
        layers: asLayers(layers),
        summary: {
          num_layers: rows.length,
          num_selected: targets.length,
          rank_pattern: rankPattern,
          alpha_pattern: alphaPattern,
          target_modules_regex: targets.join('|'),
        },
        array: Float64Array.from(layers.map((r) => (typeof r.rank === 'number' ? r.rank : 0))),
        arrayNames: layers.map((r) => r.name as string),
        peft: {
          peft_type: 'LORA',
          r: minRank,
          lora_alpha: 2 * minRank,
          target_modules: targets,
          rank_pattern: rankPattern,
          alpha_pattern: alphaPattern,
        },
      });
    }
  }
}

function baseRowOf(r: Row): Row {
  const out: Row = { name: r.name!, shape: r.shape!, kind: r.kind! };
  if (r.block !== undefined) out.block = r.block;
  return out;
}
