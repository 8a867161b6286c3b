import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { config } from "../config.ts";
import { instrumented, logger } from "../observability.ts";
import { retryBackoffSeconds } from "./failures.ts";
import { type JobMessage, parseJobMessage, setMessageVisibility } from "./job-queue.ts";
import type { JobKind } from "./job-record.ts";
import type { JobOutcome } from "./lifecycle/index.ts";

/** Another invocation holds the job: the message goes back to the queue and comes again later. */
export class JobBusyError extends Error {
  override name = "JobBusyError";
}

/** How a worker queue's consumer treats a message that failed. */
export interface RetryPolicy {
  /**
   * Ends the job of a message whose last attempt (the queue's MAX_RECEIVE_COUNT) failed, in that
   * very delivery, as the dead-letter queue would later.
   */
  giveUp(message: JobMessage): Promise<unknown>;
}

/** A message whose invocation dies (timeout, crash) comes again this long after its end. */
const CRASH_MARGIN_SECONDS = 60;

/**
 * The Lambda handler of a job queue. Each record is one job message, handled one after another
 * with the message id as correlation id and the job's app and job ids on every log line:
 * - not a job message of `kinds`: dropped (deleted) with a warning, since no retry can help;
 * - outcome `busy`, or any error thrown by `handle`: reported in `batchItemFailures`, so SQS
 *   delivers it again (and after the queue's maximum tries, to the dead-letter queue);
 * - any other outcome: done, deleted.
 * Permanent failures never reach here as errors: the lifecycle ends those jobs `failed`.
 *
 * With a `retry` policy (the worker queues), a message never waits for the queue's long
 * visibility timeout: while it runs it is hidden for the invocation's remaining time plus a
 * minute (so a dead invocation's message is back soon after), a failed one comes again after a
 * short backoff (JOB_RETRY_BASE_SECONDS doubling, at most JOB_RETRY_MAX_SECONDS), and when the
 * last allowed attempt fails the job ends `failed` at once instead of waiting for the
 * dead-letter queue (which stays the last resort).
 */
export function jobConsumer(
  kinds: readonly JobKind[],
  handle: (message: JobMessage, context: Context) => Promise<JobOutcome>,
  retry?: RetryPolicy,
) {
  const handleRecord = async (record: SQSRecord, context: Context): Promise<JobOutcome> => {
    const message = parseJobMessage(record.body);
    if (!retry || !message || !kinds.includes(message.kind)) return handleMessage(record, context);
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? 1) || 1;
    const remainingSeconds = context.getRemainingTimeInMillis() / 1000;
    await setMessageVisibility(
      message.kind,
      record.receiptHandle,
      remainingSeconds + CRASH_MARGIN_SECONDS,
    );
    try {
      return await handleMessage(record, context);
    } catch (error) {
      const { baseSeconds, maxSeconds } = config().retryBackoff;
      if (!(error instanceof JobBusyError) && attempt >= config().maxReceiveCount) {
        logger.error("job message failed on its last attempt; the job ends failed", {
          app_id: message.appId,
          job_id: message.jobId,
          attempt,
          error: error as Error,
        });
        await retry.giveUp(message);
        return "failed";
      }
      const delay = retryBackoffSeconds(attempt, baseSeconds, maxSeconds);
      await setMessageVisibility(message.kind, record.receiptHandle, delay);
      logger.warn("job message failed; it comes again after a backoff", {
        app_id: message.appId,
        job_id: message.jobId,
        attempt,
        retry_in_seconds: delay,
        error: error as Error,
      });
      throw error;
    }
  };
  const handleMessage = async (record: SQSRecord, context: Context): Promise<JobOutcome> => {
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
