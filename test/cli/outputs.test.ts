/** Output writing: atomic files, folder creation that cannot loop, path checks before work, JSON streaming. */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDirectory, removeTemporaryFiles, writeFileAtomic } from '../../src/shared/atomic-write.js';
import { checkOutputs } from '../../src/cli/output-paths.js';
import { parse, parseLayers, SELECTION_OPTIONS, OUTPUT_OPTIONS } from '../../src/cli/args.js';
import { jsonChunks, toJson } from '../../src/report/output.js';
import { escapeControl } from '../../src/shared/text.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const haveProc = existsSync('/proc/self');

describe('writeFileAtomic', () => {
  it('replaces a file in one step, keeps its permissions, leaves no temporary file', async () => {
    const d = mkdtempSync(join(dir, 'a-'));
    const f = join(d, 'out.json');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    await writeFileAtomic(f, ['{"a":', 1, '}'].map(String));
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['out.json']);
  });

  it('a failure while producing the content leaves the previous file and no temporary file', async () => {
    const d = mkdtempSync(join(dir, 'b-'));
    const f = join(d, 'out.csv');
    writeFileSync(f, 'previous\n');
    function* broken(): Generator<string> {
      yield 'a'.repeat(2 << 20); // past the 1 MiB write batch: bytes reach the temporary file
      throw new Error('generator failed');
    }
    await expect(writeFileAtomic(f, broken())).rejects.toThrow(/generator failed/);
    expect(readFileSync(f, 'utf8')).toBe('previous\n');
    expect(readdirSync(d)).toEqual(['out.csv']);
  });

  it('removeTemporaryFiles removes the files of writes in progress', async () => {
    const d = mkdtempSync(join(dir, 'c-'));
    const f = join(d, 'big.json');
    writeFileSync(f, 'old');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<string> {
      yield 'x'.repeat(2 << 20);
      await gate;
      yield 'y';
    }
    const writing = writeFileAtomic(f, slow());
    while (!readdirSync(d).some((n) => n.endsWith('.tmp'))) await new Promise((r) => setTimeout(r, 5));
    removeTemporaryFiles();
    expect(readdirSync(d)).toEqual(['big.json']);
    release();
    await expect(writing).rejects.toBeInstanceOf(WeightWatcherError);
    expect(readFileSync(f, 'utf8')).toBe('old');
  });
});

describe('makeDirectory', () => {
  it('creates missing levels one by one', async () => {
    const target = join(dir, 'm', 'n', 'o');
    await makeDirectory(target);
    expect(statSync(target).isDirectory()).toBe(true);
    await makeDirectory(target); // exists: fine
  });

  it('a file in the way is an error naming it', async () => {
    const f = join(dir, 'plainfile');
    writeFileSync(f, '');
    await expect(makeDirectory(join(f, 'sub'))).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringMatching(/plainfile is a file/),
    });
  });

  it.skipIf(!haveProc)('a path under /proc fails at once (recursive mkdir spins on it)', async () => {
    await expect(makeDirectory('/proc/ww-test/sub')).rejects.toMatchObject({ code: 'E_IO' });
  });
});

