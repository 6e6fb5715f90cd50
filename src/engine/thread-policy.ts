/**
 * How many layers are decomposed at once, with how many OpenBLAS threads each, and how far reads
 * run ahead (docs/performance.md).
 *
 * Measured (`npm run bench -- --only threads`, 2-core AVX-512, OpenBLAS 0.3.21): two copies of one
 * decomposition finish 13–92% sooner at once with one BLAS thread each than one after the other
 * with two threads (768², 3072×768, 2048², 4096², both methods, idle machine), and tie within 2% on
 * the tall 8192×2048 (docs/performance.md); on a loaded machine the gap grows to 1.4–6×. The Gram route's ?syevd tridiagonalisation and
 * ?gesdd's bidiagonalisation are memory-bound BLAS-2 that gain little from a second thread; ?syrk
 * and ?getrf, which do scale, are the smaller part. So the rule is: as many layers in flight as
 * there are cores, one BLAS thread each; BLAS threads only take the cores that no layer can
 * use when there are fewer layers than cores (or libuv threads), so a one-layer call gets every
 * thread. Every layer of a run gets the same count (engine/scheduler.ts blasThreadsFor), which
 * depends on nothing but the budget, the layer count and the threadpool — never on a layer's
 * position, timing, free memory or other calls: multi-threaded BLAS-2 reductions round differently. So a run whose layers in flight are
 * capped by memory may leave cores idle.
 *
 * OpenBLAS's thread count is process-wide (0.3.21 has no per-call setting): the process's one
 * scheduler (engine/scheduler.ts) sets it, and never runs layers of different counts at once.
 */
import { availableParallelism, freemem } from 'node:os';
import { WeightWatcherError } from '../shared/errors.js';

/** A layer as the policy sees it: its matrix shape and stored size. */
export interface LayerShape {
  readonly rows: number;
  readonly cols: number;
  /** Number of matrices (conv2d slices), decomposed one after the other. */
  readonly slices: number;
  /** Bytes of the tensor as read (held while the layer waits and while it is decomposed). */
  readonly tensorBytes: number;
}

export interface Machine {
  readonly cores: number;
  /** Bytes the run may use for layers in flight. */
  readonly memory: number;
  /** libuv threadpool size: native decompositions and file reads share it. */
  readonly pool: number;
}

export interface ThreadPlan {
  /** Thread budget after capping at the core count. */
  readonly budget: number;
  /** One line for the user when `threads` asked for more than the cores. */
  readonly notice?: string;
  readonly concurrency: number;
  /** OpenBLAS threads of each layer (the same for all: scheduler.ts blasThreadsFor). */
  readonly blasThreads: number;
  /** Layers read ahead of the decompositions. */
  readonly prefetch: number;
  /** Peak bytes of the largest layer in flight (tensor + native working set). */
  readonly layerBytes: number;
  /** What bounds `concurrency`. */
  readonly limitedBy: 'cores' | 'layers' | 'memory' | 'threadpool';
}

export function currentMachine(): Machine {
  return {
    cores: availableParallelism(),
    // what is free now, leaving room for the rest of the process and the page cache
    memory: Math.max(256 * 2 ** 20, freemem() * 0.5),
    pool: Number(process.env.UV_THREADPOOL_SIZE) || 4,
  };
}

/**
 * Native working set of one layer: the larger of the Gram route (n×n Gram matrix plus one ≤32 MiB
 * chunk) and a full float64 copy (?gesdd fallback, σmin refinement), plus the tensor itself.
 */
export function layerBytes(l: LayerShape): number {
  const m = Math.max(l.rows, l.cols);
  const n = Math.min(l.rows, l.cols);
  const gram = 8 * n * n + Math.min(8 * m * n, 32 * 2 ** 20);
  const full = 8 * m * n + 8 * 3 * n * Math.min(n, 64);
  return l.tensorBytes + Math.max(gram, full);
}

let budgetSet: number | undefined;

function envBudget(): number | undefined {
  const v = process.env.WW_THREADS;
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new WeightWatcherError('E_USAGE', `WW_THREADS must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** The process's budget as set (engine/scheduler.ts setThreads); null goes back to WW_THREADS or the cores. */
export function setProcessBudget(n: number | null): void {
  budgetSet = n ?? undefined;
}

/**
 * The process's thread budget, shared by every call (engine/scheduler.ts): setThreads(n), else the
 * WW_THREADS environment variable, else the cores; never more than the cores.
 */
export function processBudget(cores: number = availableParallelism()): number {
  const c = Math.max(1, cores);
  return Math.max(1, Math.min(c, budgetSet ?? envBudget() ?? c));
}

/**
 * A call's `threads` option capped at the core count (more threads than cores only oversubscribe),
 * with the notice saying so; without the option, the process budget (setThreads / WW_THREADS / cores).
 */
export function threadBudget(threads: number | null, cores: number = availableParallelism()): { budget: number; notice?: string } {
  const c = Math.max(1, cores);
  const asked = threads ?? processBudget(c);
  if (asked <= c) return { budget: Math.max(1, asked) };
  return { budget: c, notice: `threads=${asked} is more than the ${c} cores of this machine: using ${c}` };
}

/**
 * The part of the plan that sets each layer's BLAS thread count: a function of the budget, the
 * number of layers and the threadpool only — never of free memory or timing — because the last
 * bits of a decomposition depend on it (and sweeps split a model into jobs that must give the rows
 * of one whole run, src/sweep/job.ts).
 */
export function layerThreads(
  layerCount: number,
  budget: number,
  pool: number = currentMachine().pool,
): { concurrency: number; blasThreads: number; limitedBy: ThreadPlan['limitedBy'] } {
  let limitedBy: ThreadPlan['limitedBy'] = 'cores';
  let concurrency = budget;
  if (layerCount < concurrency) [concurrency, limitedBy] = [layerCount, 'layers'];
  if (pool - 1 < concurrency) [concurrency, limitedBy] = [pool - 1, 'threadpool']; // one libuv thread stays free for reads
  concurrency = Math.max(1, concurrency);
  return { concurrency, blasThreads: Math.max(1, Math.floor(budget / concurrency)), limitedBy };
}

export function threadPlan(layers: readonly LayerShape[], threads: number | null, machine: Machine = currentMachine()): ThreadPlan {
  const { budget, notice } = threadBudget(threads, machine.cores);
  const base = layerThreads(layers.length, budget, machine.pool);
  const peak = layers.reduce((mx, l) => Math.max(mx, layerBytes(l)), 0);
  const prefetch = 1;
  // Memory holds (concurrency + prefetch) layers. When it caps the layers in flight, the spare cores
  // stay idle rather than change the BLAS thread count (see layerThreads).
  const byMemory = peak > 0 ? Math.floor(machine.memory / peak) - prefetch : base.concurrency;
  const memoryBound = byMemory < base.concurrency;
  const concurrency = Math.max(1, memoryBound ? byMemory : base.concurrency);
  return {
    budget,
    ...(notice ? { notice } : {}),
    concurrency,
    blasThreads: base.blasThreads,
    prefetch: byMemory > concurrency ? prefetch : 0,
    layerBytes: peak,
    limitedBy: memoryBound ? 'memory' : base.limitedBy,
  };
}
