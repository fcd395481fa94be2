// ESLint flat config. Besides style and correctness it enforces the architecture:
// arrows point inward (renderer → contract types only; core and native-models never import Electron;
// relative imports never point outward, see INWARD_LAYERS).
import { builtinModules } from 'node:module';
import path from 'node:path';

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
      // Where a relative import may point is arch/inward-imports' job (it resolves the path).
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

/**
 * Where each room's relative imports may point, as repo paths: a trailing `/` is a folder, otherwise
 * a module without its extension. Checked on the resolved path, so `../main.js` from electron/core/
 * is caught although the string never says "electron/".
 */
export const INWARD_LAYERS = {
  'electron/core/': {
    allow: ['electron/core/', 'electron/contract', 'native-models/'],
    message:
      'electron/core/ may import only electron/core/, electron/contract.ts and native-models/ (the shells, CLI, bench and renderer depend on it, not the other way round)',
  },
  'native-models/': {
    allow: ['native-models/'],
    message: 'native-models/ is the innermost room: it may import only native-models/',
  },
  'renderer/': {
    allow: ['renderer/', 'electron/contract'],
    message:
      'renderer/ may import only renderer/ and the types of electron/contract.ts; everything else runs on the main side',
  },
};

const repoRoot = import.meta.dirname;
const stripExt = (p) => p.replace(/\.(?:[cm]?[jt]s|svelte|json)$/, '');

/** Resolves a relative specifier of `filename` to a repo path, or null for packages. */
function resolveRelative(filename, spec) {
  if (!spec.startsWith('./') && !spec.startsWith('../') && spec !== '.' && spec !== '..') return null;
  return path
    .relative(repoRoot, path.resolve(path.dirname(filename), spec))
    .split(path.sep)
    .join('/');
}

const inwardImports = {
  meta: {
    type: 'problem',
    docs: { description: 'Relative imports may not point outward from their architectural room.' },
    schema: [
      {
        type: 'object',
        properties: { allow: { type: 'array', items: { type: 'string' } }, message: { type: 'string' } },
        required: ['allow', 'message'],
        additionalProperties: false,
      },
    ],
    messages: { outward: "{{message}}: '{{spec}}' resolves to {{target}}." },
  },
  create(context) {
    const { allow, message } = context.options[0];
    const check = (source) => {
      if (!source || typeof source.value !== 'string') return;
      const target = resolveRelative(context.filename, source.value);
      if (target === null) return;
      const stem = stripExt(target);
      const allowed = allow.some((a) => (a.endsWith('/') ? stem === a.slice(0, -1) || stem.startsWith(a) : stem === a));
      if (!allowed) {
        context.report({
          node: source,
          messageId: 'outward',
          data: { message, spec: source.value, target: target.startsWith('..') ? 'outside the repo' : target },
        });
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      TSImportEqualsDeclaration: (node) => check(node.moduleReference.expression),
      TSImportType: (node) => check(node.argument?.literal ?? node.source),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require') check(node.arguments[0]);
      },
    };
  },
};

const inwardImportBlocks = Object.entries(INWARD_LAYERS).map(([room, options]) => ({
  files: [`${room}**/*.{ts,mts,cts,js,mjs,cjs,svelte}`],
  rules: { 'arch/inward-imports': ['error', options] },
}));

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
    // The renderer's contract checks parse what arrives with the contract's zod schemas: the one
    // renderer module that may import the contract's values (zod is its only dependency).
    files: ['renderer/src/lib/contract-checks.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          ...RENDERER_IMPORT_RULE[1],
          patterns: RENDERER_IMPORT_RULE[1].patterns.filter((p) => !p.allowTypeImports),
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    files: ['electron/core/**/*.ts', 'native-models/**/*.ts', 'native-models/**/*.cjs'],
    rules: { '@typescript-eslint/no-restricted-imports': NO_ELECTRON_RULE },
  },
  { plugins: { arch: { rules: { 'inward-imports': inwardImports } } } },
  ...inwardImportBlocks,
);
