import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { processImportMessage } from "../../lib/imports/import-worker.ts";
import { parseJobMessage } from "../../lib/jobs/job-queue.ts";
import { instrumented, logger } from "../../lib/observability.ts";

const processor = new BatchProcessor(EventType.SQS);

async function handleRecord(record: SQSRecord, context: Context): Promise<void> {
  logger.setCorrelationId(record.messageId);
  const message = parseJobMessage(record.body);
  if (message?.kind !== "import") {
    logger.warn("not an import message; dropped", { message_id: record.messageId });
    return;
  }
  await processImportMessage(message, context);
}

/** Import queue consumer: a message that fails returns to the queue (partial batch response). */
export const handler = instrumented((event: SQSEvent, context) =>
  processPartialResponse(event, (record: SQSRecord) => handleRecord(record, context), processor, {
    context,
    throwOnFullBatchFailure: false,
  }),
);
