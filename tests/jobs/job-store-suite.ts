import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import type { ExportRange, JobRecord } from "../../lib/jobs/job-record.ts";
import type { JobStore } from "../../lib/jobs/job-store.ts";
import { newJob } from "../../lib/jobs/jobs.ts";

/**
 * What every job store must do, written against the `JobStore` interface only: conditional
 * writes, ranges, listing, counting open jobs and nightly guards. The unit tier runs it on the
 * in-memory store, `job-store.dynamodb-local.test.ts` on the DynamoDB store against Amazon's
 * DynamoDB Local, so that the fake cannot drift from DynamoDB unnoticed.
 */
export function jobStoreSuite(makeStore: () => JobStore | Promise<JobStore>): void {
  let store: JobStore;
  let appId: string;

  beforeEach(async () => {
    store = await makeStore();
    appId = `store-${randomUUID().slice(0, 8)}`;
  });

  async function given(fields: Partial<JobRecord> = {}): Promise<JobRecord> {
    const job = { ...newJob(appId, "export", "comments"), ...fields };
    expect(await store.create(job)).toBe(true);
    return job;
  }

  function rangeOf(job: JobRecord, range: number, fields: Partial<ExportRange> = {}): ExportRange {
    return {
      appId: job.appId,
      jobId: job.jobId,
      range,
      status: "processing",
      seq: 0,
      uploadId: `upload-${range}`,
      parts: [],
      rows: 0,
      bytes: 0,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      ...fields,
    };
  }

  describe("job records", () => {
    it("creates a record once; a second create of the same id changes nothing", async () => {
      const job = await given();
      expect(await store.create({ ...job, status: "failed" })).toBe(false);
      expect((await store.get(appId, job.jobId))?.status).toBe("started");
      expect(await store.get(`${appId}-other`, job.jobId)).toBeUndefined();
    });

    it("applies a change only when every condition holds, and removes fields", async () => {
      const job = await given({ status: "processing", seq: 2, percentage: 40 });
      const owner = "owner-1";
      const leased = await store.update(appId, job.jobId, { leaseOwner: owner, leaseUntil: 100 });
      expect(leased?.leaseOwner).toBe(owner);

      expect(
        await store.update(appId, job.jobId, { percentage: 50 }, { statusIn: ["started"] }),
      ).toBeUndefined();
      expect(
        await store.update(appId, job.jobId, { percentage: 50 }, { leaseHeldBy: "other" }),
      ).toBeUndefined();
      expect(
        await store.update(appId, job.jobId, { percentage: 50 }, { leaseFreeAt: 50 }),
      ).toBeUndefined();
      expect(
        await store.update(appId, job.jobId, { percentage: 50 }, { seqAtMost: 1 }),
      ).toBeUndefined();
      expect(
        await store.update(appId, job.jobId, { percentage: 30 }, { percentageBelow: 40 }),
      ).toBeUndefined();
      expect((await store.get(appId, job.jobId))?.percentage).toBe(40);

      const moved = await store.update(
        appId,
        job.jobId,
        { percentage: 60 },
        {
          statusIn: ["processing"],
          leaseHeldBy: owner,
          leaseFreeAt: 101,
          seqAtMost: 2,
          percentageBelow: 60,
        },
        ["leaseOwner", "leaseUntil"],
      );
      expect(moved?.percentage).toBe(60);
      expect(moved?.leaseOwner).toBeUndefined();
      expect((await store.get(appId, job.jobId))?.leaseUntil).toBeUndefined();
      // A free lease (none at all) meets leaseFreeAt.
      expect(await store.update(appId, job.jobId, { seq: 3 }, { leaseFreeAt: 0 })).toMatchObject({
        seq: 3,
      });
    });

    it("does not create a record by updating a missing one, and deletes returning the record", async () => {
      expect(await store.update(appId, randomUUID(), { percentage: 1 })).toBeUndefined();
      expect(await store.get(appId, "missing")).toBeUndefined();
      const job = await given();
      expect((await store.delete(appId, job.jobId))?.jobId).toBe(job.jobId);
      expect(await store.delete(appId, job.jobId)).toBeUndefined();
      expect(await store.get(appId, job.jobId)).toBeUndefined();
    });

    it("lists an application's jobs of one kind newest first, a page at a time, and counts the open ones", async () => {
      const jobs: JobRecord[] = [];
      for (let i = 0; i < 5; i += 1) {
        const job = newJob(appId, "export", "users");
        job.createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
        job.status = i < 2 ? "finished" : i === 2 ? "processing" : "started";
        await store.create(job);
        jobs.push(job);
      }
      await store.create(newJob(appId, "import", "users"));
      await store.create(newJob(`${appId}-other`, "export", "users"));
      const first = await store.list(appId, "export", 1, 2);
      const second = await store.list(appId, "export", 2, 2);
      const third = await store.list(appId, "export", 3, 2);
      expect([...first, ...second, ...third].map((job) => job.jobId)).toEqual(
        [...jobs].reverse().map((job) => job.jobId),
      );
      expect(await store.countOpen(appId, "export", "2025-12-31T00:00:00.000Z")).toBe(3);
      expect(await store.countOpen(appId, "export", jobs[4]?.createdAt as string)).toBe(1);
      expect(await store.countOpen(appId, "import", "2025-12-31T00:00:00.000Z")).toBe(1);
    });
  });

  describe("key ranges", () => {
    it("creates a range once, updates it under conditions and deletes it", async () => {
      const job = await given();
      expect(await store.createRange(rangeOf(job, 0))).toBe(true);
      expect(await store.createRange(rangeOf(job, 0, { rows: 9 }))).toBe(false);
      expect(await store.createRange(rangeOf(job, 1))).toBe(true);
      expect((await store.getRange(appId, job.jobId, 0))?.rows).toBe(0);

      const owner = "range-owner";
      expect(
        await store.updateRange(
          appId,
          job.jobId,
          0,
          { leaseOwner: owner, leaseUntil: 10 },
          { leaseFreeAt: 5 },
        ),
      ).toMatchObject({ leaseOwner: owner });
      expect(
        await store.updateRange(appId, job.jobId, 0, { rows: 5 }, { leaseHeldBy: "else" }),
      ).toBeUndefined();
      expect(
        await store.updateRange(
          appId,
          job.jobId,
          0,
          { rows: 5, status: "finished" },
          { leaseHeldBy: owner, statusIn: ["processing"] },
          ["leaseOwner"],
        ),
      ).toMatchObject({ rows: 5, status: "finished" });
      expect((await store.getRange(appId, job.jobId, 0))?.leaseOwner).toBeUndefined();
      expect(
        await store.updateRange(appId, job.jobId, 0, { rows: 6 }, { statusIn: ["processing"] }),
      ).toBeUndefined();
      expect(await store.updateRange(appId, job.jobId, 7, { rows: 6 })).toBeUndefined();

      expect((await store.deleteRange(appId, job.jobId, 1))?.range).toBe(1);
      expect(await store.getRange(appId, job.jobId, 1)).toBeUndefined();
      // Ranges are not jobs: they are neither listed nor counted.
      expect((await store.list(appId, "export", 1, 10)).map((j) => j.jobId)).toEqual([job.jobId]);
    });
  });

  describe("nightly guards", () => {
    it("lets one run claim a night, a stale unused claim be taken over, and a release free it", async () => {
      const guard = { appId, day: "2026-01-01", resource: "users" as const, jobId: randomUUID() };
      expect(await store.claimNightly(guard, 0)).toBe(true);
      expect(await store.claimNightly({ ...guard, jobId: randomUUID() }, 0)).toBe(false);
      // Claimed before `staleBefore` and never led to a job: another run may take it.
      const second = { ...guard, jobId: randomUUID() };
      expect(await store.claimNightly(second, Date.now() + 1000)).toBe(true);
      await store.markNightlyCreated(second);
      expect(await store.claimNightly({ ...guard, jobId: randomUUID() }, Date.now() + 1000)).toBe(
        false,
      );

      const other = { ...guard, day: "2026-01-02", jobId: randomUUID() };
      expect(await store.claimNightly(other, 0)).toBe(true);
      await store.releaseNightly(other);
      expect(await store.claimNightly({ ...other, jobId: randomUUID() }, 0)).toBe(true);
    });
  });
}
