import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { type JobMessage, useJobQueue } from "../../lib/jobs/job-queue.ts";
import type { JobRecord } from "../../lib/jobs/job-record.ts";
import { type JobStore, useJobStore } from "../../lib/jobs/job-store.ts";
import { newJob } from "../../lib/jobs/jobs.ts";
import {
  ALLOWED_MOVES,
  cancel,
  canMove,
  claim,
  failAbandoned,
  Lease,
  LeaseLostError,
  open,
  PermanentJobError,
  runLeased,
} from "../../lib/jobs/lifecycle/index.ts";
import { lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { sqsEvent } from "../../scripts/local/sqs-event.ts";

const clock = { getRemainingTimeInMillis: () => 60_000 };

/**
 * The job lifecycle's tests against a job store: the unit tier runs them on the in-memory store,
 * `job-store.dynamodb-local.test.ts` on the DynamoDB store against Amazon's DynamoDB Local.
 */
export function lifecycleSuite(makeStore: () => JobStore | Promise<JobStore>): void {
  let store: JobStore;
  let sent: JobMessage[];

  beforeEach(async () => {
    store = await makeStore();
    sent = [];
    useJobStore(store);
    useJobQueue({ send: async (message) => void sent.push(message) });
  });

  afterEach(() => {
    useJobStore(undefined);
    useJobQueue(undefined);
  });

  async function given(fields: Partial<JobRecord> = {}): Promise<JobRecord> {
    const job = { ...newJob("app-1", fields.kind ?? "export", "comments"), ...fields };
    await store.create(job);
    return job;
  }

  function messageOf(job: JobRecord, seq = job.seq): JobMessage {
    return { kind: job.kind, appId: job.appId, jobId: job.jobId, seq };
  }

  async function leased(job: JobRecord): Promise<Lease> {
    const lease = await claim(messageOf(job), clock);
    if (!(lease instanceof Lease)) throw new Error(`expected a lease, got ${lease}`);
    return lease;
  }

  describe("the table of status changes", () => {
    it("lets a job only move forward, and never out of finished or failed", () => {
      expect(canMove("started", "processing")).toBe(true);
      expect(canMove("processing", "finished")).toBe(true);
      expect(canMove("started", "failed")).toBe(true);
      expect(canMove("processing", "started")).toBe(false);
      expect(canMove("started", "finished")).toBe(false);
      expect(ALLOWED_MOVES.finished).toEqual([]);
      expect(ALLOWED_MOVES.failed).toEqual([]);
    });
  });

  describe("claim", () => {
    it("given a started job, when its message is claimed, then the job is processing under that lease", async () => {
      const job = await given();
      const lease = await leased(job);
      const record = await store.get(job.appId, job.jobId);
      expect(record).toMatchObject({ status: "processing", seq: 0, leaseOwner: lease.owner });
      expect(record?.leaseUntil).toBeGreaterThan(Date.now() + 59_000);
    });

    it("given a job held by a live lease, when a duplicate message comes, then it is busy", async () => {
      const job = await given();
      await leased(job);
      expect(await claim(messageOf(job), clock)).toBe("busy");
    });

    it("given a lease whose holder died (expired), when the message comes back, then it is taken over", async () => {
      const job = await given({ status: "processing", leaseOwner: "dead", leaseUntil: 1 });
      const lease = await leased(job);
      expect(lease.owner).not.toBe("dead");
    });

    it("given an ended, unknown, other-kind or newer job, when an old message comes, then it is dropped", async () => {
      const finished = await given({ status: "finished" });
      const failed = await given({ status: "failed" });
      const newer = await given({ status: "processing", seq: 3 });
      const imported = await given({ kind: "import" });
      expect(await claim(messageOf(finished), clock)).toBe("dropped");
      expect(await claim(messageOf(failed), clock)).toBe("dropped");
      expect(await claim(messageOf(newer, 2), clock)).toBe("dropped");
      expect(await claim({ ...messageOf(imported), kind: "export" }, clock)).toBe("dropped");
      expect(await claim({ ...messageOf(finished), jobId: "nope" }, clock)).toBe("dropped");
    });
  });

  describe("a lease", () => {
    it("given a lease taken over by another invocation, when its holder writes, then LeaseLostError", async () => {
      const job = await given();
      const first = await leased(job);
      await store.update(job.appId, job.jobId, { leaseUntil: 1 });
      await leased(job);
      await expect(first.checkpoint({ percentage: 10 })).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.get(job.appId, job.jobId))?.percentage).toBe(0);
    });

    it("given a hand-over, then the next message is queued, the lease is free and only that message carries on", async () => {
      const job = await given();
      const lease = await leased(job);
      await lease.handOver();
      expect(sent).toEqual([messageOf(job, 1)]);
      expect(await store.get(job.appId, job.jobId)).toMatchObject({ seq: 1, status: "processing" });
      expect((await store.get(job.appId, job.jobId))?.leaseOwner).toBeUndefined();
      expect(await claim(messageOf(job, 0), clock)).toBe("dropped");
      expect(await leased({ ...job, seq: 1 })).toBeInstanceOf(Lease);
    });

    it("given a continuation that arrives before its sender let go, then it waits for the hand-over", async () => {
      const job = await given();
      const lease = await leased(job);
      const continuation = claim(messageOf(job, 1), clock);
      setTimeout(
        () => void store.update(job.appId, job.jobId, { seq: 1 }, {}, ["leaseOwner", "leaseUntil"]),
        100,
      );
      expect(await continuation).toBeInstanceOf(Lease);
      await expect(lease.checkpoint({})).rejects.toBeInstanceOf(LeaseLostError);
    });

    it("given a finished job, then nothing moves it again", async () => {
      const job = await given();
      const lease = await leased(job);
      await lease.finish({ percentage: 100, totalRows: 5 });
      expect(await store.get(job.appId, job.jobId)).toMatchObject({
        status: "finished",
        totalRows: 5,
      });
      await expect(lease.fail("late")).rejects.toBeInstanceOf(LeaseLostError);
      expect(await failAbandoned(messageOf(job), "dead letter")).toBeUndefined();
      expect((await store.get(job.appId, job.jobId))?.status).toBe("finished");
    });
  });

  describe("runLeased: the one place where errors become outcomes", () => {
    it("given a permanent error, then the job fails with the reason and the work's failed step runs", async () => {
      const job = await given({ kind: "import" });
      let undone = false;
      const outcome = await runLeased(messageOf(job), clock, () => ({
        run: async () => {
          throw new PermanentJobError(
            "2 of 3 users rows break the import rules, so nothing was imported.",
            [{ row: 1, field: "Email", message: "bad" }],
          );
        },
        failed: async () => {
          undone = true;
        },
      }));
      expect(outcome).toBe("failed");
      expect(undone).toBe(true);
      const record = await store.get(job.appId, job.jobId);
      expect(record).toMatchObject({
        status: "failed",
        errors: {
          Message: "2 of 3 users rows break the import rules, so nothing was imported.",
          Data: [{ row: 1, field: "Email", message: "bad" }],
        },
      });
      expect(record?.leaseOwner).toBeUndefined();
    });

    it("given a transient error, then it is thrown for a retry and the lease is let go at once", async () => {
      const job = await given();
      await expect(
        runLeased(messageOf(job), clock, () => ({
          run: async () => {
            throw new Error("database unreachable");
          },
        })),
      ).rejects.toThrow("database unreachable");
      const record = await store.get(job.appId, job.jobId);
      expect(record?.status).toBe("processing");
      expect(record?.leaseOwner).toBeUndefined();
      expect(await claim(messageOf(job), clock)).toBeInstanceOf(Lease);
    });

    it("given the job deleted while it runs, then the outcome is cancelled and the work cleans up", async () => {
      const job = await given();
      let cleaned = false;
      const outcome = await runLeased(messageOf(job), clock, (lease) => ({
        run: async () => {
          await cancel(job.appId, job.jobId);
          await lease.checkpoint({ percentage: 50 });
          return "finished";
        },
        cancelled: async () => {
          cleaned = true;
        },
      }));
      expect(outcome).toBe("cancelled");
      expect(cleaned).toBe(true);
      expect(await store.get(job.appId, job.jobId)).toBeUndefined();
    });

    it("given the lease taken over while it runs, then the outcome is busy and nothing is cleaned", async () => {
      const job = await given();
      let cleaned = false;
      const outcome = await runLeased(messageOf(job), clock, (lease) => ({
        run: async () => {
          await store.update(job.appId, job.jobId, { leaseOwner: "someone-else" });
          await lease.finish({});
          return "finished";
        },
        cancelled: async () => {
          cleaned = true;
        },
      }));
      expect(outcome).toBe("busy");
      expect(cleaned).toBe(false);
      expect((await store.get(job.appId, job.jobId))?.status).toBe("processing");
    });
  });

  describe("jobs that never ran", () => {
    it("given a queue that refuses the first message, when a job opens, then it ends failed and the caller hears of it", async () => {
      useJobQueue({
        send: async () => {
          throw new Error("queue unavailable");
        },
      });
      const job = newJob("app-1", "export", "users");
      await expect(open(job, "the export could not be queued")).rejects.toThrow(
        "queue unavailable",
      );
      expect(await store.get(job.appId, job.jobId)).toMatchObject({
        status: "failed",
        errorMessage: "the export could not be queued",
      });
    });

    it("given a dead-lettered message, then an open job fails unless a newer message carries it", async () => {
      const open1 = await given({
        status: "processing",
        seq: 2,
        leaseOwner: "x",
        leaseUntil: Date.now() + 1e6,
      });
      const movedOn = await given({ status: "processing", seq: 3 });
      expect(await failAbandoned(messageOf(open1), "gave up")).toMatchObject({
        status: "failed",
        errorMessage: "gave up",
      });
      expect((await store.get(open1.appId, open1.jobId))?.leaseOwner).toBeUndefined();
      expect(await failAbandoned(messageOf(movedOn, 1), "gave up")).toBeUndefined();
    });
  });

  describe("the queue consumer", () => {
    it("reports busy and failing messages for a retry, drops malformed ones, and deletes the rest", async () => {
      const outcomes: Record<string, () => Promise<"finished" | "busy">> = {
        a: async () => "finished",
        b: async () => "busy",
        c: async () => {
          throw new Error("transient");
        },
      };
      const handler = jobConsumer(["export"], (message) =>
        (outcomes[message.jobId] as () => Promise<"finished">)(),
      );
      const body = (jobId: string) =>
        JSON.stringify({ kind: "export", appId: "app-1", jobId, seq: 0 });
      const event: SQSEvent = sqsEvent(
        [
          { body: body("a"), messageId: "m-a" },
          { body: body("b"), messageId: "m-b" },
          { body: body("c"), messageId: "m-c" },
          { body: "not json", messageId: "m-d" },
          {
            body: JSON.stringify({ kind: "import", appId: "x", jobId: "y", seq: 0 }),
            messageId: "m-e",
          },
        ],
        "arn:aws:sqs:us-east-1:000000000000:exports",
      );
      const result = (await handler(
        event,
        lambdaContext({ name: "exportWorker", timeoutSeconds: 60 }),
      )) as SQSBatchResponse;
      expect(result.batchItemFailures.map((item) => item.itemIdentifier).sort()).toEqual([
        "m-b",
        "m-c",
      ]);
    });
  });
}
