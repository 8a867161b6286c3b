import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { processExportRecord } from "../../lib/exports/export-worker.ts";
import { logger } from "../../lib/observability.ts";

const processor = new BatchProcessor(EventType.SQS);

/** Export queue consumer: writes export files; a record it cannot take now is reported failed. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return processPartialResponse(
    event,
    async (record: SQSRecord) => {
      await processExportRecord(record.body, context);
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  );
};
