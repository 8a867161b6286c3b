import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type LocalStack, startLocalStack } from "../../scripts/local/stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { url: string; env: Record<string, string>; queues: Record<string, string> };
  }
}

let stack: LocalStack | undefined;
let stateDir: string | undefined;

/** One local stack for the whole run, on free ports, so that a running `npm start` never collides. */
export async function setup(project: TestProject) {
  stateDir = mkdtempSync(join(tmpdir(), "chat-backup-test-"));
  stack = await startLocalStack({
    stateDir,
    httpPort: 0,
    ports: { postgres: 0, dynamodb: 0, sqs: 0, s3: 0 },
    dbPassword: "test-only",
    pollQueues: false,
    env: { LOG_LEVEL: "WARN", POWERTOOLS_METRICS_DISABLED: "true", BCRYPT_COST: "4" },
  });
  project.provide("stack", { url: stack.url, env: stack.env, queues: stack.queues });
}

export async function teardown() {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}
