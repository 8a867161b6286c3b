import { createHash, randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { expect } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { type JobMessage, parseJobMessage } from "../../lib/jobs/job-queue.ts";
import { lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { sqsEvent as buildSqsEvent } from "../../scripts/local/sqs-event.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, runtime, stack, type TestApp } from "../support/harness.ts";

/** A user row of the chat database; returns its id. */
export async function insertUser(
  app: TestApp,
  fields: {
    email?: string;
    name?: string;
    avatarUrl?: string;
    token?: string;
    passwordHash?: string;
    createdAt?: string;
  } = {},
): Promise<number> {
  const suffix = randomUUID().slice(0, 8);
  const { rows } = await chatDb().query<{ id: number }>(
    `INSERT INTO users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [
      app.appId,
      fields.email ?? `user-${suffix}@example.com`,
      fields.name ?? `User ${suffix}`,
      fields.avatarUrl ?? "",
      fields.token ?? `token-${suffix}`,
      fields.passwordHash ?? "$2b$04$abcdefghijklmnopqrstuuA5bWc0w2JmE3Zs3fBqWnsOGGbJrJCMi",
      fields.createdAt ?? "2024-01-01T00:00:00Z",
    ],
  );
  return (rows[0] as { id: number }).id;
}

/** A room with its participants in the given order; returns its id. */
export async function insertRoom(
  app: TestApp,
  fields: {
    creatorId: number;
    participantIds: number[];
    uniqueId?: string;
    name?: string;
    type?: "single" | "group";
    options?: string;
    avatarUrl?: string;
    createdAt?: string;
  },
): Promise<number> {
  const { rows } = await chatDb().query<{ id: number }>(
    `INSERT INTO rooms (app_id, unique_id, name, type, options, avatar_url, creator_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      app.appId,
      fields.uniqueId ?? randomUUID(),
      fields.name ?? "room",
      fields.type ?? "group",
      fields.options ?? "",
      fields.avatarUrl ?? "",
      fields.creatorId,
      fields.createdAt ?? "2024-01-01T00:00:00Z",
    ],
  );
  const roomId = (rows[0] as { id: number }).id;
  for (const [position, userId] of fields.participantIds.entries()) {
    await chatDb().query(
      "INSERT INTO room_participants (room_id, user_id, position) VALUES ($1, $2, $3)",
      [roomId, userId, position],
    );
  }
  return roomId;
}

/** One comment; returns its id. */
export async function insertComment(
  app: TestApp,
  fields: {
    roomId: number;
    userId: number;
    uniqueId?: string;
    type?: string;
    message?: string;
    payload?: unknown;
    disableLinkPreview?: boolean;
    parentId?: number;
    createdAt?: string;
  },
): Promise<number> {
  const { rows } = await chatDb().query<{ id: number }>(
    `INSERT INTO comments (app_id, room_id, user_id, unique_id, type, message, payload,
       disable_link_preview, parent_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10) RETURNING id`,
    [
      app.appId,
      fields.roomId,
      fields.userId,
      fields.uniqueId ?? randomUUID(),
      fields.type ?? "text",
      fields.message ?? "hello",
      fields.payload === undefined ? null : JSON.stringify(fields.payload),
      fields.disableLinkPreview ?? false,
      fields.parentId ?? null,
      fields.createdAt ?? "2024-01-01T00:00:00Z",
    ],
  );
  return (rows[0] as { id: number }).id;
}

/**
 * `count` text comments in one statement, four per second from `from` (ties are ordered by id),
 * every third second with a half-second fraction.
 */
export async function insertManyComments(
  app: TestApp,
  count: number,
  from = "2024-02-01T00:00:00Z",
): Promise<{ userId: number; roomId: number }> {
  const userId = await insertUser(app, { createdAt: "2024-01-01T00:00:00Z" });
  const roomId = await insertRoom(app, { creatorId: userId, participantIds: [userId] });
  await chatDb().query(
    `INSERT INTO comments (app_id, room_id, user_id, unique_id, type, message, payload,
       disable_link_preview, created_at)
     SELECT $1, $2, $3, 'bulk-' || g, 'text', 'message number ' || g || ' ' || repeat('x', g % 40),
       NULL, g % 7 = 0,
       $4::timestamptz + (g / 4) * interval '1 second'
         + CASE WHEN (g / 4) % 3 = 0 THEN interval '0.5 second' ELSE interval '0' END
     FROM generate_series(1, $5::int) AS g`,
    [app.appId, roomId, userId, from, count],
  );
  return { userId, roomId };
}

/** Requests an export through the API and returns its unique id. */
export async function requestExport(app: TestApp, body: Record<string, string>): Promise<string> {
  const response = await call("POST", "/api/v2.1/rest/exports", { app, json: body });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.unique_id as string;
}

/** The export record as the API shows it. */
export async function getExport(app: TestApp, id: string) {
  const response = await call("GET", `/api/v2.1/rest/exports/${id}`, { app });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.backup_history;
}

/** Downloads a finished export through its presigned URL. */
export async function download(app: TestApp, id: string): Promise<Buffer> {
  const record = await getExport(app, id);
  expect(record.status).toBe("finished");
  const response = await apiFetch(record.download_url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Takes the queued message of one export job off the export queue (others stay queued). */
export async function takeExportMessage(jobId: string, waitMs = 5000): Promise<JobMessage> {
  const queueUrl = stack.queues.ExportQueue as string;
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
  throw new Error(`no queued message for export ${jobId}`);
}

/** An SQS event carrying one job message, as Lambda's event source builds it. */
export function sqsEvent(message: JobMessage, messageId = randomUUID()): SQSEvent {
  return buildSqsEvent(
    [{ body: JSON.stringify(message), messageId }],
    "arn:aws:sqs:us-east-1:000000000000:exports",
  );
}

/** Delivers one job's queued message to the export worker function; returns the failed item ids. */
export async function deliverExport(jobId: string, budgetMs?: number): Promise<string[]> {
  const message = await takeExportMessage(jobId);
  const result = (await runtime.invoke(
    "exportWorker",
    sqsEvent(message),
    lambdaContext(runtime.definition("exportWorker"), budgetMs),
  )) as SQSBatchResponse;
  return result.batchItemFailures.map((item) => item.itemIdentifier);
}
