import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3 } from "../../lib/aws/s3.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { config } from "../../lib/config.ts";
import { deleteExport } from "../../lib/exports/export-jobs.ts";
import { type ExportWorkerOptions, runExport } from "../../lib/exports/export-worker.ts";
import { objectKey, rangeObjectKey } from "../../lib/jobs/files.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";
import type { ExportRange } from "../../lib/jobs/job-record.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { call, clock, newApp, type TestApp } from "../support/harness.ts";
import {
  download,
  getExport,
  insertManyComments,
  requestExport,
  sha256,
  takeExportMessage,
} from "./export-fixtures.ts";

/** Small parts and pages, and a threshold low enough that a few thousand rows go parallel. */
const PARALLEL: ExportWorkerOptions = {
  pageRows: 300,
  partBytes: 64 * 1024,
  parallelRows: 1000,
  ranges: 4,
};
const SERIAL: ExportWorkerOptions = { ...PARALLEL, parallelRows: 1_000_000 };
const ROWS = 6000;

/** Takes `count` queued messages of one export. */
async function takeMessages(jobId: string, count: number): Promise<JobMessage[]> {
  const messages: JobMessage[] = [];
  while (messages.length < count) messages.push(await takeExportMessage(jobId));
  return messages;
}

/** Runs the planning message; returns the four range messages, in range order. */
async function plan(jobId: string): Promise<JobMessage[]> {
  expect(await runExport(await takeExportMessage(jobId), clock(900_000), PARALLEL)).toBe(
    "continued",
  );
  const messages = await takeMessages(jobId, 4);
  return messages.sort((a, b) => (a.range ?? 0) - (b.range ?? 0));
}

async function serialExport(app: TestApp): Promise<Buffer> {
  const id = await requestExport(app, { type: "comments" });
  expect(await runExport(await takeExportMessage(id), clock(900_000), SERIAL)).toBe("finished");
  return download(app, id);
}

async function rangeItems(app: TestApp, jobId: string): Promise<(ExportRange | undefined)[]> {
  return Promise.all([0, 1, 2, 3].map((k) => jobStore().getRange(app.appId, jobId, k)));
}

/** Every object under the export's own prefix (the file and the range files). */
async function objectsOf(app: TestApp, jobId: string): Promise<string[]> {
  const prefix = objectKey("export", app.appId, jobId).replace(/\.json$/, "");
  const { Contents = [] } = await s3().send(
    new ListObjectsV2Command({ Bucket: config().bucketName, Prefix: prefix }),
  );
  return Contents.map((object) => object.Key as string);
}

/**
 * Runs `work` while recording the upload ids of the AbortMultipartUpload requests the service's
 * S3 client sends (the local S3 emulator accepts an abort but keeps no list of open uploads).
 */
async function watchAborts<T>(work: () => Promise<T>): Promise<{ result: T; aborts: string[] }> {
  const aborts: string[] = [];
  const name = "recordAborts";
  s3().middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "AbortMultipartUploadCommand") {
        aborts.push((args.input as { UploadId: string }).UploadId);
      }
      return next(args);
    },
    { step: "initialize", name },
  );
  try {
    return { result: await work(), aborts };
  } finally {
    s3().middlewareStack.remove(name);
  }
}

