import { randomBytes, randomUUID } from "node:crypto";
import { inject } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { upsertApplication } from "../../lib/chat-db/applications.ts";
import type { InvocationClock } from "../../lib/jobs/job-queue.ts";
import { deliverBatch } from "../../scripts/local/deliver.ts";
import { LambdaRuntime } from "../../scripts/local/lambda-runtime.ts";
import { loadServiceDefinition } from "../../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../../scripts/local/stack.ts";
import { apiFetch, parseBody } from "./api-fetch.ts";

export const stack = inject("stack");
export const runtime = new LambdaRuntime(ROOT_DIR, loadServiceDefinition(ROOT_DIR).functions);

/** An invocation clock that always reports `remainingMs` left. */
export function clock(remainingMs: number): InvocationClock {
  return { getRemainingTimeInMillis: () => remainingMs };
}

/** A clock with the whole of a worker's 15 minutes left: never short of time. */
export const unhurried = clock(900_000);

export interface TestApp {
  appId: string;
  secret: string;
}

/** A new application with random credentials: tests never share data. */
export async function newApp(): Promise<TestApp> {
  const app = {
    appId: `test-${randomUUID().slice(0, 8)}`,
    secret: randomBytes(12).toString("hex"),
  };
  await upsertApplication(app);
  return app;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** Calls the local HTTP API as an outside client would. */
export async function call(
  method: string,
  path: string,
  options: {
    app?: TestApp;
    json?: unknown;
    form?: FormData | URLSearchParams;
    body?: RequestInit["body"];
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.app) {
    headers["QISCUS-SDK-APP-ID"] = options.app.appId;
    headers["QISCUS-SDK-SECRET"] = options.app.secret;
  }
  let body: RequestInit["body"] = options.body;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  const response = await apiFetch(`${stack.url}${path}`, { method, headers, body });
  const result = {
    status: response.status,
    headers: response.headers,
    body: parseBody(await response.text()),
  };
  return result;
}

/**
 * Delivers every message waiting on a queue (and those the deliveries add) to its consumer
 * function, the way Lambda's event source would; failed items are made visible again at once.
 * @returns how many messages were delivered
 */
export async function drainQueue(
  queue: "ExportQueue" | "ImportQueue" | "BackupQueue" | "DeadLetterQueue",
  options: {
    maxMessages?: number;
    budgetMs?: number;
    /** Failed messages come again after this long (default 0: at once; undefined keeps the function's backoff). */
    retryDelaySeconds?: number;
  } = {},
): Promise<number> {
  const binding = {
    functionName: {
      ExportQueue: "exportWorker",
      ImportQueue: "importWorker",
      BackupQueue: "backupWorker",
      DeadLetterQueue: "deadLetter",
    }[queue],
    queueUrl: stack.queues[queue] as string,
    queueArn: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
    batchSize: 1,
  };
  const max = options.maxMessages ?? 500;
  let delivered = 0;
  let idle = 0;
  while (delivered < max && idle < 2) {
    const count = await deliverBatch(runtime, sqs(), binding, {
      budgetMs: options.budgetMs,
      retryDelaySeconds: "retryDelaySeconds" in options ? options.retryDelaySeconds : 0,
    });
    idle = count === 0 ? idle + 1 : 0;
    delivered += count;
  }
  return delivered;
}
