import { runImport } from "../../lib/imports/import-worker.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";

/**
 * A stand-alone import worker process for the restore crash test: it runs one restore message
 * with a short invocation budget, so that its lease runs out soon after its parent kills it.
 */
process.once("message", async (input: { message: JobMessage; budgetMs: number }) => {
  const deadline = Date.now() + input.budgetMs;
  try {
    const outcome = await runImport(input.message, {
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    });
    process.send?.({ outcome });
  } catch (error) {
    process.send?.({ error: (error as Error).message });
  }
});
process.send?.({ ready: true });
