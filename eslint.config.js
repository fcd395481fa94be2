// ESLint flat config. Besides style and correctness it enforces the architecture:
// arrows point inward (renderer → contract types only; core and native-models never import Electron).
import { builtinModules } from 'node:module';

import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));

export const RENDERER_IMPORT_RULE = [
  'error',
  {
    paths: [
      {
        name: 'electron',
        message:
          'renderer/ runs in a browser context: reach the main side through window.spact (electron/contract.ts).',
      },
      ...nodeBuiltins.map((name) => ({
        name,
        message: 'renderer/ runs in a browser context: Node built-ins are not available.',
      })),
    ],
    patterns: [
      { group: ['node:*'], message: 'renderer/ runs in a browser context: Node built-ins are not available.' },
      {
        group: [
          '**/electron/core/**',
          '**/electron/main*',
          '**/electron/preload*',
          '**/electron/cli/**',
          '**/native-models/**',
        ],
        message: 'renderer/ may import only the types of electron/contract.ts; everything else runs on the main side.',
      },
      {
        group: ['**/electron/contract*'],
        allowTypeImports: true,
        message: 'renderer/ may import only types from electron/contract.ts (use `import type`).',
      },
    ],
  },
];

export const NO_ELECTRON_RULE = [
  'error',
  {
    paths: [
      {
        name: 'electron',
        message:
          'electron/core/ and native-models/ must not import Electron: they run in plain Node (CLI, browser mode, workers, tests). Only electron/main.ts and electron/preload.ts may.',
      },
    ],
    patterns: [
      {
        group: ['electron/*'],
        message: 'electron/core/ and native-models/ must not import Electron.',
      },
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'native-models/build/**',
      'test/e2e/screenshots/**',
      'test/fixtures/**',
      'bench/results/**',
      'bench/.cache/**',
      '**/*.d.ts.map',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended.map((c) => ({ ...c, files: c.files ?? ['**/*.svelte', '**/*.svelte.ts'] })),
  prettier,
  ...svelte.configs.prettier.map((c) => ({ ...c, files: c.files ?? ['**/*.svelte', '**/*.svelte.ts'] })),
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { '@typescript-eslint/no-restricted-imports': RENDERER_IMPORT_RULE },
  },
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    files: ['electron/core/**/*.ts', 'native-models/**/*.ts', 'native-models/**/*.cjs'],
    rules: { '@typescript-eslint/no-restricted-imports': NO_ELECTRON_RULE },
  },
);
