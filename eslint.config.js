// ESLint flat config. TypeScript (src/, test/, bench/, scripts/, vitest.config.ts): typescript-eslint's
// type-aware recommended rules (no floating/misused promises, no unsafe any, ...). The few plain .js/.mjs
// files (this config, scripts/*.mjs, test/helpers/*.mjs) are outside the TypeScript project: they get the
// untyped rules only, with Node's globals.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = { process: 'readonly', console: 'readonly', URL: 'readonly' };

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'dist-cjs/',
      'build/',
      'node_modules/',
      'prebuilds/',
      'coverage/',
      'test-results/',
      'test-artifacts/',
      'tmp/',
      'ww-img/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    rules: {
      // `async` functions without an await implement Promise-returning contracts (TensorStore.read,
      // Command.run, async iterables of tensors): `async` turns their throws into rejections, which
      // callers rely on. Dropping it would change behaviour, so the rule is off.
      '@typescript-eslint/require-await': 'off',
      // `const { a: _a, ...rest } = o` omits a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // vitest's asymmetric matchers (expect.any, expect.objectContaining, expect.stringMatching,
    // expect.closeTo) are typed `any`, so these two rules flag every use of them. The other
    // no-unsafe-* rules stay on in tests: a JSON.parse result used as any is still reported.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
);
