/** A folder of checkpoints given where one model is expected: the error points to the subfolders and to sweep. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { expectError } from '../helpers/errors.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-ckpts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a folder of checkpoints', () => {
  it('names the subfolders that hold models and suggests sweep', async () => {
    for (const step of [200, 1000, 100]) {
      mkdirSync(join(dir, `checkpoint-${step}`));
      writeSafetensors(join(dir, `checkpoint-${step}`, 'model.safetensors'), [
        { name: 'fc.weight', shape: [4, 3], data: new Float32Array(12).fill(1) },
      ]);
    }
    mkdirSync(join(dir, 'logs'));
    await expectError(openModel(dir), 'E_FORMAT', '3 subfolders checkpoint-100, checkpoint-200, checkpoint-1000 hold a model');
    await expectError(openModel(dir), 'E_FORMAT', `weightwatcher sweep ${join(dir, '*')}`);
  });

  it('an empty folder still lists the supported formats', async () => {
    const empty = join(dir, 'logs');
    await expectError(openModel(empty), 'E_FORMAT', 'no model weights found in this folder (supported:');
  });
});
