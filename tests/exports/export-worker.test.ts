import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3 } from "../../lib/aws/s3.ts";
import { config } from "../../lib/config.ts";
import { runExport } from "../../lib/exports/export-worker.ts";
import { objectKey } from "../../lib/jobs/files.ts";
import { type JobMessage, sendJobMessage } from "../../lib/jobs/job-queue.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { newJob } from "../../lib/jobs/jobs.ts";
import type { JobOutcome } from "../../lib/jobs/lifecycle/index.ts";
import { call, clock, newApp, type TestApp } from "../support/harness.ts";
import {
  deliverExport,
  download,
  getExport,
  insertManyComments,
  requestExport,
  sha256,
  takeExportMessage,
} from "./export-fixtures.ts";

/** Small parts and pages so that a few thousand rows span many parts and handovers. */
const SMALL = { pageRows: 300, partBytes: 64 * 1024 };

/** Runs an export with invocations that are always out of time, following each continuation. */
async function runInSlices(
  message: JobMessage,
  options = SMALL,
): Promise<{ outcomes: JobOutcome[]; invocations: number }> {
  const outcomes: JobOutcome[] = [];
  let next = message;
  for (;;) {
    const outcome = await runExport(next, clock(0), options);
    outcomes.push(outcome);
    if (outcome !== "continued") return { outcomes, invocations: outcomes.length };
    next = await takeExportMessage(message.jobId);
    expect(next.seq).toBe(outcomes.length);
  }
}

