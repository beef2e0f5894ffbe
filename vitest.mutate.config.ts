import { defineConfig } from 'vitest/config';

// Mutation testing (npm run mutate) runs the unit project only: the same globs as vitest.config.ts's `unit`
// project, without the integration project (a kube-apiserver per test file would make every mutant minutes long).
export default defineConfig({
  test: {
    include: ['operator/src/**/*.test.ts', 'operator/test/unit/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
