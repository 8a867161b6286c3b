import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/global-setup.ts"],
    setupFiles: ["tests/support/setup-env.ts"],
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