async function objectExists(app: TestApp, id: string): Promise<boolean> {
  try {
    await s3().send(
      new HeadObjectCommand({
        Bucket: config().bucketName,
        Key: objectKey("export", app.appId, id),
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === "NotFound") return false;
    throw error;
  }
}

describe("export job lifecycle", () => {
  it("given a request, when the worker runs in slices, then the job goes started -> processing (rising) -> finished", async () => {
    const app = await newApp();
    await insertManyComments(app, 3000);
    const id = await requestExport(app, { type: "comments" });
    const started = await getExport(app, id);
    expect(started).toMatchObject({ status: "started", percentage: 0, download_url: "" });

    let message = await takeExportMessage(id);
    const seen: number[] = [];
    for (;;) {
      const outcome = await runExport(message, clock(0), SMALL);
      if (outcome === "finished") break;
      expect(outcome).toBe("continued");
      const record = await getExport(app, id);
      expect(record.status).toBe("processing");
      expect(record.download_url).toBe("");
      expect(record.percentage).toBeGreaterThanOrEqual(0);
      expect(record.percentage).toBeLessThan(100);
      seen.push(record.percentage);
      message = await takeExportMessage(id);
    }

    expect(seen.length).toBeGreaterThan(3);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBeGreaterThan(50);
    const finished = await getExport(app, id);
    const bytes = await download(app, id);
    expect(finished).toMatchObject({
      status: "finished",
      percentage: 100,
      total_rows: 3000,
      size: bytes.length,
      checksum_sha256: sha256(bytes),
      error_message: "",
    });
  });

  it("given data that cannot be exported, when the worker runs, then the job ends failed with a readable reason and stays failed", async () => {
    const app = await newApp();
    // A time zone the chat database does not know (e.g. an application's stored zone gone bad).
    const job = newJob(app.appId, "export", "users", {
      startDate: "2024-01-01",
      timezone: "Mars/Olympus",
      originalFilename: "bad.json",
    });
    await jobStore().create(job);
    const message: JobMessage = { kind: "export", appId: app.appId, jobId: job.jobId, seq: 0 };

    expect(await runExport(message, clock(900_000))).toBe("failed");
    const failed = await getExport(app, job.jobId);
    expect(failed.status).toBe("failed");
    expect(failed.error_message).toMatch(/time zone "Mars\/Olympus"/);
    expect(failed.download_url).toBe("");

    expect(await runExport(message, clock(900_000))).toBe("dropped");
    expect((await getExport(app, job.jobId)).status).toBe("failed");
  });
});

describe("export delivery guarantees", () => {
  it("given the same message delivered twice and again after the end, then one file, counted once, and finished stays finished", async () => {
    const app = await newApp();
    await insertManyComments(app, 500);
    const id = await requestExport(app, { type: "comments" });
    const message = await takeExportMessage(id);

    const outcomes = await Promise.all([
      runExport(message, clock(900_000)),
      runExport(message, clock(900_000)),
    ]);
    expect(outcomes).toContain("finished");
    expect(outcomes.filter((outcome) => outcome === "finished")).toHaveLength(1);
    const first = await getExport(app, id);
    const bytes = await download(app, id);
    expect(JSON.parse(bytes.toString("utf8"))).toHaveLength(500);
    expect(first).toMatchObject({ status: "finished", total_rows: 500, size: bytes.length });

    // A late redelivery through the queue and the worker function changes nothing at all.
    const before = await jobStore().get(app.appId, id);
    expect(before).toMatchObject({ status: "finished", checksumSha256: first.checksum_sha256 });
    await sendJobMessage(message);
    expect(await deliverExport(id)).toEqual([]);
    expect(await jobStore().get(app.appId, id)).toEqual(before);
    expect((await download(app, id)).equals(bytes)).toBe(true);
  });

  it("given a job another invocation is writing, when its message arrives again, then the worker function reports it failed for a later retry", async () => {
    const app = await newApp();
    await insertManyComments(app, 100);
    const id = await requestExport(app, { type: "comments" });
    const message = await takeExportMessage(id);
    await jobStore().update(app.appId, id, {
      status: "processing",
      leaseOwner: "another-invocation",
      leaseUntil: Date.now() + 60_000,
    });

    await sendJobMessage(message);
    const failedItems = await deliverExport(id);

    expect(failedItems).toHaveLength(1);
    expect((await getExport(app, id)).status).toBe("processing");
  });

  it("given an export that needs several invocations, when each is out of time, then the file equals the one-pass file byte for byte", async () => {
    const app = await newApp();
    await insertManyComments(app, 30_000);
    const onePass = await requestExport(app, { type: "comments" });
    expect(await deliverExport(onePass)).toEqual([]);
    const expected = await download(app, onePass);

    const sliced = await requestExport(app, { type: "comments" });
    const { outcomes, invocations } = await runInSlices(await takeExportMessage(sliced), {
      pageRows: 1000,
      partBytes: 512 * 1024,
    });

    expect(outcomes.at(-1)).toBe("finished");
    expect(invocations).toBeGreaterThan(5);
    const actual = await download(app, sliced);
    expect(actual.equals(expected)).toBe(true);
    const record = await getExport(app, sliced);
    expect(record).toMatchObject({
      total_rows: 30_000,
      size: actual.length,
      checksum_sha256: sha256(actual),
    });
    const rows = JSON.parse(actual.toString("utf8")) as { UniqueId: string }[];
    expect(rows.map((row) => row.UniqueId)).toEqual(
      Array.from({ length: 30_000 }, (_, i) => `bulk-${i + 1}`),
    );
  });
});

describe("export completion", () => {
  it("given an invocation that stops right after completing the file, when the message comes back, then the job finishes with that file instead of writing it again", async () => {
    const app = await newApp();
    await insertManyComments(app, 3000);
    const onePass = await requestExport(app, { type: "comments" });
    expect(await deliverExport(onePass)).toEqual([]);
    const expected = await download(app, onePass);
    const id = await requestExport(app, { type: "comments" });
    const message = await takeExportMessage(id);

    await expect(
      runExport(message, clock(900_000), {
        ...SMALL,
        onComplete: () => {
          throw new Error("the invocation stopped");
        },
      }),
    ).rejects.toThrow("the invocation stopped");
    expect((await getExport(app, id)).status).toBe("processing");

    expect(await runExport(message, clock(900_000), SMALL)).toBe("finished");
    const actual = await download(app, id);
    expect(actual.equals(expected)).toBe(true);
    expect(await getExport(app, id)).toMatchObject({
      status: "finished",
      total_rows: 3000,
      size: actual.length,
      checksum_sha256: sha256(actual),
    });
  });
});

describe("export cancellation", () => {
  it("given a running export, when it is deleted between two parts, then the worker stops and no file is left", async () => {
    const app = await newApp();
    await insertManyComments(app, 3000);
    const id = await requestExport(app, { type: "comments" });
    const message = await takeExportMessage(id);
    let deleted: { status: number; body: { results: { backup_history: { status: string } } } } =
      undefined as never;

    const outcome = await runExport(message, clock(900_000), {
      ...SMALL,
      onPart: async ({ parts }) => {
        if (parts === 1) deleted = await call("DELETE", `/api/v2.1/rest/exports/${id}`, { app });
      },
    });

    expect(outcome).toBe("cancelled");
    expect(deleted.status).toBe(200);
    expect(deleted.body.results.backup_history.status).toBe("processing");
    expect((await call("GET", `/api/v2.1/rest/exports/${id}`, { app })).status).toBe(404);
    expect(await objectExists(app, id)).toBe(false);
  });

  it("given an export waiting for its continuation, when it is deleted, then the continuation is dropped and no file appears", async () => {
    const app = await newApp();
    await insertManyComments(app, 3000);
    const id = await requestExport(app, { type: "comments" });
    expect(await runExport(await takeExportMessage(id), clock(0), SMALL)).toBe("continued");

    expect((await call("DELETE", `/api/v2.1/rest/exports/${id}`, { app })).status).toBe(200);
    const continuation = await takeExportMessage(id);

    expect(await runExport(continuation, clock(900_000), SMALL)).toBe("dropped");
    expect(await objectExists(app, id)).toBe(false);
  });
});
