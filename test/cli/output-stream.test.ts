/** Writing to stdout when the reader goes away (`--json - | head -c 100`) or reads slowly. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { write } from '../../src/cli/output.js';
import type { Io } from '../../src/cli/command.js';

function chunks(n: number): AsyncIterable<string> {
  return (async function* () {
    for (let i = 0; i < n; i++) yield 'x'.repeat(1024);
  })();
}

describe('write to stdout', () => {
  it('a reader that closes after the first chunk: the write ends, no listeners pile up', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    let seen = 0;
    const out = new Writable({
      highWaterMark: 16,
      write(_chunk, _enc, cb) {
        seen++;
        // The reader is gone: as a closed pipe, the stream errors (EPIPE) and is destroyed.
        setImmediate(() => cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
      },
    });
    out.on('error', () => {});
    const io = { stdout: out, stderr: out } as unknown as Io;
    await write('-', chunks(500), io);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(seen).toBe(1);
    expect(out.listenerCount('drain') + out.listenerCount('close')).toBe(0);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('a slow reader gets every chunk, in order, with at most one listener of each kind at a time', async () => {
    let text = '';
    let most = 0;
    const out = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, cb) {
        most = Math.max(most, out.listenerCount('drain'));
        text += chunk.toString();
        setImmediate(cb);
      },
    });
    await write('-', chunks(200), { stdout: out, stderr: out });
    expect(text.length).toBe(200 * 1024);
    expect(most).toBeLessThanOrEqual(1);
  });
});
