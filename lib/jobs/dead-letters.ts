import { config } from "../config.ts";
import { jobMetric, logger } from "../observability.ts";
import { abortUpload } from "./files.ts";
import type { JobMessage } from "./job-queue.ts";
import type { JobKind } from "./job-record.ts";
import { jobStore } from "./job-store.ts";
import { failAbandoned, type JobOutcome } from "./lifecycle/index.ts";

/** The sentence an API client reads in `error_message` (and an import's `errors.Message`). */
export function deadLetterMessage(kind: JobKind, attempts = config().maxReceiveCount): string {
  const retry =
    kind === "import"
      ? "please upload the file again, and contact support if it keeps failing"
      : kind === "restore"
        ? "please start the restore again (it skips what is already restored), and contact support if it keeps failing"
        : `please request the ${kind} again, and contact support if it keeps failing`;
  return `the ${kind} could not be completed after ${attempts} attempts; ${retry}`;
}

/**
 * Settles the job of a message that SQS gave up on: a job still `started` or `processing` ends
 * `failed` with a readable message ("failed"), and a running export's multipart upload is
 * aborted. A job that has ended, moved on to a newer message or is gone changes nothing ("dropped").
 */
export async function settleDeadLetter(
  message: JobMessage,
  /** Where SQS's giving up is seen: the dead-letter queue, or the worker's last allowed attempt. */
  seenBy: "dead-letter queue" | "last attempt" = "dead-letter queue",
): Promise<JobOutcome> {
  const job = await jobStore().get(message.appId, message.jobId);
  if (job?.kind !== message.kind) {
    logger.info("dead letter for a job that no longer exists");
    return "dropped";
  }
  if (!(await failAbandoned(message, deadLetterMessage(job.kind)))) {
    logger.info("dead letter for a job that has ended or moved on", { status: job.status });
    return "dropped";
  }
  const uploadId = job.checkpoint?.uploadId;
  if (uploadId) {
    await abortUpload(job.checkpoint?.uploadKey ?? job.objectKey, uploadId);
  }
  logger.error(`job failed: its message was given up on (${seenBy})`, {
    kind: job.kind,
    resource: job.resource,
    previous_status: job.status,
    aborted_upload: Boolean(uploadId),
  });
  const kind = { export: "Exports", import: "Imports", backup: "Backups", restore: "Restores" }[
    job.kind
  ];
  // A backup's and a restore's metrics are for the set as a whole.
  const resource = job.kind === "backup" || job.kind === "restore" ? "all" : job.resource;
  if (seenBy === "dead-letter queue") jobMetric(`${kind}DeadLettered`, "Count", 1, resource);
  jobMetric(`${kind}Failed`, "Count", 1, resource);
  return "failed";
}
