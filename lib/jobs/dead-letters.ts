import { config } from "../config.ts";
import { jobMetric, logger } from "../observability.ts";
import { jobStore } from "./dynamo-job-store.ts";
import { abortUpload } from "./files.ts";
import { parseJobMessage } from "./job-queue.ts";
import type { JobKind } from "./job-record.ts";

/** What the dead-letter consumer did with one message. */
export type DeadLetterOutcome =
  /** The job was running and is now `failed`. */
  | "failed"
  /** The job had already ended (finished, failed) or moved on to a newer message. */
  | "already-ended"
  /** The job no longer exists (deleted by its application, or expired). */
  | "unknown-job"
  /** The body is not a job message; nothing to do. */
  | "malformed";

/** The sentence an API client reads in `error_message` (and an import's `errors.Message`). */
export function deadLetterMessage(kind: JobKind, attempts = config().maxReceiveCount): string {
  const retry =
    kind === "export"
      ? "please request the export again, and contact support if it keeps failing"
      : "please upload the file again, and contact support if it keeps failing";
  return `the ${kind} could not be completed after ${attempts} attempts; ${retry}`;
}

/**
 * Settles the job of a message that SQS gave up on: a job still `started` or `processing` ends
 * `failed` with a readable message, and a running export's multipart upload is aborted. Messages
 * that are not job messages, or whose job has ended or is gone, change nothing.
 */
export async function settleDeadLetter(body: string): Promise<DeadLetterOutcome> {
  const message = parseJobMessage(body);
  if (!message) {
    logger.warn("dead letter is not a job message, dropped", { body_length: body.length });
    return "malformed";
  }
  logger.appendKeys({ app_id: message.appId, job_id: message.jobId });
  const job = await jobStore().get(message.appId, message.jobId);
  if (!job || job.kind !== message.kind) {
    logger.info("dead letter for a job that no longer exists");
    return "unknown-job";
  }
  const errorMessage = deadLetterMessage(job.kind);
  const failed = await jobStore().update(
    job.appId,
    job.jobId,
    {
      status: "failed",
      errorMessage,
      ...(job.kind === "import" ? { errors: { Message: errorMessage, Data: null } } : {}),
    },
    // A newer message of this job (an export's continuation) still carries it on.
    { statusIn: ["started", "processing"], seqAtMost: message.seq },
    ["leaseOwner", "leaseUntil", "checkpoint"],
  );
  if (!failed) {
    logger.info("dead letter for a job that has ended or moved on", { status: job.status });
    return "already-ended";
  }
  const uploadId = job.checkpoint?.uploadId;
  if (uploadId) await abortUpload(job.objectKey, uploadId);
  logger.error("job failed: its message was dead-lettered", {
    kind: job.kind,
    resource: job.resource,
    previous_status: job.status,
    aborted_upload: Boolean(uploadId),
  });
  const kind = job.kind === "export" ? "Exports" : "Imports";
  jobMetric(`${kind}DeadLettered`, "Count", 1, job.resource);
  jobMetric(`${kind}Failed`, "Count", 1, job.resource);
  return "failed";
}
