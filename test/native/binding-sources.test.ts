/**
 * binding.gyp lists its C++ sources explicitly (issue 18): a build never picks up a stray file, and
 * this test fails when a source under native/core or native/napi is missing from the list (or the
 * list names a file that does not exist). native/test/ holds the sanitizer driver, never the addon.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

describe('binding.gyp', () => {
  it('lists every native/core and native/napi source, and only those', () => {
    const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')) as { targets: { sources: string[] }[] };
    const listed = gyp.targets[0]!.sources;
    expect(listed.every((s) => /^native\/(core|napi)\/[\w-]+\.cc$/.test(s)), 'plain paths, no commands').toBe(true);
    const onDisk = ['core', 'napi'].flatMap((d) =>
      readdirSync(join(root, 'native', d))
        .filter((f) => f.endsWith('.cc'))
        .map((f) => `native/${d}/${f}`),
    );
    expect([...listed].sort()).toEqual(onDisk.sort());
  });
});
