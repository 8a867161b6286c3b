import { discardStaging } from "../../lib/imports/import-pipeline.ts";
import { runImport } from "../../lib/imports/import-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";

/**
 * Import queue consumer: checks and writes import files; a job held by another invocation, or
 * a failure a retry may cure, comes again after a short backoff; a job whose last attempt failed
 * ends `failed` (and its staging tables go) in that delivery.
 */
export const handler = jobConsumer(["import"], (message, context) => runImport(message, context), {
  giveUp: async (message) => {
    const outcome = await settleDeadLetter(message, "last attempt");
    if (outcome === "failed") await discardStaging(message.jobId);
  },
});
