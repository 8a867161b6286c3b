import { discardStaging } from "../../lib/imports/import-pipeline.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";
import { discardRestoreStaging } from "../../lib/restores/restore-worker.ts";

/**
 * Consumer of the dead-letter queue: every job whose message SQS gave up on ends `failed`.
 * A message that cannot be settled now (e.g. DynamoDB unavailable) stays on the queue; a
 * malformed one is dropped. An import (or restore) that ends here also drops its staging tables (with any
 * passwords still waiting to be hashed).
 */
export const handler = jobConsumer(["export", "import", "backup", "restore"], async (message) => {
  const outcome = await settleDeadLetter(message);
  if (outcome === "failed" && message.kind === "import") await discardStaging(message.jobId);
  if (outcome === "failed" && message.kind === "restore")
    await discardRestoreStaging(message.jobId);
  return outcome;
});
