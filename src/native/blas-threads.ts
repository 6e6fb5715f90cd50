/**
 * OpenBLAS's thread count is process-wide. withBlasThreads sets it for the duration of the
 * analyses in flight and restores the previous value when the last one ends (reference-counted),
 * so direct svdvals() calls are not left single-threaded and overlapping analyze() calls do not
 * undo each other's setting.
 */
import { nativeInfo, setBlasThreads } from './binding.js';

let activeRuns = 0;
let savedBlasThreads = 0;

export async function withBlasThreads<T>(threads: number, fn: () => Promise<T>): Promise<T> {
  if (activeRuns++ === 0) savedBlasThreads = nativeInfo().blasThreads;
  setBlasThreads(threads);
  try {
    return await fn();
  } finally {
    if (--activeRuns === 0) setBlasThreads(Math.max(1, savedBlasThreads));
  }
}
