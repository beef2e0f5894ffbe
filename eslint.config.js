// Lint: typescript-eslint's type-aware recommended rules; no `any` in what the project exports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'charts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      // vitest's toMatchObject/objectContaining compare a RegExp as an object with no own keys: any value passes.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name=/^(toMatchObject|objectContaining)$/] Property > Literal[regex]",
          message: 'A RegExp inside toMatchObject/objectContaining matches anything; use expect.stringMatching(/…/).',
        },
      ],
    },
  },
);
