import { rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type LocalStack, ROOT_DIR, startScratchStack } from "../../scripts/local/stack.ts";
import { mergeCallRecords } from "./aws-calls.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { url: string; env: Record<string, string>; queues: Record<string, string> };
  }
}

let stack: LocalStack | undefined;
let callRecordDir: string | undefined;

/** One local stack for the whole run, on free ports, so that a running `npm start` never collides. */
export async function setup(project: TestProject) {
  // Every AWS SDK command a function issues in this run, one file per process (tests/iam.test.ts).
  callRecordDir = join(ROOT_DIR, ".local", "aws-calls", `run-${Date.now()}-${process.pid}`);
  stack = await startScratchStack("test", {
    // The suites send requests as fast as they can; the stage throttle has a test of its own.
    // So do the per-application limits (tests/fair-use.test.ts gives its applications their own).
    env: {
      BCRYPT_COST: "4",
      API_THROTTLE_RATE: "100000",
      API_THROTTLE_BURST: "100000",
      APP_REQUESTS_PER_SECOND: "100000",
      APP_MAX_OPEN_JOBS: "100000",
      AUTH_FAILURES_PER_MINUTE: "100000",
      AWS_CALL_RECORD_DIR: callRecordDir,
    },
  });
  project.provide("stack", { url: stack.url, env: stack.env, queues: stack.queues });
}

/** Stops the stack; the run's records end in `.local/aws-calls.ndjson`, one line per distinct call. */
export async function teardown() {
  await stack?.stop();
  if (callRecordDir) {
    mergeCallRecords(callRecordDir, join(ROOT_DIR, ".local", "aws-calls.ndjson"));
    rmSync(callRecordDir, { recursive: true, force: true });
  }
}
