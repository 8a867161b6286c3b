import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { processExportRecord } from "../../lib/exports/export-worker.ts";
import { instrumented, logger } from "../../lib/observability.ts";

const processor = new BatchProcessor(EventType.SQS);

/** Export queue consumer: writes export files; a record it cannot take now is reported failed. */
export const handler = instrumented((event: SQSEvent, context) =>
  processPartialResponse(
    event,
    async (record: SQSRecord) => {
      logger.setCorrelationId(record.messageId);
      await processExportRecord(record.body, context);
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  ),
);
