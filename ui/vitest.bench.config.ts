import { defineConfig } from 'vitest/config';

// Benchmarks against a real `perch serve` (bench/*.bench.ts): they print
// figures for docs/bench.md and are not part of the test run.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.ts'],
    environment: 'node',
    testTimeout: 15 * 60_000,
    hookTimeout: 10 * 60_000,
    fileParallelism: false,
  },
});
