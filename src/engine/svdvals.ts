/**
 * The package root's `svdvals` and `svdvalsDetailed`: the addon's calls (native/binding.ts), run
 * through the process's one scheduler (scheduler.ts) like every layer of every other call. A single
 * call gets the whole thread budget by default (issue 23), so it is the only OpenBLAS user while it
 * runs (`exclusive`): the Gram route may then take its split two-stage eigensolver
 * (native/core/gram.h). Concurrent calls take turns instead of changing the process-wide OpenBLAS
 * count under each other, so a call's values never depend on what else the process does.
 * The sync twins (small inputs only) stay direct.
 */
import {
  svdvalsDetailed as nativeSvdvalsDetailed,
  type MatrixData,
  type MatrixSpectrum,
  type SpectrumOptions,
  type SvdOptions,
} from '../native/binding.js';
import { WeightWatcherError } from '../shared/errors.js';
import { cancellable, processBudget, scheduler, type CancelOptions } from './scheduler.js';

/**
 * svdvalsDetailed (native/binding.ts) with cancellation, on the scheduler: `threads` defaults to the
 * process's budget (setThreads, WW_THREADS, else the cores). `signal`/`timeoutMs` reject a call
 * still waiting for its turn; a running decomposition finishes first (LAPACK cannot be interrupted).
 */
export async function svdvalsDetailed(
  data: MatrixData,
  rows: number,
  cols: number,
  opts: SpectrumOptions & CancelOptions = {},
): Promise<MatrixSpectrum> {
  const { signal: _s, timeoutMs: _t, exclusive, ...rest } = opts;
  if (exclusive !== undefined)
    throw new WeightWatcherError(
      'E_USAGE',
      'svdvals: exclusive is not an option here: the scheduler decides it (a call with the whole budget runs alone)',
    );
  if (rest.threads !== undefined && !(Number.isInteger(rest.threads) && rest.threads >= 1 && rest.threads <= 1024))
    throw new WeightWatcherError('E_USAGE', `svdvals: threads must be an integer from 1 to 1024, got ${String(rest.threads)}`);
  const callerStack = new Error(); // the addon's errors point at the caller, not at the scheduler
  try {
    return await cancellable(opts, async (signal) => {
      const call = scheduler.open(signal);
      try {
        const threads = rest.threads ?? processBudget();
        return await call.run(threads, (slot) => nativeSvdvalsDetailed(data, rows, cols, { ...rest, threads, exclusive: slot.exclusive }));
      } finally {
        call.close();
      }
    });
  } catch (e) {
    if (e instanceof Error && callerStack.stack) e.stack = `${e.name}: ${e.message}\n${callerStack.stack.split('\n').slice(1).join('\n')}`;
    throw e;
  }
}

/** Singular values (ascending): svdvalsDetailed's `sv`. */
export async function svdvals(
  data: Float32Array | Float64Array,
  rows: number,
  cols: number,
  opts: SvdOptions & CancelOptions = {},
): Promise<Float64Array> {
  return (await svdvalsDetailed(data, rows, cols, opts)).sv;
}
