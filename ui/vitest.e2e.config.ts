import { defineConfig } from 'vitest/config';

// Browser tests against a real `perch serve`; see e2e/harness.ts.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    environment: 'node',
    // Never fail on wall-clock time: the tests wait on events and selectors.
    testTimeout: 15 * 60_000,
    hookTimeout: 10 * 60_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
