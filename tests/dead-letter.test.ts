import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { sqs } from "../lib/aws/sqs.ts";
import type { JobRecord } from "../lib/jobs/job-record.ts";
import { jobStore } from "../lib/jobs/job-store.ts";
import { newJob } from "../lib/jobs/jobs.ts";
import { sqsEvent } from "../scripts/local/sqs-event.ts";
import { call, drainQueue, newApp, runtime, stack } from "./support/harness.ts";

/** An SQS event from the dead-letter queue, as Lambda's event source mapping delivers it. */
function deadLetterEvent(...bodies: string[]): SQSEvent {
  return sqsEvent(
    bodies.map((body) => ({ body })),
    "arn:aws:sqs:us-east-1:000000000000:dead-letters",
  );
}

function messageFor(job: JobRecord, seq = job.seq) {
  return JSON.stringify({ kind: job.kind, appId: job.appId, jobId: job.jobId, seq });
}

async function storedJob(fields: Partial<JobRecord> & Pick<JobRecord, "kind">) {
  const app = await newApp();
  const job = newJob(app.appId, fields.kind, "users", fields);
  await jobStore().create(job);
  return job;
}

async function waitingMessages(queue: string): Promise<number> {
  const { Attributes } = await sqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.queues[queue],
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

describe("dead letters", () => {
  it("given an export whose every delivery fails, when its message dead-letters, then the job ends failed with a readable message", async () => {
    const app = await newApp();
    const created = await call("POST", "/api/v2.1/rest/exports", { app, json: { type: "users" } });
    expect(created.status).toBe(200);
    const jobId = created.body.results.unique_id as string;
    // A worker that died holding the job's lease: every delivery finds the job busy.
    await jobStore().update(app.appId, jobId, {
      status: "processing",
      leaseOwner: "worker-that-died",
      leaseUntil: Date.now() + 60 * 60 * 1000,
    });

    await drainQueue("ExportQueue");
    const deadLetters = await drainQueue("DeadLetterQueue");

    expect(deadLetters).toBeGreaterThanOrEqual(1);
    const response = await call("GET", `/api/v2.1/rest/exports/${jobId}`, { app });
    expect(response.body.results.backup_history).toMatchObject({
      status: "failed",
      download_url: "",
    });
    expect(response.body.results.backup_history.error_message).toMatch(
      /^the export could not be completed after 5 attempts; /,
    );
    expect(await waitingMessages("DeadLetterQueue")).toBe(0);
  });

  it("given a running export with an open upload, when its message dead-letters, then the upload is given up and the lease released", async () => {
    const job = await storedJob({
      kind: "export",
      status: "processing",
      seq: 2,
      leaseOwner: "worker-that-died",
      leaseUntil: Date.now() + 60_000,
      checkpoint: {
        cutId: 10,
        expectedRows: 10,
        uploadId: "upload-that-never-completed",
        parts: [],
        rows: 0,
        bytes: 0,
        hashState: "",
      },
    });

    const result = (await runtime.invoke(
      "deadLetter",
      deadLetterEvent(messageFor(job)),
    )) as SQSBatchResponse;

    expect(result.batchItemFailures).toEqual([]);
    const after = await jobStore().get(job.appId, job.jobId);
    expect(after?.status).toBe("failed");
    expect(after?.checkpoint).toBeUndefined();
    expect(after?.leaseOwner).toBeUndefined();
  });

  it("given an import still processing, when its message dead-letters, then its errors say why in one sentence", async () => {
    const job = await storedJob({ kind: "import", status: "processing" });

    await runtime.invoke("deadLetter", deadLetterEvent(messageFor(job)));

    const after = await jobStore().get(job.appId, job.jobId);
    expect(after?.status).toBe("failed");
    expect(after?.errors).toEqual({
      Message: expect.stringMatching(/^the import could not be completed after 5 attempts; /),
      Data: null,
    });
  });

  it("given jobs that have ended or moved on, when old messages dead-letter, then nothing changes", async () => {
    const finished = await storedJob({ kind: "export", status: "finished", percentage: 100 });
    const movedOn = await storedJob({ kind: "export", status: "processing", seq: 3 });

    const result = (await runtime.invoke(
      "deadLetter",
      deadLetterEvent(messageFor(finished), messageFor(movedOn, 1)),
    )) as SQSBatchResponse;

    expect(result.batchItemFailures).toEqual([]);
    expect(await jobStore().get(finished.appId, finished.jobId)).toMatchObject({
      status: "finished",
      errorMessage: "",
    });
    expect(await jobStore().get(movedOn.appId, movedOn.jobId)).toMatchObject({
      status: "processing",
      errorMessage: "",
    });
  });

  it("given malformed and orphaned messages on the dead-letter queue, when it is drained, then they are dropped without failing", async () => {
    const queueUrl = stack.queues.DeadLetterQueue;
    for (const body of [
      "not json at all",
      JSON.stringify({ kind: "export", appId: "x" }),
      JSON.stringify({ kind: "export", appId: "no-such-app", jobId: randomUUID(), seq: 0 }),
    ]) {
      await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    }

    const delivered = await drainQueue("DeadLetterQueue");

    expect(delivered).toBe(3);
    expect(await waitingMessages("DeadLetterQueue")).toBe(0);
  });
});
