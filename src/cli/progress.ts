/**
 * Progress of a long run on stderr. On a terminal: one line rewritten in place, from one second
 * into the run. Elsewhere (CI logs, `2> log`): a plain line every few seconds, so a long analysis
 * is never silent for minutes; a run shorter than the interval prints none. `--progress-every
 * SECONDS` sets the interval, `--progress` keeps progress on under `--quiet`, and `--no-progress`
 * and `--quiet` turn it off.
 */
import type { Progress } from '../shared/options.js';
import { escapeControl } from '../shared/text.js';
import { num, usageError, type ParsedArgs } from './args.js';
import type { OutStream } from './command.js';

/** Seconds between progress lines when stderr is not a terminal. */
export const DEFAULT_PROGRESS_SECONDS = 10;

export interface ProgressMode {
  readonly enabled: boolean;
  /** Seconds between lines when stderr is not a terminal. */
  readonly seconds: number;
}

/** --progress, --progress-every SECONDS, --no-progress and --quiet → how progress is shown. */
export function progressMode(values: ParsedArgs['values']): ProgressMode {
  if (values.progress && values['no-progress']) throw usageError('give --progress or --no-progress, not both');
  const every = values['progress-every'];
  const seconds = typeof every === 'string' ? num('progress-every', every, { above: 0 })! : DEFAULT_PROGRESS_SECONDS;
  return { enabled: values.progress === true || (!values.quiet && !values['no-progress']), seconds };
}

function statusText(p: Progress): string {
  const pct = Math.round((100 * p.done) / Math.max(1, p.total));
  const eta = p.done > 0 ? ((p.elapsedMs / p.done) * (p.total - p.done)) / 1000 : 0;
  return `[${String(p.done).padStart(String(p.total).length)}/${p.total} ${String(pct).padStart(3)}%] ${(p.elapsedMs / 1000).toFixed(1)}s, ~${eta.toFixed(0)}s left  layer ${p.layerId} ${escapeControl(p.name)}`;
}

export function makeProgress(stream: OutStream, mode: boolean | ProgressMode): { update: (p: Progress) => void; done: () => void } {
  const { enabled, seconds } = typeof mode === 'boolean' ? { enabled: mode, seconds: DEFAULT_PROGRESS_SECONDS } : mode;
  if (!enabled) return { update: () => {}, done: () => {} };
  if (!stream.isTTY) {
    let next = seconds * 1000;
    return {
      update(p) {
        if (p.elapsedMs < next) return; // so a run shorter than the interval prints nothing
        next = (Math.floor(p.elapsedMs / (seconds * 1000)) + 1) * seconds * 1000;
        stream.write(`progress: ${statusText(p)}\n`);
      },
      done() {},
    };
  }
  let shown = false;
  return {
    update(p) {
      if (p.elapsedMs < 1000 && !shown) return;
      shown = true;
      const width = stream.columns ?? 80;
      stream.write(
        `\r${statusText(p)
          .slice(0, width - 1)
          .padEnd(Math.min(width - 1, 100))}`,
      );
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
