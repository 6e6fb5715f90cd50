// ESLint flat config. TypeScript (src/, test/, bench/, scripts/, vitest.config.ts): typescript-eslint's
// type-aware recommended rules (no floating/misused promises, no unsafe any, ...). The few plain .js/.mjs
// files (this config, scripts/*.mjs, test/helpers/*.mjs) are outside the TypeScript project: they get the
// untyped rules only, with Node's globals.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = { process: 'readonly', console: 'readonly', URL: 'readonly' };

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'prebuilds/', 'test-results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
);
