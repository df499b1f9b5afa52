import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no services and stays fast; `int` talks to the
// real Kafka, registry and PostgreSQL, which the global setup brings up.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          environment: 'node',
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Integration files share one broker and one PostgreSQL on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
