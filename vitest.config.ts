import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// Unit tests (pure logic) and integration tests (HTTP through app.inject on a real database).
// Integration tests run on PGlite always, and again on PostgreSQL when TEST_DATABASE_URL is set.
const integration = (name: string, db: 'pglite' | 'postgres') => ({
  extends: true as const,
  test: {
    name,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/sdk/src/**/*.test.ts'],
    exclude: ['**/*.unit.test.ts', 'node_modules/**'],
    env: { TEST_DB: db },
    // Migrates once per run into a template that each test file's database is copied from.
    globalSetup: ['test/global-setup.ts'],
    // Files run one after another in each worker without a fresh module graph: importing the app
    // (Fastify, the Stripe SDK, every schema) once per worker instead of once per file halves the
    // suite's CPU time. It is safe because nothing here mocks modules or stubs globals; every app
    // has its own database, metrics registry and rate-limit store, and closes them.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})

// CI must run the PostgreSQL project too: a missing server fails the run instead of skipping it.
if (process.env.CI === 'true' && !process.env.TEST_DATABASE_URL) {
  throw new Error('CI=true needs TEST_DATABASE_URL (scripts/dev-services.sh prints it)')
}

export default defineConfig({
  test: {
    // One test file per core. Vitest's default leaves one core free, which on a 2-core machine runs
    // the files one at a time while many of them wait on sleeps, sockets and child processes.
    maxWorkers: availableParallelism(),
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.unit.test.ts', 'test/**/*.unit.test.ts', 'packages/sdk/src/**/*.unit.test.ts'],
        },
      },
      integration('pglite', 'pglite'),
      ...(process.env.TEST_DATABASE_URL ? [integration('postgres', 'postgres')] : []),
    ],
  },
})
