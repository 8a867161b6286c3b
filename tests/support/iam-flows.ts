import { randomUUID } from "node:crypto";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import { s3 } from "../../lib/aws/s3.ts";
import {
  setApplicationLimits,
  setNightlyBackupsKept,
  setNightlyExport,
} from "../../lib/chat-db/applications.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import type { JobRecord } from "../../lib/jobs/job-record.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { sqsEvent } from "../../scripts/local/sqs-event.ts";
import {
  BACKUPS,
  deliverBackup,
  fetchBytes,
  getBackup,
  requestBackup,
} from "../backups/backup-fixtures.ts";
import {
  deliverExport,
  download,
  getExport,
  insertManyComments,
  insertRoom,
  insertUser,
  requestExport,
} from "../exports/export-fixtures.ts";
import { getImport, postImport, settle, user } from "../imports/support.ts";
import { getRestore, seedApp, settleRestore } from "../restores/support.ts";
import { apiFetch } from "./api-fetch.ts";
import { call, drainQueue, newApp, runtime, type TestApp } from "./harness.ts";

/**
 * Flows that make every function issue every AWS call its code can make, through the local
 * stack: HTTP requests to the API (its functions run in the stack's process) and queue messages
 * delivered to the consumers (in this process). Crashes and storage failures are made with a
 * fault in this process's S3 client, on the real calls. The recorder writes down each call as the
 * function's (tests/iam.test.ts).
 */

const EXPORTS = "/api/v2.1/rest/exports";
const IMPORTS = "/api/v2.1/rest/imports";
const RESTORES = "/api/v2.1/rest/restores";

/** The rows above which the consumers here split an export (set by tests/iam.test.ts). */
export const SPLIT_ROWS = 1000;

type Fault = "transient-after" | "permanent-before" | "deleted-before";

/**
 * Runs `work` with the service's S3 client failing once at `command` on a key of the job: after
 * S3 did it (as a connection lost on the way back), before it is sent (InvalidPart, which no
 * retry cures), or after the job was deleted through the API meanwhile (`path`: a DELETE while
 * it runs, answered by the API's own function in the stack's process).
 */
async function withFault<T>(
  command: string,
  fault: Fault,
  job: { app: TestApp; jobId: string; path?: string; keyEnd?: string },
  work: () => Promise<T>,
): Promise<{ result: T; fired: boolean }> {
  let fired = false;
  const name = `fault-${randomUUID()}`;
  s3().middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: string };
      const ours = input.Key?.includes(job.jobId) && input.Key.endsWith(job.keyEnd ?? "");
      if (fired || context.commandName !== `${command}Command` || !ours) return next(args);
      fired = true;
      if (fault === "permanent-before") {
        throw new S3ServiceException({
          name: "InvalidPart",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
          message: "One or more of the specified parts could not be found.",
        });
      }
      if (fault === "deleted-before") {
        const deleted = await call("DELETE", `${job.path}/${job.jobId}`, { app: job.app });
        expect(deleted.status).toBe(200);
      }
      const result = await next(args);
      if (fault === "transient-after") throw new Error("socket hang up after the request was done");
      return result;
    },
    { step: "initialize", name },
  );
  try {
    return { result: await work(), fired };
  } finally {
    s3().middlewareStack.remove(name);
  }
}

async function exportStatus(app: TestApp, id: string): Promise<string | undefined> {
  return (await jobStore().get(app.appId, id))?.status;
}

/** `count` comments of about 7 KB: a file of more than one 5 MiB part, below SPLIT_ROWS. */
async function insertWideComments(app: TestApp, count: number): Promise<void> {
  const userId = await insertUser(app);
  const roomId = await insertRoom(app, { creatorId: userId, participantIds: [userId] });
  await chatDb().query(
    `INSERT INTO comments (app_id, room_id, user_id, unique_id, type, message, created_at)
     SELECT $1, $2, $3, 'wide-' || g, 'text', repeat(md5(g::text), 220), '2024-02-01T00:00:00Z'
     FROM generate_series(1, $4::int) AS g`,
    [app.appId, roomId, userId, count],
  );
}

/**
 * Exports: one with an Idempotency-Key (asked twice), one of more than SPLIT_ROWS rows split
 * into key ranges and joined, listed, read and downloaded, deleted; one split export deleted
 * after its ranges were queued; a multi-part one that hands over; failures on the way.
 */
