import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { InvokeStoreBase } from "@aws/lambda-invoke-store";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type EmulatorPorts, type LocalDatabase, startEmulators } from "./emulators.ts";
import { startHttpGateway } from "./http-gateway.ts";
import { LambdaRuntime } from "./lambda-runtime.ts";
import {
  functionEnvironment,
  LOCAL_CREDENTIALS,
  provision,
  provisionDatabaseSecret,
} from "./provision.ts";
import { startQueuePoller } from "./queue-poller.ts";
import { resumeOpenJobs } from "./resume-open-jobs.ts";
import { loadServiceDefinition } from "./serverless-definition.ts";

export const ROOT_DIR = resolve(import.meta.dirname, "..", "..");
const REGION = "us-east-1";

export interface DemoApp {
  appId: string;
  secret: string;
  name: string;
}

export interface LocalStackOptions {
  stateDir: string;
  /** 0 picks a free port. */
  httpPort: number;
  ports: EmulatorPorts;
  dbPassword: string;
  fresh?: boolean;
  /** Deliver queue messages to the consumer functions (off: tests drive the consumers). */
  pollQueues?: boolean;
  demoApps?: DemoApp[];
  /** Run the AWS emulators in a child process so that they get a core of their own. */
  awsInChildProcess?: boolean;
  /** The process's invocation store: every invocation gets its own log context (`npm start`). */
  invocationStore?: InvokeStoreBase;
  /** Extra environment for the functions (overrides the defaults). */
  env?: Record<string, string>;
  /** Load every function's code before answering (`npm start`): the first request is not slower. */
  preloadFunctions?: boolean;
  /** Extra PostgreSQL server settings (benchmarks). */
  postgresSettings?: Record<string, string>;
  /** Where the S3 emulator keeps its objects (default: under `stateDir`). */
  s3Dir?: string;
  /**
   * Keep DynamoDB's tables and S3's objects across restarts (`npm start`), and give jobs that were
   * open when the stack stopped their messages again; default: they start empty (tests).
   */
  keepAwsState?: boolean;
}

export interface LocalStack {
  url: string;
  env: Record<string, string>;
  /** The chat database's address and user; the password is in the secret DATABASE_SECRET_ARN. */
  database: LocalDatabase;
  runtime: LambdaRuntime;
  /** Queue URL by logical id (ExportQueue, ImportQueue, DeadLetterQueue). */
  queues: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Runs the whole service on this machine: emulators, resources from `serverless.yml`, chat
 * database migrations, demo applications, the HTTP API and the queue consumers.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const emulators = await startEmulators({
    stateDir: options.stateDir,
    ports: options.ports,
    dbPassword: options.dbPassword,
    fresh: options.fresh,
    awsInChildProcess: options.awsInChildProcess,
    postgresSettings: options.postgresSettings,
    s3Dir: options.s3Dir,
    keepAwsState: options.keepAwsState,
  });
  const cleanups: (() => Promise<void>)[] = [() => emulators.stop()];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const endpoints = {
      region: REGION,
      dynamodb: `http://127.0.0.1:${emulators.ports.dynamodb}`,
      sqs: `http://127.0.0.1:${emulators.ports.sqs}`,
      s3: `http://127.0.0.1:${emulators.ports.s3}`,
      secretsManager: `http://127.0.0.1:${emulators.ports.secretsManager}`,
    };
    const definition = loadServiceDefinition(ROOT_DIR, "local", { ...process.env, ...options.env });
    const visibilitySeconds = 30;
    const provisioned = await provision(definition, endpoints, {
      visibilityTimeoutSeconds: visibilitySeconds,
    });
    const { database } = emulators;
    const secretArn = await provisionDatabaseSecret(
      endpoints,
      `${definition.service}-${definition.stage}-database`,
      {
        host: database.host,
        port: database.port,
        dbname: database.name,
        username: database.user,
        password: options.dbPassword,
      },
    );
    const env: Record<string, string> = {
      ...functionEnvironment(definition, provisioned),
      // The functions find the database as on AWS: its address here, the login in the secret.
      DATABASE_HOST: database.host,
      DATABASE_PORT: String(database.port),
      DATABASE_NAME: database.name,
      DATABASE_SECRET_ARN: secretArn,
      // The local PostgreSQL speaks plain TCP on loopback (TLS has tests of its own).
      DATABASE_TLS: "off",
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      S3_FORCE_PATH_STYLE: "true",
      // s3rver stores aws-chunked framing verbatim when the SDK adds default checksums to streams.
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      PG_POOL_MAX: "10",
      ...options.env,
    };
    delete env.NODE_OPTIONS;
    // Functions read their configuration from the environment once, on first use.
    Object.assign(process.env, env);

