/**
 * Imported first by the CLI: process-wide settings for a command that runs for seconds, not days.
 * Both were measured with `perf` on `analyze --plot` (minigpt, 93 figures, 2 cores, 2026-11-27,
 * median of 3 runs); both are kept as the user set them, and library users choose their own
 * (docs/performance.md#runtime-settings).
 *
 * - V8's tier-up threshold. V8 optimises a function once it has run `--interrupt-budget` bytes of
 *   bytecode (67,584 by default in Node 20's V8 11.3), which suits long-running servers. A plot run
 *   renders each figure kind a few dozen times in every render worker, and optimising vega's
 *   functions in each worker cost more than the optimised code saved (TurboFan was ≈ 19% of the
 *   run's CPU). With 600,000: 2.94 → 2.44 s wall, 5.55 → 4.58 s CPU (300,000: 2.53 s; 1,200,000:
 *   2.58 s). The flag is process-wide, so render workers started later get it too. A budget the
 *   user gives node (`node --interrupt-budget=N …`; NODE_OPTIONS refuses V8 flags like it) is kept.
 * - mimalloc's purge delay. resvg (@resvg/resvg-js) allocates with mimalloc, which gives freed
 *   memory back to the OS after 10 ms; a figure's canvas-sized pixel buffers (≈ 4 MB at 2×) then
 *   fault in and are zeroed again for the next figure. Without purging: system time 0.92 → 0.62 s,
 *   wall 2.51 → 2.39 s; the pages stay with the process (a few canvases per render worker).
 *   mimalloc reads MIMALLOC_PURGE_DELAY when resvg loads, which is after this module runs.
 */
import { setFlagsFromString } from 'node:v8';

const INTERRUPT_BUDGET = 600_000;

export interface ProcessTuning {
  /** V8 flags to set (setFlagsFromString). */
  v8Flags: string[];
  /** Environment variables to set. */
  env: Record<string, string>;
}

/** What this module sets, given node's own options and the environment (what the user set stays). */
export function processTuning(execArgv: readonly string[], env: NodeJS.ProcessEnv): ProcessTuning {
  const budgetGiven = execArgv.some((a) => /^--interrupt[-_]budget(=|$)/.test(a));
  return {
    v8Flags: budgetGiven ? [] : [`--interrupt-budget=${INTERRUPT_BUDGET}`],
    env: env.MIMALLOC_PURGE_DELAY === undefined ? { MIMALLOC_PURGE_DELAY: '-1' } : {},
  };
}

const tuning = processTuning(process.execArgv, process.env);
for (const flag of tuning.v8Flags) setFlagsFromString(flag);
Object.assign(process.env, tuning.env);
