import type { SQSBatchResponse, SQSEvent } from "aws-lambda";

/** Not served yet: every message is reported failed and stays on the queue. */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => ({
  batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
});
