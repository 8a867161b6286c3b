import type { SQSBatchResponse } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { permanentFailure, retryBackoffSeconds } from "../../lib/jobs/failures.ts";
import { type JobMessage, useJobQueue } from "../../lib/jobs/job-queue.ts";
import { useJobStore } from "../../lib/jobs/job-store.ts";
import { newJob } from "../../lib/jobs/jobs.ts";
import { runLeased } from "../../lib/jobs/lifecycle/index.ts";
import { lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { sqsEvent } from "../../scripts/local/sqs-event.ts";
import { MemoryJobStore } from "../support/memory-job-store.ts";

let store: MemoryJobStore;
let visibility: { receipt: string; seconds: number }[];

beforeEach(() => {
  store = new MemoryJobStore();
  visibility = [];
  useJobStore(store);
  useJobQueue({
    send: async () => {},
    setVisibility: async (_kind, receipt, seconds) => void visibility.push({ receipt, seconds }),
  });
});

afterEach(() => {
  useJobStore(undefined);
  useJobQueue(undefined);
});

const message: JobMessage = { kind: "import", appId: "app-1", jobId: "job-1", seq: 0 };

/** One delivery of `message`, as its `attempt`-th receive, to a consumer running `handle`. */
async function deliver(
  handle: () => Promise<"finished">,
  attempt: number,
  giveUp: (m: JobMessage) => Promise<unknown> = async () => {},
) {
  const handler = jobConsumer(["import"], handle, { giveUp });
  const event = sqsEvent(
    [
      {
        body: JSON.stringify(message),
        messageId: "m-1",
        receiptHandle: "r-1",
        receiveCount: String(attempt),
      },
    ],
    "arn:aws:sqs:us-east-1:000000000000:imports",
  );
  const context = lambdaContext({ name: "importWorker", timeoutSeconds: 900 });
  return (await handler(event, context)) as SQSBatchResponse;
}

const transient = () =>
  Promise.reject(Object.assign(new Error("connection reset"), { code: "ECONNRESET" }));

describe("a failed job message comes again soon, and the last attempt ends the job", () => {
  it("given a transient failure on attempts 1 to 4, then each comes back after 10, 20, 40, 80 s, never the queue's 90 minutes", async () => {
    for (const [attempt, seconds] of [
      [1, 10],
      [2, 20],
      [3, 40],
      [4, 80],
    ] as const) {
      visibility = [];
      const result = await deliver(transient, attempt);
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]);
      // While it ran: hidden for the invocation's time plus a minute; then the backoff.
      expect(visibility[0]?.seconds).toBeGreaterThan(900);
      expect(visibility[0]?.seconds).toBeLessThanOrEqual(961);
      expect(visibility.at(-1)).toEqual({ receipt: "r-1", seconds });
    }
  });

  it("given the last allowed attempt fails, then the job is given up in that delivery and the message is not retried", async () => {
    const givenUp: JobMessage[] = [];
    const result = await deliver(transient, 5, async (m) => void givenUp.push(m));
    expect(givenUp).toEqual([message]);
    expect(result.batchItemFailures).toEqual([]);
  });

  it("given a success, then the message is not kept back", async () => {
    const result = await deliver(async () => "finished", 1);
    expect(result.batchItemFailures).toEqual([]);
    expect(visibility).toHaveLength(1);
  });

  it("given the backoff settings, then it doubles up to its maximum", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryBackoffSeconds(n, 10, 300))).toEqual([
      10, 20, 40, 80, 160, 300, 300,
    ]);
  });
});

describe("an error no retry can cure ends the job in that delivery", () => {
  it("given PostgreSQL data exceptions, integrity violations, limits and RangeErrors, then a sentence; connection and timeout errors retry", () => {
    const pg = (code: string, message = "x") => Object.assign(new Error(message), { code });
    expect(permanentFailure(pg("22P05", "unsupported Unicode escape sequence"))).toMatch(
      /^The job failed because the chat database cannot store a value of the file \(unsupported Unicode escape sequence\); retrying cannot help\.$/,
    );
    expect(permanentFailure(pg("23505"))).toMatch(/refused the write/);
    expect(permanentFailure(pg("54001"))).toMatch(/beyond a limit/);
    expect(permanentFailure(new RangeError("Maximum call stack size exceeded"))).toMatch(/deeply/);
    for (const code of ["08006", "57014", "55P03", "40P01", "53300", "ECONNRESET"]) {
      expect(permanentFailure(pg(code)), code).toBeUndefined();
    }
    expect(permanentFailure(new Error("S3 is down"))).toBeUndefined();
  });

  it("given a job whose work throws a data exception, then it ends failed at once with that sentence", async () => {
    const job = { ...newJob("app-1", "import", "comments") };
    await store.create(job);
    const outcome = await runLeased(
      { kind: "import", appId: job.appId, jobId: job.jobId, seq: 0 },
      { getRemainingTimeInMillis: () => 60_000 },
      () => ({
        run: () =>
          Promise.reject(Object.assign(new Error("value out of range"), { code: "22003" })),
      }),
    );
    expect(outcome).toBe("failed");
    const record = await store.get(job.appId, job.jobId);
    expect(record?.status).toBe("failed");
    expect(record?.errorMessage).toMatch(/cannot store a value .*value out of range/);
  });
});
