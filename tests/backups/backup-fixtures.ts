import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import { expect } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { type JobMessage, parseJobMessage } from "../../lib/jobs/job-queue.ts";
import { lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { sqsEvent } from "../exports/export-fixtures.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, runtime, stack, type TestApp } from "../support/harness.ts";

export const BACKUPS = "/api/v2.1/rest/backups";

/** Starts a backup through the API and returns its unique id. */
export async function requestBackup(app: TestApp, json?: Record<string, unknown>): Promise<string> {
  const response = await call("POST", BACKUPS, { app, json });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body.results.backup.status).toBe("started");
  return response.body.results.backup.unique_id as string;
}

/** The backup record as the API shows it. */
export async function getBackup(app: TestApp, id: string) {
  const response = await call("GET", `${BACKUPS}/${id}`, { app });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.backup;
}

/** Takes the queued message of one backup job off the backup queue (others stay queued). */
export async function takeBackupMessage(jobId: string, waitMs = 5000): Promise<JobMessage> {
  const queueUrl = stack.queues.BackupQueue as string;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const { Messages = [] } = await sqs().send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    let found: JobMessage | undefined;
    for (const message of Messages) {
      const parsed = parseJobMessage(message.Body ?? "");
      if (!found && parsed?.jobId === jobId) {
        found = parsed;
        await sqs().send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } else {
        await sqs().send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }
    if (found) return found;
  }
  throw new Error(`no queued message for backup ${jobId}`);
}

/**
 * Delivers a backup's queued messages to the backup worker function, one invocation each with
 * `budgetMs` of time, until it queues no continuation; returns how many invocations ran.
 */
export async function deliverBackup(jobId: string, budgetMs?: number): Promise<number> {
  let invocations = 0;
  for (;;) {
    let message: JobMessage;
    try {
      message = await takeBackupMessage(jobId, invocations === 0 ? 5000 : 1500);
    } catch (error) {
      if (invocations > 0) return invocations;
      throw error;
    }
    const result = (await runtime.invoke(
      "backupWorker",
      sqsEvent(message),
      lambdaContext(runtime.definition("backupWorker"), budgetMs),
    )) as SQSBatchResponse;
    expect(result.batchItemFailures).toEqual([]);
    invocations += 1;
  }
}

/** The bytes behind a presigned URL. */
export async function fetchBytes(url: string): Promise<Buffer> {
  const response = await apiFetch(url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** A backup file's rows (gunzipped first when the file is compressed). */
export function rowsOf(bytes: Buffer): Record<string, unknown>[] {
  const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  return JSON.parse(text.toString("utf8")) as Record<string, unknown>[];
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
