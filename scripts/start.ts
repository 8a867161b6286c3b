import { join } from "node:path";
// Before any AWS SDK request: every function runs in this one process, each invocation in its
// own log context.
import { invocationStore } from "./local/isolate-invocations.ts";
import { ROOT_DIR, startLocalStack } from "./local/stack.ts";

/** `npm start`: the whole service on this machine. `npm start -- --fresh` wipes local state first. */
const env = process.env;
const stateDir = env.LOCAL_STATE_DIR ?? join(ROOT_DIR, ".local");
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);

const started = Date.now();
const stack = await startLocalStack({
  stateDir,
  fresh: process.argv.includes("--fresh"),
  httpPort: port("PORT", 3000),
  ports: {
    postgres: port("LOCAL_PG_PORT", 5433),
    dynamodb: port("LOCAL_DYNAMODB_PORT", 8000),
    sqs: port("LOCAL_SQS_PORT", 9324),
    s3: port("LOCAL_S3_PORT", 4569),
    secretsManager: port("LOCAL_SECRETS_MANAGER_PORT", 4584),
  },
  dbPassword: env.LOCAL_DB_PASSWORD ?? "chat-local",
  awsInChildProcess: true,
  preloadFunctions: true,
  keepAwsState: true,
  invocationStore,
  demoApps: [
    {
      appId: env.DEMO_APP_ID ?? "demo-app",
      secret: env.DEMO_APP_SECRET ?? "demo-secret",
      name: "Demo app",
    },
    {
      appId: env.DEMO_APP_2_ID ?? "demo-app-2",
      secret: env.DEMO_APP_2_SECRET ?? "demo-secret-2",
      name: "Demo app 2",
    },
  ],
});

const db = stack.database;
console.log(
  [
    `chat data backup service is running (${Date.now() - started} ms)`,
    `  API          ${stack.url}/api/v2.1/rest/exports`,
    `  PostgreSQL   ${db.user}@${db.host}:${db.port}/${db.name}  (password: LOCAL_DB_PASSWORD, see docs/operations.md)`,
    `  Secrets Mgr  ${stack.env.AWS_ENDPOINT_URL_SECRETS_MANAGER}  login in ${stack.env.DATABASE_SECRET_ARN}`,
    `  DynamoDB     ${stack.env.AWS_ENDPOINT_URL_DYNAMODB}  table ${stack.env.JOBS_TABLE}`,
    `  SQS          ${stack.env.AWS_ENDPOINT_URL_SQS}`,
    `  S3           ${stack.env.AWS_ENDPOINT_URL_S3}  bucket ${stack.env.BUCKET_NAME}`,
    `  state        ${stateDir}`,
    "Ctrl-C stops everything.",
  ].join("\n"),
);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("stopping...");
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
