import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { instrumented, logger } from "../observability.ts";
import { type JobMessage, parseJobMessage } from "./job-queue.ts";
import type { JobKind } from "./job-record.ts";
import type { JobOutcome } from "./lifecycle/index.ts";

/** Another invocation holds the job: the message goes back to the queue and comes again later. */
export class JobBusyError extends Error {
  override name = "JobBusyError";
}

/**
 * The Lambda handler of a job queue. Each record is one job message, handled one after another
 * with the message id as correlation id and the job's app and job ids on every log line:
 * - not a job message of `kinds`: dropped (deleted) with a warning, since no retry can help;
 * - outcome `busy`, or any error thrown by `handle`: reported in `batchItemFailures`, so SQS
 *   delivers it again (and after the queue's maximum tries, to the dead-letter queue);
 * - any other outcome: done, deleted.
 * Permanent failures never reach here as errors: the lifecycle ends those jobs `failed`.
 */
export function jobConsumer(
  kinds: readonly JobKind[],
  handle: (message: JobMessage, context: Context) => Promise<JobOutcome>,
) {
  const handleRecord = async (record: SQSRecord, context: Context): Promise<JobOutcome> => {
    logger.setCorrelationId(record.messageId);
    const message = parseJobMessage(record.body);
    if (!message || !kinds.includes(message.kind)) {
      logger.warn("not a job message for this queue; dropped", {
        body_length: record.body.length,
      });
      return "dropped";
    }
    logger.appendKeys({ app_id: message.appId, job_id: message.jobId });
    try {
      const outcome = await handle(message, context);
      logger.debug("job message handled", { kind: message.kind, seq: message.seq, outcome });
      if (outcome === "busy") {
        throw new JobBusyError(`${message.kind} ${message.jobId} is held by another invocation`);
      }
      return outcome;
    } finally {
      logger.removeKeys(["app_id", "job_id"]);
    }
  };
  return instrumented((event: SQSEvent, context) =>
    processPartialResponse(
      event,
      (record: SQSRecord) => handleRecord(record, context),
      // One processor per invocation: its state belongs to this batch, also where invocations
      // share a process (Lambda's multi-concurrency mode keeps it in the invocation's context).
      new BatchProcessor(EventType.SQS),
      {
        context,
        // One record at a time: log keys belong to one job.
        processInParallel: false,
        throwOnFullBatchFailure: false,
      },
    ),
  );
}
