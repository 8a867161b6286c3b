import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LambdaRuntime } from "./local/lambda-runtime.ts";
import { loadServiceDefinition } from "./local/serverless-definition.ts";
import { ROOT_DIR } from "./local/stack.ts";

/**
 * `npm run nightly [-- --day YYYY-MM-DD]`: fires the nightly export once against the stack that
 * `npm start` is running, exactly as the EventBridge schedule would (or as a rerun for one day).
 * The jobs land on the running stack's export queue and its pollers process them.
 */
const { values } = parseArgs({ options: { day: { type: "string" } } });

const stateDir = process.env.LOCAL_STATE_DIR ?? join(ROOT_DIR, ".local");
const stackFile = join(stateDir, "stack.json");
if (!existsSync(stackFile)) {
  console.error(`no running local stack (${stackFile} is missing): start it with npm start`);
  process.exit(1);
}
const stack = JSON.parse(readFileSync(stackFile, "utf8")) as {
  url: string;
  env: Record<string, string>;
};
const reachable = await fetch(`${stack.url}/api/v2.1/rest/exports`).then(
  () => true,
  () => false,
);
if (!reachable) {
  console.error(`the local stack at ${stack.url} is not running: start it with npm start`);
  process.exit(1);
}

// The function reads its configuration from the environment on first use, like in Lambda.
Object.assign(process.env, stack.env, {
  LOG_LEVEL: process.env.LOG_LEVEL ?? "WARN",
  POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
});
const runtime = new LambdaRuntime(ROOT_DIR, loadServiceDefinition(ROOT_DIR).functions);
const now = new Date();
const event = {
  version: "0",
  id: `local-${now.getTime()}`,
  "detail-type": "Scheduled Event",
  source: "aws.events",
  time: now.toISOString(),
  detail: values.day ? { day: values.day } : {},
};

type Outcome = {
  appId: string;
  resource: string;
  day: string;
  timezone: string;
  outcome: string;
  jobId?: string;
};
let exitCode = 0;
try {
  const { outcomes } = (await runtime.invoke("nightlyExport", event)) as { outcomes: Outcome[] };
  if (outcomes.length === 0) {
    console.log(
      "no application has nightly export switched on (npm run app -- nightly <appId> on)",
    );
  }
  for (const o of outcomes) {
    const what = o.outcome === "created" ? `created export ${o.jobId}` : "already exported";
    console.log(`${o.appId}  ${o.resource.padEnd(8)} ${o.day} (${o.timezone})  ${what}`);
  }
  const created = outcomes.filter((o) => o.outcome === "created").length;
  console.log(`${created} export job(s) created; the running stack processes them now.`);
} catch (error) {
  const details = (error as { details?: string[] }).details ?? [];
  console.error(`nightly export failed: ${[(error as Error).message, ...details].join("; ")}`);
  exitCode = 1;
}
const { closeChatDb } = await import("../lib/chat-db/pool.ts");
await closeChatDb();
process.exit(exitCode);
