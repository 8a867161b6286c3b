import { discardStaging } from "../../lib/imports/import-pipeline.ts";
import { runImport } from "../../lib/imports/import-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";
import { discardRestoreStaging } from "../../lib/restores/restore-worker.ts";

/**
 * Import queue consumer: checks and writes import files, and runs restores; a job held by
 * another invocation, or a failure a retry may cure, comes again after a short backoff; a job
 * whose last attempt failed ends `failed` (and its staging tables go) in that delivery.
 */
export const handler = jobConsumer(
  ["import", "restore"],
  (message, context) => runImport(message, context),
  {
    giveUp: async (message) => {
      const outcome = await settleDeadLetter(message, "last attempt");
      if (outcome !== "failed") return;
      if (message.kind === "restore") await discardRestoreStaging(message.jobId);
      else await discardStaging(message.jobId);
    },
  },
);
