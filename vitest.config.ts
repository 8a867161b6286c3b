import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        // The fast tier: the job lifecycle and its consumer against in-memory fakes, no emulators.
        test: {
          name: "unit",
          include: ["tests/**/*.unit.test.ts"],
          setupFiles: ["tests/support/unit-env.ts"],
        },
      },
      {
        extends: true,
        // The job store on Amazon's DynamoDB Local (needs Java; skipped with a note without it).
        test: {
          name: "dynamodb-local",
          include: ["tests/**/*.dynamodb-local.test.ts"],
          setupFiles: ["tests/support/unit-env.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["tests/**/*.test.ts"],
          exclude: ["tests/**/*.unit.test.ts", "tests/**/*.dynamodb-local.test.ts"],
          globalSetup: ["tests/support/global-setup.ts"],
          setupFiles: ["tests/support/setup-env.ts"],
        },
      },
    ],
    // Test files share one local stack (emulators and PostgreSQL) and its queues: run them one
    // after another so that a file never consumes another file's queue messages.
    fileParallelism: false,
    testTimeout: 60000,
    hookTimeout: 120000,
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: ".local/test-results.json" }]]
      : ["default"],
  },
});
