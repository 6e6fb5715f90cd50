/** File-system failures are said in words, with the path and what to do (not a raw errno). */
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { RandomAccessFile } from '../../src/formats/file.js';
import { fsError } from '../../src/shared/fs-errors.js';
import { expectError } from '../helpers/errors.js';

describe('file-system errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-fs-'));
  symlinkSync(join(dir, 'b'), join(dir, 'a'));
  symlinkSync(join(dir, 'a'), join(dir, 'b'));

  it('a symbolic link loop is called a loop, not a missing file', async () => {
    await expectError(openModel(join(dir, 'a')), 'E_NOT_FOUND', 'symbolic link loop');
    await expectError(RandomAccessFile.open(join(dir, 'a')), 'E_NOT_FOUND', 'symbolic link loop');
  });

  it('a missing path is named', async () => {
    await expectError(openModel(join(dir, 'nope.safetensors')), 'E_NOT_FOUND', 'no such file or folder');
  });

  it('an unreadable file says permission denied and how to check (root reads anything, so the errno is given)', () => {
    const e = fsError('/m/model.safetensors', Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
    expect(e.code).toBe('E_IO');
    expect(e.message).toBe(
      '/m/model.safetensors: permission denied: this user may not read it (check its permissions, e.g. `ls -l`; `chmod a+r` gives read access)',
    );
    expect(e.file).toBe('/m/model.safetensors');
  });

  it('an unknown errno keeps its name', () => {
    expect(fsError('/x', Object.assign(new Error('odd'), { code: 'EODD' })).message).toBe('/x: cannot open (EODD)');
  });
});
