import { runExport } from "../../lib/exports/export-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";

/** Export queue consumer: writes export files; a job held by another invocation is retried later. */
export const handler = jobConsumer(["export"], (message, context) => runExport(message, context));
