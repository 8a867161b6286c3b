import { runBackup } from "../../lib/backups/backup-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";

/**
 * Backup queue consumer: writes backup sets; a job held by another invocation, or a failure a
 * retry may cure, comes again after a short backoff; a backup whose last attempt failed ends
 * `failed` in that delivery, as the dead-letter queue would end it later.
 */
export const handler = jobConsumer(["backup"], (message, context) => runBackup(message, context), {
  giveUp: (message) => settleDeadLetter(message, "last attempt"),
});