export async function exportFlows(): Promise<void> {
  const app = await newApp();
  await insertManyComments(app, SPLIT_ROWS + 200);
  const key = randomUUID();
  const first = await call("POST", EXPORTS, {
    app,
    json: { type: "users" },
    headers: { "Idempotency-Key": key },
  });
  const again = await call("POST", EXPORTS, {
    app,
    json: { type: "users" },
    headers: { "Idempotency-Key": key },
  });
  expect(again.body.results.unique_id).toBe(first.body.results.unique_id);
  const users = first.body.results.unique_id as string;
  const comments = await requestExport(app, { type: "comments" });
  await drainQueue("ExportQueue");
  for (const id of [users, comments]) expect(await exportStatus(app, id)).toBe("finished");
  expect((await call("GET", EXPORTS, { app })).status).toBe(200);
  expect((await getExport(app, comments)).status).toBe("finished");
  expect((await download(app, comments)).length).toBeGreaterThan(0);
  expect((await call("DELETE", `${EXPORTS}/${users}`, { app })).status).toBe(200);

  // Deleted after the planning invocation queued its ranges: the ranges find it gone.
  const cancelled = await requestExport(app, { type: "comments" });
  expect(await deliverExport(cancelled)).toEqual([]);
  expect((await jobStore().getRange(app.appId, cancelled, 0))?.status).toBe("processing");
  expect((await call("DELETE", `${EXPORTS}/${cancelled}`, { app })).status).toBe(200);
  await drainQueue("ExportQueue");

  // A range whose part upload fails for good: the export fails, its uploads are given up.
  const failing = await requestExport(app, { type: "comments" });
  const failed = await withFault("UploadPart", "permanent-before", { app, jobId: failing }, () =>
    drainQueue("ExportQueue"),
  );
  expect(failed.fired).toBe(true);
  expect(await exportStatus(app, failing)).toBe("failed");

  // Deleted while its ranges' files are joined: the worker removes the ranges and their files.
  const joining = await requestExport(app, { type: "comments" });
  const cancelledInJoin = await withFault(
    "UploadPart",
    "deleted-before",
    { app, jobId: joining, path: EXPORTS, keyEnd: ".json" },
    () => drainQueue("ExportQueue"),
  );
  expect(cancelledInJoin.fired).toBe(true);
  expect(await jobStore().get(app.appId, joining)).toBeUndefined();

  // Serial exports of a wide tenant: more than one part each.
  const wide = await newApp();
  await insertWideComments(wide, 800);
  // The first invocation runs short of time after its first part and hands over.
  const handedOver = await requestExport(wide, { type: "comments" });
  expect(await deliverExport(handedOver, 30_000)).toEqual([]);
  expect((await jobStore().get(wide.appId, handedOver))?.checkpoint?.parts.length).toBe(1);
  // Deleted between two invocations: the DELETE gives up the upload left open.
  const dropped = await requestExport(wide, { type: "comments" });
  expect(await deliverExport(dropped, 30_000)).toEqual([]);
  expect((await call("DELETE", `${EXPORTS}/${dropped}`, { app: wide })).status).toBe(200);
  // The completion's answer is lost: the retry finds the upload gone and the file there.
  const lost = await withFault(
    "CompleteMultipartUpload",
    "transient-after",
    { app: wide, jobId: handedOver },
    () => drainQueue("ExportQueue"),
  );
  expect(lost.fired).toBe(true);
  expect(await exportStatus(wide, handedOver)).toBe("finished");
  // Deleted while its worker writes: the worker gives its upload up.
  const deleted = await requestExport(wide, { type: "comments" });
  const gone = await withFault(
    "UploadPart",
    "deleted-before",
    { app: wide, jobId: deleted, path: EXPORTS },
    () => drainQueue("ExportQueue"),
  );
  expect(gone.fired).toBe(true);
  expect(await jobStore().get(wide.appId, deleted)).toBeUndefined();
}

