/** Assert that a promise rejects with a WeightWatcherError of one of `codes`, whose message contains `fragments`. */
import { expect } from 'vitest';
import { WeightWatcherError } from '../../src/index.js';

export async function expectError(
  p: Promise<unknown>,
  codes: string | readonly string[],
  ...fragments: string[]
): Promise<WeightWatcherError> {
  const outcome = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  const allowed = typeof codes === 'string' ? [codes] : codes;
  if (outcome === undefined) throw new Error(`expected a WeightWatcherError (${allowed.join('/')}), got success`);
  expect(outcome).toBeInstanceOf(WeightWatcherError);
  const w = outcome as WeightWatcherError;
  expect(allowed, w.message).toContain(w.code);
  for (const f of fragments) expect(w.message).toContain(f);
  return w;
}
