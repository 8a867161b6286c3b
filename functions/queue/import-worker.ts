import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { processImportMessage } from "../../lib/imports/import-worker.ts";
import { parseJobMessage } from "../../lib/jobs/job-queue.ts";
import { logger, metrics } from "../../lib/observability.ts";

const processor = new BatchProcessor(EventType.SQS);

async function handleRecord(record: SQSRecord): Promise<void> {
  const message = parseJobMessage(record.body);
  if (message?.kind !== "import") {
    logger.warn("not an import message; dropped", { message_id: record.messageId });
    return;
  }
  await processImportMessage(message);
}

/** Import queue consumer: a message that fails returns to the queue (partial batch response). */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await processPartialResponse(event, handleRecord, processor, {
      context,
      throwOnFullBatchFailure: false,
    });
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
