/**
 * OpenBLAS's thread count is process-wide (0.3.21 has no per-call setting). Only the scheduler
 * (engine/scheduler.ts) sets it, through these two functions: when a batch of layers starts from
 * idle, the count in force is saved; when the last layer of the process ends, it is restored, so
 * direct svdvals() calls get what the user (or setThreads) set rather than the last layer's count.
 */
import { nativeInfo, setBlasThreads } from './binding.js';

let saved: number | undefined;

/** Set the count for the layers about to run; `idle`: nothing ran before, save the count in force. */
export function applyBlasThreads(threads: number, opts: { idle: boolean }): void {
  if (opts.idle) saved = nativeInfo().blasThreads;
  setBlasThreads(Math.max(1, threads));
}

/** Nothing runs any more: put back the count saved when the scheduler became busy. */
export function restoreBlasThreads(): void {
  if (saved !== undefined) setBlasThreads(Math.max(1, saved));
  saved = undefined;
}

/** The count direct calls (svdvals, …) get while the scheduler is idle: setThreads() sets it to the budget. */
export function setIdleBlasThreads(threads: number): void {
  setBlasThreads(Math.max(1, threads));
}