describe('checkOutputs', () => {
  const model = writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'a.weight', shape: [20, 10], data: dense(20, 10) }]);
  const hf = join(dir, 'hf');
  mkdirSync(hf);
  writeSafetensors(join(hf, 'model.safetensors'), [{ name: 'a.weight', shape: [20, 10], data: dense(20, 10) }]);
  writeFileSync(join(hf, 'config.json'), '{}');
  writeFileSync(join(hf, 'model.safetensors.index.json'), '{"weight_map": {}}');
  const usage = (p: Promise<unknown>, re: RegExp) =>
    expect(p).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(re) });

  it('accepts new and existing files in writable folders, and stdout once', async () => {
    writeFileSync(join(dir, 'exists.json'), '{}');
    await checkOutputs(
      [
        { flag: '--json', path: join(dir, 'exists.json'), kind: 'file', stdout: true },
        { flag: '--csv', path: '-', kind: 'file', stdout: true },
        { flag: '--plot', path: join(dir, 'new', 'plots'), kind: 'folder' },
        undefined,
      ],
      [model],
    );
  });

  it('refuses the input model, its hard links and symlinks, and weight files of an input folder', async () => {
    await usage(checkOutputs([{ flag: '--json', path: model, kind: 'file' }], [model]), /--json .*model\.safetensors: is the input model/);
    const link = join(dir, 'link.safetensors');
    symlinkSync(model, link);
    await usage(checkOutputs([{ flag: '--csv', path: link, kind: 'file' }], [model]), /is the input model/);
    await usage(
      checkOutputs([{ flag: '--json', path: join(hf, 'model.safetensors'), kind: 'file' }], [hf]),
      /is a file of the input model/,
    );
    await usage(
      checkOutputs([{ flag: '--json', path: join(hf, 'model.safetensors.index.json'), kind: 'file' }], [hf]),
      /is a file of the input model/,
    );
    // Other files in the model's folder may be replaced.
    await checkOutputs([{ flag: '--json', path: join(hf, 'config.json'), kind: 'file' }], [hf]);
  });

  it('refuses stdout twice, stdout for files that need a name, and two outputs on one path', async () => {
    await usage(
      checkOutputs(
        [
          { flag: '--json', path: '-', kind: 'file', stdout: true },
          { flag: '--csv', path: '-', kind: 'file', stdout: true },
        ],
        [],
      ),
      /stdout \('-'\) can take only one output: --json and --csv/,
    );
    await usage(checkOutputs([{ flag: '--report', path: '-', kind: 'file' }], []), /--report cannot write to stdout/);
    const p = join(dir, 'same.png');
    await usage(
      checkOutputs(
        [
          { flag: '--json', path: p, kind: 'file' },
          { flag: '--plot', path: join(dir, 'x.png'), kind: 'file', siblings: [p] },
        ],
        [],
      ),
      /--json and --plot both write/,
    );
  });

  it('a file may go into the --plot folder the same run creates', async () => {
    const plots = join(dir, 'new-plots');
    await checkOutputs(
      [
        { flag: '--plot', path: plots, kind: 'folder' },
        { flag: '--report', path: join(plots, 'report.html'), kind: 'file' },
      ],
      [],
    );
    await usage(
      checkOutputs([{ flag: '--report', path: join(plots, 'report.html'), kind: 'file' }], []),
      /folder .*new-plots does not exist/,
    );
  });

  it('refuses a folder for a file, a file for a folder, a missing parent', async () => {
    await usage(checkOutputs([{ flag: '--json', path: dir, kind: 'file' }], []), /is a folder/);
    await usage(checkOutputs([{ flag: '--plot', path: model, kind: 'folder' }], []), /is a file, not a folder/);
    await usage(
      checkOutputs([{ flag: '--csv', path: join(dir, 'missing', 'x.csv'), kind: 'file' }], []),
      /folder .*missing does not exist/,
    );
    await usage(checkOutputs([{ flag: '--csv', path: join(model, 'x.csv'), kind: 'file' }], []), /model\.safetensors is not a folder/);
  });

  it.skipIf(!haveProc)('probes folders that refuse new files (root passes access(); /proc does not)', async () => {
    await usage(checkOutputs([{ flag: '--report', path: '/proc/r.html', kind: 'file' }], []), /cannot create files in \/proc/);
    await usage(checkOutputs([{ flag: '--plot', path: '/proc/plots/a', kind: 'folder' }], []), /cannot create a folder in \/proc/);
  });
});

describe('argument parsing', () => {
  const opts = { ...SELECTION_OPTIONS, ...OUTPUT_OPTIONS, xmax: { type: 'string', description: '' } } as const;
  it('values may start with a dash, unless they are one of the flags', () => {
    expect(parse(['m', '--layers', '-fc1'], opts).values.layers).toBe('-fc1');
    expect(parse(['m', '--layers', '-h.0.attn.c_attn,-3'], opts).values.layers).toBe('-h.0.attn.c_attn,-3');
    expect(parse(['m', '--xmax', '-1'], opts).values.xmax).toBe('-1');
    expect(parse(['m', '--layers=-q'], opts).values.layers).toBe('-q');
    expect(() => parse(['m', '--layers', '-q'], opts)).toThrow(WeightWatcherError);
  });

  it('--layers lists: ids, ranges, names, types; an empty list is an error', () => {
    expect(parseLayers('2, 5,-3,dense,2-5,-fc1')).toEqual([2, 5, -3, 'dense', '2-5', '-fc1']);
    expect(() => parseLayers(',')).toThrow(/needs at least one id, name or type/);
    expect(() => parseLayers(' ')).toThrow(/needs at least one/);
  });
});

describe('JSON output and terminal text', () => {
  it('jsonChunks produces exactly the text of toJson', () => {
    const rows = [
      { layer_id: 0, name: 'a"b\nc', alpha: NaN, D: 0.1 },
      { layer_id: 1, name: 'x', alpha: 3, D: Infinity },
    ];
    const meta = { source: 's', skipped: [{ layer_id: 2, name: 'n', kind: 'type', reason: 'r' }], nested: { list: [1, 2, { a: null }] } };
    for (const payload of [
      { details: rows, summary: { alpha: 3 }, meta },
      { details: [], summary: {}, meta: {} },
    ]) {
      expect([...jsonChunks(payload)].join('')).toBe(toJson(payload));
    }
  });

  it('escapeControl makes ESC, OSC, newlines, DEL, C1 and bidi overrides visible', () => {
    expect(escapeControl('\x1b]0;pwned\x07title')).toBe('\\x1b]0;pwned\\x07title');
    expect(escapeControl('a\nb\tc\rd')).toBe('a\\nb\\tc\\rd');
    expect(escapeControl('x\x7f\x9by\u202ez')).toBe('x\\x7f\\x9by\\u202ez');
    expect(escapeControl('line\nnext\x1b', { keepNewlines: true })).toBe('line\nnext\\x1b');
    expect(escapeControl('plain héllo 名字 😀')).toBe('plain héllo 名字 😀');
  });
});
