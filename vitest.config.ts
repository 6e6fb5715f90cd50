import { defineConfig } from 'vitest/config';

// Native addons and worker_threads do not mix well: run every test file in a forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // Type tests of the public API (test/types/*.test-d.ts): compiled, not run, against the built
    // declarations in dist/.
    typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'], tsconfig: 'test/types/tsconfig.json' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