/** Imports: form files (users with plain passwords hashed by chunk messages), an upload, a missing upload. */
export async function importFlows(): Promise<void> {
  const app = await newApp();
  const rows = Array.from({ length: 300 }, (_, i) => user({ Email: `u${i}-${randomUUID()}@x.io` }));
  const form = await postImport(app, "users", JSON.stringify(rows));
  expect(form.status, JSON.stringify(form.body)).toBe(200);
  const formJob = await settle(app, form.body.results.backup_history.unique_id);
  expect(formJob.status, JSON.stringify(formJob.errors)).toBe("finished");

  const upload = await call("POST", `${IMPORTS}/uploads`, {
    app,
    json: { type: "users", filename: "users.json" },
  });
  expect(upload.status, JSON.stringify(upload.body)).toBe(200);
  const { upload_id, upload_url } = upload.body.results.upload;
  const put = await apiFetch(upload_url, { method: "PUT", body: JSON.stringify([user()]) });
  expect(put.status).toBe(200);
  const started = await call("POST", IMPORTS, { app, json: { type: "users", upload_id } });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const uploadJob = await settle(app, started.body.results.backup_history.unique_id);
  expect(uploadJob.status, JSON.stringify(uploadJob.errors)).toBe("finished");
  expect((await call("GET", IMPORTS, { app })).status).toBe(200);
  expect((await getImport(app, uploadJob.unique_id)).status).toBe("finished");

  // An upload never PUT: refused (S3 answers 404 only to a role that may list the bucket).
  const empty = await call("POST", `${IMPORTS}/uploads`, {
    app,
    json: { type: "users", filename: "users.json" },
  });
  const refused = await call("POST", IMPORTS, {
    app,
    json: { type: "users", upload_id: empty.body.results.upload.upload_id },
    headers: { "Idempotency-Key": randomUUID() },
  });
  expect(refused.status, JSON.stringify(refused.body)).toBeGreaterThanOrEqual(400);
  expect(refused.status).toBeLessThan(500);
}

/**
 * Backups and restores: a backup (its completion's answer lost once), listed, read, its files
 * downloaded; a restore of it; a running backup deleted; requests refused inside their
 * Idempotency-Key (open-job limit, unknown backup).
 */
export async function backupFlows(): Promise<void> {
  const app = await newApp();
  await seedApp(app, 12);
  const key = randomUUID();
  const asked = await call("POST", BACKUPS, { app, json: {}, headers: { "Idempotency-Key": key } });
  const askedAgain = await call("POST", BACKUPS, {
    app,
    json: {},
    headers: { "Idempotency-Key": key },
  });
  const id = asked.body.results.backup.unique_id as string;
  expect(askedAgain.body.results.backup.unique_id).toBe(id);
  const lost = await withFault(
    "CompleteMultipartUpload",
    "transient-after",
    { app, jobId: id },
    () => drainQueue("BackupQueue"),
  );
  expect(lost.fired).toBe(true);
  const backup = await getBackup(app, id);
  expect(backup.status, JSON.stringify(backup)).toBe("finished");
  expect((await call("GET", BACKUPS, { app })).status).toBe(200);
  expect((await fetchBytes(backup.files.users.download_url)).length).toBeGreaterThan(0);

  // A wide tenant's backup runs short of time after its first part and hands over.
  const wide = await newApp();
  await insertWideComments(wide, 800);
  const continued = await requestBackup(wide, undefined);
  expect(await deliverBackup(continued, 30_000)).toBeGreaterThan(1);
  expect((await getBackup(wide, continued)).status).toBe("finished");

  // A backup whose upload fails for good, and one deleted while its worker writes.
  for (const fault of ["permanent-before", "deleted-before"] as const) {
    const other = await requestBackup(app, undefined);
    const run = await withFault("UploadPart", fault, { app, jobId: other, path: BACKUPS }, () =>
      drainQueue("BackupQueue"),
    );
    expect(run.fired).toBe(true);
    expect((await jobStore().get(app.appId, other))?.status).toBe(
      fault === "permanent-before" ? "failed" : undefined,
    );
  }

  const restoreKey = { "Idempotency-Key": randomUUID() };
  const restore = (
    await call("POST", RESTORES, { app, json: { backup_id: id }, headers: restoreKey })
  ).body.results.restore;
  const restoreAgain = await call("POST", RESTORES, {
    app,
    json: { backup_id: id },
    headers: restoreKey,
  });
  expect(restoreAgain.body.results.restore.unique_id).toBe(restore.unique_id);
  expect((await settleRestore(app, restore.unique_id)).status).toBe("finished");
  expect((await call("GET", RESTORES, { app })).status).toBe(200);
  expect((await getRestore(app, restore.unique_id)).status).toBe("finished");
  const unknown = await call("POST", RESTORES, {
    app,
    json: { backup_id: randomUUID() },
    headers: { "Idempotency-Key": randomUUID() },
  });
  expect(unknown.status).toBe(404);

  // A running backup with an open upload, deleted.
  const running = await requestBackup(app, undefined);
  await jobStore().update(app.appId, running, {
    status: "processing",
    checkpoint: openCheckpoint(),
  });
  expect((await call("DELETE", `${BACKUPS}/${running}`, { app })).status).toBe(200);
  expect((await call("DELETE", `${BACKUPS}/${id}`, { app })).status).toBe(200);

  // One open job of each kind at most: the second export and backup are refused (429).
  const limited = await newApp();
  await setApplicationLimits(limited.appId, { maxOpenJobs: 1 });
  for (const [path, json] of [
    [EXPORTS, { type: "users" }],
    ["/api/v2.1/rest/backups", {}],
  ] as const) {
    expect((await call("POST", path, { app: limited, json })).status).toBe(200);
    const refused = await call("POST", path, {
      app: limited,
      json,
      headers: { "Idempotency-Key": randomUUID() },
    });
    expect(refused.status).toBe(429);
  }
  await drainQueue("ExportQueue");
  await drainQueue("BackupQueue");
}

