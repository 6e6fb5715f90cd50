/**
 * The process's one scheduler: every entry point that decomposes matrices (analyze, getESD,
 * distances, smooth/sharpen, sweeps and the queue worker, which all go through runAnalysis or
 * `Call.run`) hands its layers to it, so that many callers in one process share the machine
 * instead of each sizing itself for all of it (docs/performance.md#one-scheduler-per-process).
 *
 * - It owns the thread budget: setThreads(n), else WW_THREADS, else the cores.
 * - Layers from all calls wait in one queue, served round-robin by call, so a small call is not
 *   stuck behind a big one.
 * - The OpenBLAS thread count is set here and nowhere else. OpenBLAS 0.3.21's count is
 *   process-wide, and the last bits of a decomposition depend on it, so every layer runs with the
 *   count its own call's plan gives it (blasThreadsFor: a function of the call's budget, its layer
 *   count and the layer's position — never of load), and layers with different counts are never in
 *   flight together: the count changes only when nothing runs. Results therefore do not depend on
 *   what else the process is doing (test/engine/scheduler.test.ts checks 1 against 32 concurrent
 *   calls bit for bit).
 * - Cancellation: a call's AbortSignal (or timeoutMs) rejects its queued layers at once; layers
 *   already running finish (a LAPACK call cannot be interrupted), and no new layer starts.
 */
import { AbortedError, WeightWatcherError } from '../shared/errors.js';
import { applyBlasThreads, restoreBlasThreads, setIdleBlasThreads } from '../native/blas-threads.js';
import { currentMachine, layerThreads, processBudget, setProcessBudget } from './thread-policy.js';
import { resolveOptions, type AnalyzeOptions } from '../shared/options.js';

export { processBudget };

/** Library options of every call that decomposes matrices (analyze, describe, getESD, distances, smooth, sharpen, sweep). */
/** The cancellation options every call takes: the option table's `signal` and `timeoutMs` rows. */
export type CancelOptions = Pick<AnalyzeOptions, 'signal' | 'timeoutMs'>;

/**
 * Set the thread budget every call of this process shares (null: back to WW_THREADS or the cores).
 * Calls already running keep the per-layer thread counts their plans gave them.
 */
export function setThreads(n: number | null): void {
  if (n !== null && !(Number.isInteger(n) && n >= 1))
    throw new WeightWatcherError('E_USAGE', `setThreads: expected a positive integer or null, got ${String(n)}`);
  setProcessBudget(n);
  scheduler.budgetChanged();
}

/**
 * OpenBLAS threads for each layer of a run of `layerCount` layers with `budget` threads:
 * layerThreads' count, the same for every layer of the run — one per layer when
 * there are at least as many layers as threads, so a call on one matrix gets every thread. The
 * last bits of a decomposition depend on its thread count, so the count must not depend on a
 * layer's position: the same layer read from another format (whose file holds one more or one
 * fewer layer) gives the same bits (test/formats/cross-format.test.ts). A function of the plan
 * only, never of load; a layer-group job passes the whole run's `layerCount` and gets the single
 * run's counts.
 */
export function blasThreadsFor(budget: number, layerCount: number, pool: number = currentMachine().pool): number {
  return layerThreads(layerCount, budget, pool).blasThreads;
}

/** What the scheduler tells a layer when it starts. */
export interface Slot {
  /**
   * No other layer of any call is in flight while this one runs, and none may start (its count
   * takes more than half the budget, so the admission rule already keeps others out; the flag holds
   * that even if setThreads raises the budget meanwhile). Such a layer may change OpenBLAS's
   * process-wide thread count for one of its steps (native/core/gram.h, the split two-stage
   * eigensolver). From the plan (threads, budget), never from timing.
   */
  readonly exclusive: boolean;
}

interface Request {
  readonly threads: number;
  readonly call: Call;
  readonly start: (slot: Slot) => void;
  readonly reject: (e: unknown) => void;
  /** Times another count's layer started while this one waited at the head of its call. */
  passed: number;
}

/** Layers that may overtake a waiting layer of another BLAS count before the scheduler drains to switch. */
const MAX_PASSED = 8;

/** Process-wide count of the layers of every call (the CLI's "interrupted after k of n layers"). */
const tally = { done: 0, total: 0 };

