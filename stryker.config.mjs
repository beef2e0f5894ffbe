// StrykerJS over the trust-path verifiers (npm run mutate; not part of CI: a full run takes hours on 2 cores).
// One directory at a time: npm run mutate -- --mutate 'operator/src/attestation/tdx/**/*.ts,!**/*.test.ts'
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'operator/src/attestation/tdx/**/*.ts',
    'operator/src/attestation/nvidia/**/*.ts',
    'operator/src/release/kbs/**/*.ts',
    'operator/src/release/sealing/**/*.ts',
    '!**/*.test.ts',
  ],
  coverageAnalysis: 'perTest',
  // The machine is shared; one test process keeps the run from starving everything else.
  concurrency: 1,
  timeoutMS: 20_000,
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
