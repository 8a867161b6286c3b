import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import { expect } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { type JobMessage, parseJobMessage } from "../../lib/jobs/job-queue.ts";
import {
  deliverBackup,
  fetchBytes,
  getBackup,
  requestBackup,
  rowsOf,
} from "../backups/backup-fixtures.ts";
import { deliverExport, download, requestExport } from "../exports/export-fixtures.ts";
import { comment, email, importOk, type Row, room, user } from "../imports/support.ts";
import { call, drainQueue, stack, type TestApp } from "../support/harness.ts";

export const RESTORES = "/api/v2.1/rest/restores";
export const TYPES = ["users", "rooms", "comments"] as const;
export type Type = (typeof TYPES)[number];

/** A bcrypt hash (cost 4): users with it need no hashing. */
const HASH = "$2b$04$abcdefghijklmnopqrstuuA5bWc0w2JmE3Zs3fBqWnsOGGbJrJCMi";

/**
 * Fills an application the way clients do (imports): three users, a single and a group room, and
 * `comments` comments from 2017 with replies and a custom payload among them.
 */
export async function seedApp(app: TestApp, comments = 30): Promise<void> {
  const [ann, ben, cat] = [email("ann"), email("ben"), email("cat")];
  await importOk(
    app,
    "users",
    [ann, ben, cat].map((address, i) =>
      user({
        Email: address,
        Password: undefined,
        PasswordHash: HASH,
        Name: `Person ${i} Ängström`,
        CreateAt: `2017-01-0${i + 1}T10:00:00.123456+07:00`,
      }),
    ),
  );
  await importOk(app, "rooms", [
    room(ann, [ann, ben], { Type: "single", Name: "", UniqueId: "single-1" }),
    room(ben, [ben, cat, ann], { Name: "Family", Options: '{"color":"red"}', UniqueId: "group-1" }),
  ]);
  const rows: Row[] = [];
  for (let i = 0; i < comments; i += 1) {
    const roomId = i % 3 === 0 ? "single-1" : "group-1";
    const creator = i % 2 === 0 ? ann : ben;
    const createdAt = new Date(Date.UTC(2017, 2, 1, 0, 0, i)).toISOString();
    const base = { UniqueId: `c-${i}`, CreatedAt: createdAt, Message: `message ${i}\twith tab` };
    if (i >= 3 && i % 5 === 0) {
      const parent = rows.find((row) => row.RoomUniqueId === roomId) as Row;
      rows.push(
        comment(creator, roomId, {
          ...base,
          Type: "reply",
          Payload: { text: `re ${i}`, replied_comment_id: 1 },
          ParentCommentUniqueId: parent.UniqueId,
        }),
      );
    } else if (i % 7 === 0) {
      rows.push(
        comment(creator, roomId, {
          ...base,
          Type: "custom",
          Payload: { type: "promo", content: { code: `X${i}`, amount: 2.5 } },
        }),
      );
    } else {
      rows.push(comment(creator, roomId, base));
    }
  }
  if (rows.length) await importOk(app, "comments", rows);
}

/** A finished backup of the application, made through POST /backups. */
export async function backupOf(app: TestApp) {
  const id = await requestBackup(app);
  await deliverBackup(id);
  const backup = await getBackup(app, id);
  expect(backup.status, JSON.stringify(backup)).toBe("finished");
  return backup;
}

/** The rows of one of a finished backup's files. */
export async function backupRows(app: TestApp, backupId: string, type: Type): Promise<Row[]> {
  const backup = await getBackup(app, backupId);
  return rowsOf(await fetchBytes(backup.files[type].download_url));
}

/** A disaster: every user, room and comment of the application is gone. */
export async function wipeChat(appId: string): Promise<void> {
  await chatDb().query("DELETE FROM comments WHERE app_id = $1", [appId]);
  await chatDb().query("DELETE FROM rooms WHERE app_id = $1", [appId]);
  await chatDb().query("DELETE FROM users WHERE app_id = $1", [appId]);
}

export function postRestore(app: TestApp, json: unknown, headers: Record<string, string> = {}) {
  return call("POST", RESTORES, { app, json, headers });
}

/** Starts a restore of the backup; returns the record as POST answered it. */
export async function startRestore(app: TestApp, backupId: string, dryRun = false) {
  const response = await postRestore(app, { backup_id: backupId, dry_run: dryRun });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.restore;
}

export async function getRestore(app: TestApp, id: string) {
  const response = await call("GET", `${RESTORES}/${id}`, { app });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.restore;
}

/** Delivers import-queue messages until the restore has ended; returns its record. */
export async function settleRestore(app: TestApp, id: string) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await drainQueue("ImportQueue", { maxMessages: 1 });
    const restore = await getRestore(app, id);
    if (restore.status === "finished" || restore.status === "failed") return restore;
  }
  throw new Error(`restore ${id} did not end`);
}

/** Restores the backup to its end; returns the record. */
export async function restore(app: TestApp, backupId: string, dryRun = false) {
  const started = await startRestore(app, backupId, dryRun);
  return settleRestore(app, started.unique_id);
}

/** A fresh export of one type of the application, as rows. */
export async function exportRows(app: TestApp, type: Type): Promise<Row[]> {
  const id = await requestExport(app, { type });
  await deliverExport(id);
  return JSON.parse((await download(app, id)).toString("utf8")) as Row[];
}

/** Database ids differ between a backup and its restore: a reply's payload names its parent by id. */
export function withoutIds(rows: Row[]): Row[] {
  return rows.map((row) =>
    row.Type === "reply"
      ? { ...row, Payload: { ...(row.Payload as Row), replied_comment_id: "<id>" } }
      : row,
  );
}

/** How many rows of each type the application holds. */
export async function counts(appId: string): Promise<Record<Type, number>> {
  const out = {} as Record<Type, number>;
  for (const type of TYPES) {
    const { rows } = await chatDb().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${type} WHERE app_id = $1`,
      [appId],
    );
    out[type] = rows[0]?.n ?? 0;
  }
  return out;
}

/** Takes the queued message of one job off the import queue (others are made visible again). */
export async function takeImportMessage(jobId: string, waitMs = 5000): Promise<JobMessage> {
  const queueUrl = stack.queues.ImportQueue as string;
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
  throw new Error(`no queued message for job ${jobId}`);
}
