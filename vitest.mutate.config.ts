import { defineConfig } from 'vitest/config';

// Mutation testing (npm run mutate) runs the unit project only: the same globs as vitest.config.ts's `unit`
// project, without the integration project (a kube-apiserver per test file would make every mutant minutes long).
// Also left out: the TDX bit-flip fuzz (tdx/mutation.test.ts, ~27 s, covering every TDX mutant). A mutant only
// that fuzz kills is a check no targeted test pins down, which is what the run is meant to show.
export default defineConfig({
  test: {
    include: ['operator/src/**/*.test.ts', 'operator/test/unit/**/*.test.ts'],
    exclude: ['operator/src/attestation/tdx/mutation.test.ts', '**/node_modules/**'],
    testTimeout: 60_000,
  },
});
