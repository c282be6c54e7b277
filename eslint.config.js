// ESLint for the whole monorepo (flat config). typescript-eslint's `recommended` rules need no type
// information, so linting stays fast; tsc (`npm run typecheck`) does the type checking. Layout is
// Prettier's job (.prettierrc.json), so no formatting rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/',
      '**/node_modules/',
      '**/coverage/',
      '**/runs/',
      '.nx/',
      '**/.readme-blocks/',
      '**/test-output/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter or binding kept on purpose (an interface's argument, a field dropped
      // from a rest spread).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      // A value imported only for its type would keep a runtime import (verbatimModuleSyntax).
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      eqeqeq: ['error', 'smart'],
      // Syntactic only: it takes the compiled step's own `apply(grads)` for Function.prototype.apply.
      'prefer-spread': 'off',
    },
  },
  {
    // Libraries never print: the CLI owns the terminal. Tests may print measurements.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
