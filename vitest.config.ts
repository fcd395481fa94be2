import { defineConfig } from 'vitest/config';

// Data folders are encrypted at rest; every test (and every child process it
// spawns, via process.env) unlocks them with this passphrase. Thread counts stay as configured
// (no shrinking while other test files keep the CPUs busy): results of the engine are then the
// same from run to run; adaptive-threads.test.ts turns it back on for itself.
const env = { SPACT_PASSPHRASE: 'spact test passphrase', SPACT_ADAPTIVE_THREADS: '0' };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          env,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The benches end to end at their smallest size (minutes): CI runs them as their own stage
        // (scripts/test.mjs), `npm run test:unit` does not.
        test: {
          name: 'bench-smoke',
          include: ['test/bench-smoke/**/*.test.ts'],
          environment: 'node',
          env,
          testTimeout: 900_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          env,
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