    const { migrate } = await import("../../lib/chat-db/migrate.ts");
    const { chatDb, closeChatDb } = await import("../../lib/chat-db/pool.ts");
    const { upsertApplication } = await import("../../lib/chat-db/applications.ts");
    cleanups.push(() => closeChatDb());
    const client = await chatDb().connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    for (const app of options.demoApps ?? []) await upsertApplication(app);

    const runtime = new LambdaRuntime(ROOT_DIR, definition.functions, {
      invocationStore: options.invocationStore,
    });
    if (options.preloadFunctions) await runtime.preload();
    const server: Server = await startHttpGateway(runtime, options.httpPort, {
      throttle: definition.httpApiThrottle,
    });
    cleanups.push(
      () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
    );
    const { port } = server.address() as { port: number };

    if (options.pollQueues ?? true) {
      const sqs = new SQSClient({
        region: REGION,
        endpoint: endpoints.sqs,
        useQueueUrlAsEndpoint: false,
        credentials: LOCAL_CREDENTIALS,
      });
      cleanups.push(async () => sqs.destroy());
      for (const fn of definition.functions) {
        for (const queue of fn.queues) {
          const stopPoller = startQueuePoller(
            runtime,
            sqs,
            {
              functionName: fn.name,
              queueUrl: provisioned.queues[queue.resource] as string,
              queueArn: provisioned.arns[queue.resource] as string,
              batchSize: queue.batchSize,
            },
            { region: REGION, concurrency: 2, visibilitySeconds },
          );
          cleanups.push(stopPoller);
        }
      }
    }
    if (options.keepAwsState) {
      const sqs = new SQSClient({
        region: REGION,
        endpoint: endpoints.sqs,
        useQueueUrlAsEndpoint: false,
        credentials: LOCAL_CREDENTIALS,
      });
      const resumed = await resumeOpenJobs(env.JOBS_TABLE as string, sqs, provisioned.queues);
      sqs.destroy();
      if (resumed > 0)
        console.log(`resumed ${resumed} job(s) that were open when the stack stopped`);
    }
    const url = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(options.stateDir, "stack.json"),
      `${JSON.stringify({ url, env }, null, 2)}\n`,
      { mode: 0o600 },
    );
    return {
      url,
      env,
      database,
      runtime,
      queues: provisioned.queues,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A throw-away local stack for tests and benchmarks: free ports, a temporary state directory
 * (removed on stop), no queue pollers (the caller drives the consumers), quiet logs.
 */
export async function startScratchStack(
  name: string,
  options: Partial<Omit<LocalStackOptions, "stateDir" | "env" | "s3Dir">> & {
    env?: Record<string, string>;
    /**
     * Keep the S3 emulator's objects in memory (`/dev/shm`, where there is one): S3 is remote
     * storage, and a benchmark must not measure this machine's disk writing them.
     */
    s3InMemory?: boolean;
  } = {},
): Promise<LocalStack> {
  const stateDir = mkdtempSync(join(tmpdir(), `chat-backup-${name}-`));
  const s3Dir =
    options.s3InMemory && existsSync("/dev/shm")
      ? mkdtempSync(join("/dev/shm", `chat-backup-${name}-s3-`))
      : undefined;
  const remove = () => {
    rmSync(stateDir, { recursive: true, force: true });
    if (s3Dir) rmSync(s3Dir, { recursive: true, force: true });
  };
  try {
    const stack = await startLocalStack({
      httpPort: 0,
      ports: { postgres: 0, dynamodb: 0, sqs: 0, s3: 0, secretsManager: 0 },
      dbPassword: `${name}-only`,
      pollQueues: false,
      ...options,
      stateDir,
      s3Dir,
      env: { LOG_LEVEL: "WARN", POWERTOOLS_METRICS_DISABLED: "true", ...options.env },
    });
    return {
      ...stack,
      stop: async () => {
        await stack.stop();
        remove();
      },
    };
  } catch (error) {
    remove();
    throw error;
  }
}
