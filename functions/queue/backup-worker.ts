import { runBackup } from "../../lib/backups/backup-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";

/** Backup queue consumer: writes backup sets; a job held by another invocation is retried later. */
export const handler = jobConsumer(["backup"], (message, context) => runBackup(message, context));
