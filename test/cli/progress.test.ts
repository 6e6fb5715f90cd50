/** Progress on stderr: a live line on a terminal, a line every few seconds elsewhere (CI logs), none when asked. */
import { describe, expect, it } from 'vitest';
import { parse, OUTPUT_OPTIONS } from '../../src/cli/args.js';
import { makeProgress, progressMode } from '../../src/cli/progress.js';
import type { OutStream } from '../../src/cli/command.js';

function sink(isTTY: boolean): { stream: OutStream; text: () => string } {
  let text = '';
  const stream = { isTTY, columns: 120, write: (s: string) => ((text += s), true) } as unknown as OutStream;
  return { stream, text: () => text };
}

const step = (done: number, elapsedMs: number) => ({ done, total: 100, layerId: done, name: `h.${done}`, elapsedMs });
const modeOf = (...argv: string[]) => progressMode(parse(argv, OUTPUT_OPTIONS).values);

describe('progress', () => {
  it('not a terminal: one line per interval, none for a run shorter than it', () => {
    const { stream, text } = sink(false);
    const p = makeProgress(stream, modeOf());
    for (let i = 1; i <= 100; i++) p.update(step(i, i * 450)); // 45 s in all
    p.done();
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(4); // at 10, 20, 30 and 40 s
    expect(lines[0]).toBe('progress: [ 23/100  23%] 10.3s, ~35s left  layer 23 h.23');
    const short = sink(false);
    const q = makeProgress(short.stream, modeOf());
    for (let i = 1; i <= 100; i++) q.update(step(i, i * 90));
    expect(short.text()).toBe('');
  });

  it('--progress-every sets the interval, --progress wins over --quiet; --no-progress and --quiet silence it', () => {
    expect(modeOf('--progress', '--progress-every', '2', '-q')).toEqual({ enabled: true, seconds: 2 });
    expect(modeOf('--progress')).toEqual({ enabled: true, seconds: 10 });
    expect(modeOf('-q').enabled).toBe(false);
    expect(modeOf('--no-progress').enabled).toBe(false);
    expect(() => modeOf('--progress-every', '0')).toThrow(/--progress-every must be > 0/);
    expect(() => modeOf('--progress', '--no-progress')).toThrow(/not both/);
    const { stream, text } = sink(false);
    const p = makeProgress(stream, modeOf('--progress-every', '2'));
    for (let i = 1; i <= 10; i++) p.update(step(i, i * 1000));
    expect(text().trimEnd().split('\n')).toHaveLength(5);
  });

  it('a terminal: the line is rewritten in place and cleared at the end', () => {
    const { stream, text } = sink(true);
    const p = makeProgress(stream, modeOf());
    p.update(step(1, 500));
    expect(text()).toBe('');
    p.update(step(2, 1500));
    p.done();
    expect(text().startsWith('\r[  2/100   2%] 1.5s')).toBe(true);
    expect(text().endsWith('\r\x1b[2K')).toBe(true);
  });
});
