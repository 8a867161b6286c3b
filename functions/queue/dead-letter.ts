import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";
import { instrumented, logger } from "../../lib/observability.ts";

const processor = new BatchProcessor(EventType.SQS);

async function settle(record: SQSRecord): Promise<void> {
  logger.setCorrelationId(record.messageId);
  try {
    await settleDeadLetter(record.body);
  } finally {
    logger.removeKeys(["app_id", "job_id"]);
  }
}

/**
 * Consumer of the dead-letter queue: every job whose message SQS gave up on ends `failed`.
 * A message that cannot be settled now (e.g. DynamoDB unavailable) stays on the queue; a
 * malformed one is dropped.
 */
export const handler = instrumented((event: SQSEvent, context) =>
  processPartialResponse(event, settle, processor, {
    context,
    processInParallel: false,
    throwOnFullBatchFailure: false,
  }),
);
