import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";
import { parseJobMessage } from "../../lib/jobs/job-queue.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { freePort } from "../../scripts/local/emulators.ts";
import {
  getExport,
  insertManyComments,
  requestExport,
  sqsEvent,
  takeExportMessage,
} from "../exports/export-fixtures.ts";
import { drainQueue, newApp, runtime, stack } from "../support/harness.ts";

/** A Lambda container of its own whose S3 endpoint is a port nobody listens on. */
let child: ChildProcess;
const replies: ((reply: { result?: SQSBatchResponse; error?: string; ms: number }) => void)[] = [];

function deliverInOutage(message: JobMessage) {
  return new Promise<{ result?: SQSBatchResponse; error?: string; ms: number }>((resolve) => {
    replies.push(resolve);
    child.send({ functionName: "exportWorker", event: sqsEvent(message) });
  });
}

beforeAll(async () => {
  const deadPort = await freePort();
  child = fork(join(import.meta.dirname, "worker-child.ts"), {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${deadPort}`,
      LEASE_MARGIN_MS: "0",
    },
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  await new Promise<void>((resolve) => {
    child.once("message", () => resolve());
  });
  child.on("message", (reply: { result?: SQSBatchResponse; error?: string; ms: number }) =>
    replies.shift()?.(reply),
  );
});

afterAll(() => {
  child?.kill();
});

describe("S3 unavailable for a while", () => {
  it("given S3 down, when the export is delivered, then the SDK retries with backoff, the delivery is reported failed and nothing is lost; when S3 is back, the same message finishes the file", async () => {
    const app = await newApp();
    await insertManyComments(app, 500);
    const jobId = await requestExport(app, { type: "comments" });
    const message = await takeExportMessage(jobId);

    const outage = await deliverInOutage(message);
    expect(outage.error).toBeUndefined();
    expect(outage.result?.batchItemFailures).toHaveLength(1);
    // The SDK's standard retry strategy (3 attempts, exponential backoff with jitter) ran first.
    expect(outage.ms).toBeGreaterThan(100);
    const during = await jobStore().get(app.appId, jobId);
    expect(["started", "processing"]).toContain(during?.status);
    expect(during?.leaseOwner).toBeUndefined();

    const recovered = (await runtime.invoke("exportWorker", sqsEvent(message))) as SQSBatchResponse;
    expect(recovered.batchItemFailures).toEqual([]);
    const record = await getExport(app, jobId);
    expect(record.status).toBe("finished");
    expect(record.total_rows).toBe(500);
  }, 60_000);

  it("given S3 down for good, when every delivery fails, then SQS moves the message to the dead-letter queue and the job ends failed, never stuck in processing", async () => {
    const app = await newApp();
    await insertManyComments(app, 10);
    const jobId = await requestExport(app, { type: "comments" });
    const queueUrl = stack.queues.ExportQueue as string;
    let deliveries = 0;
    // Receive the job's message as Lambda's event source would, until SQS stops handing it out.
    for (let round = 0; round < 40; round += 1) {
      const { Messages = [] } = await sqs().send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      const ours = Messages.filter((m) => parseJobMessage(m.Body ?? "")?.jobId === jobId);
      for (const other of Messages.filter((m) => !ours.includes(m))) {
        await sqs().send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: other.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      const mine = ours[0];
      if (!mine) {
        if (deliveries >= 5) break;
        continue;
      }
      deliveries += 1;
      const outage = await deliverInOutage(parseJobMessage(mine.Body ?? "") as JobMessage);
      expect(outage.result?.batchItemFailures).toHaveLength(1);
      await sqs().send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: mine.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    expect(deliveries).toBe(5);
    await drainQueue("DeadLetterQueue");
    const record = await getExport(app, jobId);
    expect(record.status).toBe("failed");
    expect(record.error_message).toMatch(/could not be completed/);
  }, 60_000);
});
