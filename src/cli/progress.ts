/**
 * A one-line progress indicator on stderr. It appears only when stderr is a terminal and the run
 * has lasted more than a second, so quick runs and redirected output stay clean.
 */
import type { Progress } from '../shared/options.js';
import type { OutStream } from './command.js';
import { escapeControl } from '../shared/text.js';

export function makeProgress(stream: OutStream, enabled: boolean): { update: (p: Progress) => void; done: () => void } {
  let shown = false;
  if (!enabled || !stream.isTTY) return { update: () => {}, done: () => {} };
  return {
    update(p) {
      if (p.elapsedMs < 1000 && !shown) return;
      shown = true;
      const width = stream.columns ?? 80;
      const pct = Math.round((100 * p.done) / Math.max(1, p.total));
      const eta = p.done > 0 ? ((p.elapsedMs / p.done) * (p.total - p.done)) / 1000 : 0;
      const line = `[${String(p.done).padStart(String(p.total).length)}/${p.total} ${String(pct).padStart(3)}%] ${(p.elapsedMs / 1000).toFixed(1)}s, ~${eta.toFixed(0)}s left  layer ${p.layerId} ${escapeControl(p.name)}`;
      stream.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, 100))}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
