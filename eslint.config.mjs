// @ts-check
/**
 * ESLint 10 flat config: @eslint/js recommended + typescript-eslint recommended (syntax-only presets, not the
 * type-checked ones, so `npm run lint` stays fast), relaxed where the rules fight NestJS / TypeORM idioms.
 */
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node.js globals, listed here rather than through the `globals` package (not a dependency of this project). */
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'global',
    'globalThis',
    '__dirname',
    '__filename',
    'require',
    'module',
    'exports',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'URL',
    'URLSearchParams',
    'TextEncoder',
    'TextDecoder',
    'AbortController',
    'AbortSignal',
    'Event',
    'EventTarget',
    'fetch',
    'Request',
    'Response',
    'Headers',
    'FormData',
    'Blob',
    'performance',
    'crypto',
    'BroadcastChannel',
    'MessageChannel',
    'MessagePort',
    'WebAssembly',
    'NodeJS',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  {
    ignores: ['**/dist/', '**/node_modules/', 'data/', 'coverage/'],
  },
  {
    files: ['src/**/*.ts', 'libs/**/*.ts', 'examples/**/*.ts', 'test/**/*.ts', 'seeds/**/*.ts', 'migrations/**/*.ts', 'bench/**/*.{ts,mjs,js}', 'scripts/**/*.{mjs,js}', '*.mjs'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: nodeGlobals,
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'warn',
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'all', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // A Nest provider class and an interface of the same name is a deliberate pattern (e.g. typed config tokens).
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The dashboard's browser code and its build script, held to the same rules (TypeScript's own checker,
    // `npm run typecheck`, knows the DOM's globals, so no list of browser globals is needed here).
    files: ['dashboard/**/*.ts', 'dashboard/**/*.mjs'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: nodeGlobals,
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'warn',
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'all', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
);
