import { runExport } from "../../lib/exports/export-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";

/**
 * Export queue consumer: writes export files; a job held by another invocation, or a failure a
 * retry may cure, comes again after a short backoff; a job whose last attempt failed ends
 * `failed` in that delivery.
 */
export const handler = jobConsumer(["export"], (message, context) => runExport(message, context), {
  giveUp: (message) => settleDeadLetter(message, "last attempt"),
});
