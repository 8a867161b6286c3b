import { runImport } from "../../lib/imports/import-worker.ts";
import { jobConsumer } from "../../lib/jobs/consumer.ts";

/** Import queue consumer: checks and writes import files; a job held by another invocation is retried later. */
export const handler = jobConsumer(["import"], (message, context) => runImport(message, context));
