import { defineConfig } from 'vitest/config';

// Two projects: fast pure unit tests, and integration tests that start a real kube-apiserver + etcd
// (one control plane per test file; files run in parallel up to the worker count).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['operator/src/**/*.test.ts', 'operator/test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['operator/test/integration/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