function openCheckpoint(): NonNullable<JobRecord["checkpoint"]> {
  return {
    cutId: 1,
    expectedRows: 1,
    uploadId: "an-upload-its-worker-left-open",
    parts: [],
    rows: 0,
    bytes: 0,
    hashState: "",
  };
}

function scheduledEvent(time: string, detail: Record<string, unknown> = {}) {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time,
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:000000000000:rule/nightly"],
    detail,
  };
}

/**
 * The schedule on three runs: nightly backups of two nights (and the day's exports), then
 * retention deletes the older night's backup (kept: 1), whose upload was left open.
 */
export async function nightlyFlows(): Promise<void> {
  const app = await newApp();
  await insertUser(app);
  await setNightlyExport(app.appId, true);
  await setNightlyBackupsKept(app.appId, 1);
  try {
    await runtime.invoke(
      "nightlyExport",
      scheduledEvent("2024-03-10T00:15:00Z", { day_slices: true }),
    );
    await drainQueue("BackupQueue");
    await drainQueue("ExportQueue");
    await runtime.invoke("nightlyExport", scheduledEvent("2024-03-11T00:15:00Z"));
    await drainQueue("BackupQueue");
    const backups = (await call("GET", BACKUPS, { app })).body.results.backups as {
      unique_id: string;
      status: string;
    }[];
    expect(backups.map((b) => b.status)).toEqual(["finished", "finished"]);
    const older = backups[1]?.unique_id as string;
    await jobStore().update(app.appId, older, { status: "failed", checkpoint: openCheckpoint() });
    await runtime.invoke("nightlyExport", scheduledEvent("2024-03-11T03:15:00Z"));
    expect(await jobStore().get(app.appId, older)).toBeUndefined();
  } finally {
    await setNightlyExport(app.appId, false);
  }
}

/** Dead letters of a running export and a running backup, each with an upload left open. */
export async function deadLetterFlows(): Promise<void> {
  const app = await newApp();
  const exportId = await requestExport(app, { type: "rooms" });
  const backupId = await requestBackup(app, undefined);
  // An import that ends here drops its staging tables in the chat database.
  const form = await postImport(app, "users", JSON.stringify([user()]));
  expect(form.status, JSON.stringify(form.body)).toBe(200);
  const importId = form.body.results.backup_history.unique_id as string;
  await settle(app, importId);
  const jobs = [
    ["export", exportId],
    ["backup", backupId],
    ["import", importId],
  ] as const;
  const event = sqsEvent(
    jobs.map(([kind, jobId]) => ({
      body: JSON.stringify({ kind, appId: app.appId, jobId, seq: 0 }),
    })),
    "arn:aws:sqs:us-east-1:000000000000:dead-letters",
  );
  for (const [, jobId] of jobs) {
    const job = (await jobStore().get(app.appId, jobId)) as JobRecord;
    await jobStore().update(app.appId, jobId, {
      status: "processing",
      leaseOwner: "worker-that-died",
      leaseUntil: Date.now() + 3_600_000,
      // An export or a backup died with its multipart upload open; an import writes no file.
      ...(job.kind === "import"
        ? {}
        : {
            checkpoint: {
              ...openCheckpoint(),
              ...(job.kind === "backup"
                ? { uploadKey: `backups/${app.appId}/${jobId}/users.json` }
                : {}),
            },
          }),
    });
  }
  await runtime.invoke("deadLetter", event);
  for (const [, jobId] of jobs) {
    expect((await jobStore().get(app.appId, jobId))?.status).toBe("failed");
  }
  await drainQueue("ExportQueue");
  await drainQueue("BackupQueue");
}

/** The routes that call no AWS service. */
export async function publicFlows(): Promise<void> {
  expect((await call("GET", "/api/v2.1/rest/openapi.json")).status).toBe(200);
  expect((await call("GET", "/api/v2.1/rest/nothing-here")).status).toBe(404);
  expect((await call("PUT", EXPORTS)).status).toBe(405);
}