/** Layers finished and planned by every call of this process so far. */
export function layerTally(): { done: number; total: number } {
  return { ...tally };
}

export class Scheduler {
  private readonly calls: Call[] = [];
  private cursor = 0;
  private inFlight = 0;
  private threadsInFlight = 0;
  /** The OpenBLAS count of the layers in flight (meaningful while inFlight > 0). */
  private current = 0;
  private active = false;
  /** An exclusive layer (Slot) is in flight: nothing else starts until it ends. */
  private exclusiveInFlight = false;

  /** Layers in flight at most: one libuv thread stays free for reads (thread-policy.ts). */
  private get slots(): number {
    return Math.max(1, currentMachine().pool - 1);
  }

  /** A new call: its layers join the queue through `run`. Close it when the call ends. */
  open(signal?: AbortSignal): Call {
    const call = new Call(this, signal);
    this.calls.push(call);
    return call;
  }

  /** @internal */
  closeCall(call: Call): void {
    const i = this.calls.indexOf(call);
    if (i >= 0) {
      this.calls.splice(i, 1);
      if (this.cursor > i) this.cursor--;
    }
    this.pump();
  }

  budgetChanged(): void {
    if (this.inFlight === 0 && !this.active) setIdleBlasThreads(processBudget());
    this.pump();
  }

  /** @internal Start whatever the budget allows. */
  pump(): void {
    const budget = processBudget();
    for (;;) {
      if (this.inFlight >= this.slots || this.exclusiveInFlight) break;
      const heads = this.headsInTurn();
      if (heads.length === 0) break;
      let pick: Request | undefined;
      if (this.inFlight === 0) {
        // Nothing runs: any count can start; the layer that waited longest at a switch goes first.
        pick = heads.reduce((a, b) => (b.passed > a.passed ? b : a), heads[0]!);
      } else {
        // Only the count in force may join, and not once a layer of another count waited too long.
        if (heads.some((r) => r.threads !== this.current && r.passed >= MAX_PASSED)) break;
        pick = heads.find((r) => r.threads === this.current && this.threadsInFlight + r.threads <= budget);
        if (!pick) break;
        for (const r of heads) if (r.threads !== this.current) r.passed++;
      }
      this.begin(pick);
    }
    if (this.inFlight === 0 && this.active && this.calls.every((c) => c.queue.length === 0)) {
      this.active = false;
      restoreBlasThreads();
    }
  }

  /** Each call's first waiting layer, round-robin from the cursor. */
  private headsInTurn(): Request[] {
    const out: Request[] = [];
    const n = this.calls.length;
    for (let k = 0; k < n; k++) {
      const head = this.calls[(this.cursor + k) % n]!.queue[0];
      if (head) out.push(head);
    }
    return out;
  }

  private begin(r: Request): void {
    const q = r.call.queue;
    q.splice(q.indexOf(r), 1);
    // The next turn goes to the call after this one.
    this.cursor = (this.calls.indexOf(r.call) + 1) % Math.max(1, this.calls.length);
    if (this.inFlight === 0) {
      this.current = r.threads;
      applyBlasThreads(r.threads, { idle: !this.active });
      this.active = true;
    }
    this.inFlight++;
    this.threadsInFlight += r.threads;
    // Alone by construction: nothing else was in flight, and no layer of this count fits beside it.
    const exclusive = this.inFlight === 1 && 2 * r.threads > processBudget();
    if (exclusive) this.exclusiveInFlight = true;
    r.start({ exclusive });
  }

  /** @internal */
  finished(threads: number, slot: Slot): void {
    this.inFlight--;
    this.threadsInFlight -= threads;
    if (slot.exclusive) this.exclusiveInFlight = false;
    this.pump();
  }

  /** Layers waiting and running (tests and diagnostics). */
  stats(): { inFlight: number; waiting: number; blasThreads: number } {
    return { inFlight: this.inFlight, waiting: this.calls.reduce((s, c) => s + c.queue.length, 0), blasThreads: this.current };
  }
}

/** One call's handle on the scheduler. */
export class Call {
  /** @internal */
  readonly queue: Request[] = [];
  private closed = false;
  private readonly onAbort = () => {
    const e = abortError(this.signal!);
    for (const r of this.queue.splice(0)) r.reject(e);
    this.scheduler.pump();
  };

