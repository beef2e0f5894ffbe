import { defineConfig } from 'vitest/config';

// Mutation testing (npm run mutate) runs the unit project only: the same globs as vitest.config.ts's `unit`
// project, without the integration project (a kube-apiserver per test file would make every mutant minutes long).
// Also left out: the TDX bit-flip fuzz (tdx/mutation.test.ts, ~27 s, covering every TDX mutant). A mutant only
// that fuzz kills is a check no targeted test pins down, which is what the run is meant to show.
// CAI_MUTATE_TESTS narrows the test files (comma-separated globs) for a per-directory run, e.g. only the TDX
// verifier's own tests while mutating attestation/tdx: vitest re-collects every related test file for each mutant.
const only = process.env.CAI_MUTATE_TESTS?.split(',').filter(Boolean);

export default defineConfig({
  test: {
    include: only ?? ['operator/src/**/*.test.ts', 'operator/test/unit/**/*.test.ts'],
    exclude: ['operator/src/attestation/tdx/mutation.test.ts', '**/node_modules/**'],
    testTimeout: 60_000,
    // Test files are re-run for every mutant; re-importing them (and @peculiar/x509, pkijs, zod…) each time is
    // most of a mutant's cost. Stryker switches mutants at run time, so shared module instances are safe here.
    isolate: false,
  },
});
