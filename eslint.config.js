import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.esbuild*/',
      '.serverless/',
      '.serverless-offline/',
      '.local-cloud/',
      'coverage/',
      'test-results/',
      'bench/results/',
      'dist/',
      'dashboard/dist/',
      // npm run mutate: its sandboxes while it runs, and its reports.
      '.stryker-tmp*/',
      'reports/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        process: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The page speaks only the documented protocol: types from shared/, and its pure backoff
    // helper; nothing else of the repo.
    files: ['dashboard/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/shared/**', '!**/shared/backoff'], allowTypeImports: true },
            { group: ['**/local/**', '**/handlers/**', '**/scripts/**'] },
          ],
        },
      ],
    },
  },
  {
    // Who may import whom (DESIGN.md): nothing of the offline cloud, the CLIs or the deploy-time
    // plugin in a Lambda bundle.
    files: ['handlers/**', 'shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '**/local/**',
            '../local/*',
            '**/scripts/**',
            '../scripts/*',
            '**/plugins/**',
            '../plugins/*',
          ],
        },
      ],
    },
  },
);