describe("a big export split into key ranges", () => {
  it("given more rows than the threshold, when its ranges run, then the file is byte-identical to a serial export and its checksum is the download's", async () => {
    const app = await newApp();
    await insertManyComments(app, ROWS);
    const serial = await serialExport(app);

    const id = await requestExport(app, { type: "comments" });
    const ranges = await plan(id);
    expect(ranges.map((message) => message.range)).toEqual([0, 1, 2, 3]);
    const percentages: number[] = [];
    // Ranges finish in any order; the last one queues the join.
    for (const message of [ranges[2], ranges[0], ranges[3], ranges[1]] as JobMessage[]) {
      expect(await runExport(message, clock(900_000), PARALLEL)).toBe("finished");
      const record = await getExport(app, id);
      expect(record.status).toBe("processing");
      percentages.push(record.percentage);
    }
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(percentages.at(-1)).toBe(99);
    const items = await rangeItems(app, id);
    expect(items.map((item) => item?.status)).toEqual(Array(4).fill("finished"));
    // Rows split about evenly.
    for (const item of items) expect(item?.rows).toBe(ROWS / 4);

    expect(await runExport(await takeExportMessage(id), clock(900_000), PARALLEL)).toBe("finished");
    const bytes = await download(app, id);
    expect(bytes.length).toBe(serial.length);
    expect(bytes.equals(serial)).toBe(true);
    const record = await getExport(app, id);
    expect(record).toMatchObject({
      status: "finished",
      percentage: 100,
      total_rows: ROWS,
      size: bytes.length,
      checksum_sha256: sha256(bytes),
    });
    // Only the export file remains.
    expect(await objectsOf(app, id)).toEqual([objectKey("export", app.appId, id)]);
  }, 120_000);

  it("given a range that crashes mid-way and one that runs out of time, when each comes back, then only they resume and the file is still identical", async () => {
    const app = await newApp();
    await insertManyComments(app, ROWS);
    const serial = await serialExport(app);

    const id = await requestExport(app, { type: "comments" });
    const [r0, r1, r2, r3] = (await plan(id)) as [JobMessage, JobMessage, JobMessage, JobMessage];
    expect(await runExport(r0, clock(900_000), PARALLEL)).toBe("finished");
    expect(await runExport(r3, clock(900_000), PARALLEL)).toBe("finished");
    const before = await rangeItems(app, id);

    // Range 1 dies after its second stored part.
    let parts = 0;
    const crashing: ExportWorkerOptions = {
      ...PARALLEL,
      onPart: () => {
        parts += 1;
        if (parts === 2) throw new Error("the invocation died");
      },
    };
    await expect(runExport(r1, clock(900_000), crashing)).rejects.toThrow("the invocation died");
    const crashed = (await rangeItems(app, id))[1];
    expect(crashed?.status).toBe("processing");
    expect(crashed?.parts.length).toBe(2);
    expect(crashed?.rows).toBeGreaterThan(0);
    expect(crashed?.rows).toBeLessThan(ROWS / 4);

    // Range 2 runs out of time after its first part and hands over to its next message.
    expect(await runExport(r2, clock(0), PARALLEL)).toBe("continued");
    const r2next = await takeExportMessage(id);
    expect(r2next).toMatchObject({ range: 2, seq: 1 });

    // The finished ranges were not touched.
    const during = await rangeItems(app, id);
    expect(during[0]).toEqual(before[0]);
    expect(during[3]).toEqual(before[3]);

    // SQS delivers range 1's message again; it continues from its stored parts.
    expect(await runExport(r1, clock(900_000), PARALLEL)).toBe("finished");
    expect((await rangeItems(app, id))[1]?.parts.slice(0, 2)).toEqual(crashed?.parts);
    expect(await runExport(r2next, clock(900_000), PARALLEL)).toBe("finished");
    // A stale copy of a finished range's message does nothing.
    expect(await runExport(r1, clock(900_000), PARALLEL)).toBe("dropped");

    expect(await runExport(await takeExportMessage(id), clock(900_000), PARALLEL)).toBe("finished");
    const bytes = await download(app, id);
    expect(bytes.equals(serial)).toBe(true);
    expect((await getExport(app, id)).checksum_sha256).toBe(sha256(bytes));
  }, 120_000);

  it("given a row no file can hold in one range, when that range runs, then the export fails with the reason and no file or range file remains", async () => {
    const app = await newApp();
    await insertManyComments(app, ROWS);
    // A creation time before year 0 sorts first: the row lands in range 0.
    const { rows } = await chatDb().query<{ id: number }>(
      "UPDATE comments SET created_at = '0044-03-15 12:00:00+00 BC' WHERE app_id = $1 AND unique_id = 'bulk-3000' RETURNING id",
      [app.appId],
    );
    const id = await requestExport(app, { type: "comments" });
    const [r0, r1, r2, r3] = (await plan(id)) as [JobMessage, JobMessage, JobMessage, JobMessage];
    expect(await runExport(r1, clock(900_000), PARALLEL)).toBe("finished");

    expect(await runExport(r0, clock(900_000), PARALLEL)).toBe("failed");
    const record = await getExport(app, id);
    expect(record.status).toBe("failed");
    expect(record.error_message).toBe(
      `comments row ${rows[0]?.id} has a creation time outside the years 0000-9999, which an export file cannot hold`,
    );
    // The other ranges find the export failed and write nothing.
    for (const message of [r2, r3]) {
      expect(await runExport(message, clock(900_000), PARALLEL)).not.toBe("finished");
    }
    expect(await objectsOf(app, id)).toEqual([]);
    expect((await getExport(app, id)).status).toBe("failed");
  }, 120_000);

  it("given a running parallel export, when it is deleted, then every range stops and no file, range file or open upload remains", async () => {
    const app = await newApp();
    await insertManyComments(app, ROWS);
    const id = await requestExport(app, { type: "comments" });
    const [r0, r1, r2, r3] = (await plan(id)) as [JobMessage, JobMessage, JobMessage, JobMessage];
    // Range 0 done (its file exists), range 1 between invocations (an open upload).
    expect(await runExport(r0, clock(900_000), PARALLEL)).toBe("finished");
    expect(await runExport(r1, clock(0), PARALLEL)).toBe("continued");
    const r1next = await takeExportMessage(id);
    expect(await objectsOf(app, id)).toEqual([
      rangeObjectKey(objectKey("export", app.appId, id), 0),
    ]);

    // Range 2 is running when the DELETE comes.
    let uploads: string[] = [];
    let deleted = false;
    const deleting: ExportWorkerOptions = {
      ...PARALLEL,
      onPart: async () => {
        if (deleted) return;
        uploads = (await rangeItems(app, id)).map((item) => item?.uploadId ?? "");
        // What DELETE /exports/:id does, in this process so that its storage requests are seen.
        await deleteExport(app.appId, id);
        deleted = true;
      },
    };
    const aborted = await watchAborts(() => runExport(r2, clock(900_000), deleting)).then(
      async ({ result, aborts }) => {
        expect(result).toBe("cancelled");
        // The other ranges' messages find nothing to do.
        expect(await runExport(r1next, clock(900_000), PARALLEL)).toBe("dropped");
        expect(await runExport(r3, clock(900_000), PARALLEL)).toBe("dropped");
        return aborts;
      },
    );
    expect(deleted).toBe(true);
    expect((await call("GET", `/api/v2.1/rest/exports/${id}`, { app })).status).toBe(404);

    expect(await objectsOf(app, id)).toEqual([]);
    expect(await rangeItems(app, id)).toEqual([undefined, undefined, undefined, undefined]);
    // Every upload that was open was aborted.
    expect(uploads.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    for (const uploadId of uploads.filter(Boolean)) expect(aborted).toContain(uploadId);
  }, 120_000);
});