  constructor(
    private readonly scheduler: Scheduler,
    readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get aborted(): boolean {
    return this.signal?.aborted === true;
  }

  /** The call's AbortedError (its signal has fired), saying how far it got. */
  abortError(progress?: { done: number; total: number }): AbortedError {
    return abortError(this.signal ?? AbortSignal.abort(), progress);
  }

  /** Throws the call's AbortedError when its signal has fired. */
  throwIfAborted(progress?: { done: number; total: number }): void {
    if (this.signal?.aborted) throw abortError(this.signal, progress);
  }

  /** Count layers for the process tally (the CLI's interrupt message). */
  planned(n: number): void {
    tally.total += n;
  }

  layerDone(): void {
    tally.done++;
  }

  /**
   * Run `fn` (one layer's decompositions) when the scheduler gives it a slot with `threads` OpenBLAS
   * threads. Rejects with an AbortedError, without running `fn`, if the call is aborted first.
   */
  run<T>(threads: number, fn: (slot: Slot) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new WeightWatcherError('E_INTERNAL', 'scheduler: run() on a closed call'));
    if (this.signal?.aborted) return Promise.reject(abortError(this.signal));
    return new Promise<T>((resolve, reject) => {
      const req: Request = {
        threads: Math.max(1, Math.floor(threads)),
        call: this,
        passed: 0,
        reject,
        start: (slot) => {
          // a synchronous throw must not leave the slot taken
          Promise.resolve()
            .then(() => fn(slot))
            .then(resolve, reject)
            .finally(() => this.scheduler.finished(req.threads, slot));
        },
      };
      this.queue.push(req);
      this.scheduler.pump();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    const e = new WeightWatcherError('E_INTERNAL', 'scheduler: call closed with layers waiting');
    for (const r of this.queue.splice(0)) r.reject(e);
    this.scheduler.closeCall(this);
  }
}

/** The one scheduler of this process. */
export const scheduler = new Scheduler();

/**
 * The error of a cancelled call: name 'AbortError', code E_ABORTED, and how far it got. A
 * timeoutMs timeout says so; the signal's reason is the cause.
 */
export function abortError(signal: AbortSignal, progress?: { done: number; total: number }): AbortedError {
  const reason: unknown = signal.reason;
  const timedOut = reason instanceof TimeoutReason;
  const what = timedOut ? `timed out after ${reason.ms} ms` : 'aborted';
  const where = progress ? ` after ${progress.done} of ${progress.total} layers` : '';
  return new AbortedError(`${what}${where}`, { ...(progress ?? {}), cause: reason, timedOut });
}

class TimeoutReason extends Error {
  constructor(readonly ms: number) {
    super(`timeoutMs ${ms} elapsed`);
    this.name = 'TimeoutError';
  }
}

/**
 * The signal of a call's `signal` and `timeoutMs` options (validated), and `dispose` to clear the
 * timer when the call ends. Undefined signal when neither is given.
 */
export function cancelSignal(o: CancelOptions | undefined): { signal: AbortSignal | undefined; dispose: () => void } {
  // Validated by the option table's rows, as every other option.
  const { signal, timeoutMs } = resolveOptions({ signal: o?.signal, timeoutMs: o?.timeoutMs });
  if (timeoutMs === undefined) return { signal, dispose: () => {} };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutReason(timeoutMs)), timeoutMs);
  const forward = () => controller.abort(signal!.reason);
  if (signal?.aborted) forward();
  else signal?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    },
  };
}

/**
 * Run a whole call under its `signal` and `timeoutMs`: `fn` gets the combined signal (undefined
 * when neither is given); the timer starts now, so it covers opening the model too.
 */
export async function cancellable<T>(o: CancelOptions | undefined, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  const { signal, dispose } = cancelSignal(o);
  try {
    if (signal?.aborted) throw abortError(signal);
    return await fn(signal);
  } finally {
    dispose();
  }
}

/**
 * Run a whole call (getESD, distances, a transform) under its cancellation options: `fn` gets the
 * call's scheduler handle; the timer and the handle are released when it settles.
 */
export async function withCall<T>(o: CancelOptions | undefined, fn: (call: Call) => Promise<T>): Promise<T> {
  const { signal, dispose } = cancelSignal(o);
  const call = scheduler.open(signal);
  try {
    call.throwIfAborted();
    return await fn(call);
  } finally {
    call.close();
    dispose();
  }
}
