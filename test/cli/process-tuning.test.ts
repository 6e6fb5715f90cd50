/** The CLI's process-wide settings (src/cli/process-tuning.ts): applied by default, a user's own value kept. */
import { describe, expect, it } from 'vitest';
import { processTuning } from '../../src/cli/process-tuning.js';

describe('processTuning', () => {
  it('raises V8 tier-up budget and keeps mimalloc from purging by default', () => {
    expect(processTuning([], {})).toEqual({ v8Flags: ['--interrupt-budget=600000'], env: { MIMALLOC_PURGE_DELAY: '-1' } });
  });

  it('keeps a budget given to node (node refuses it in NODE_OPTIONS)', () => {
    expect(processTuning(['--interrupt-budget=1000'], {}).v8Flags).toEqual([]);
    expect(processTuning(['--max-old-space-size=4096', '--interrupt_budget=1000'], {}).v8Flags).toEqual([]);
    expect(processTuning(['--interrupt-budget-for-feedback-allocation=10'], {}).v8Flags).toEqual(['--interrupt-budget=600000']);
  });

  it('keeps a purge delay the user set, even an empty one', () => {
    expect(processTuning([], { MIMALLOC_PURGE_DELAY: '10' }).env).toEqual({});
    expect(processTuning([], { MIMALLOC_PURGE_DELAY: '' }).env).toEqual({});
  });
});
