import { runExport } from "../../lib/exports/export-worker.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";

/**
 * A stand-alone export worker process for the crash test: it runs one export message and tells
 * its parent after every uploaded part, so that the parent can kill it in the middle of the file.
 */
process.once(
  "message",
  async (input: { message: JobMessage; budgetMs: number; partBytes: number }) => {
    const deadline = Date.now() + input.budgetMs;
    await runExport(
      input.message,
      { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) },
      {
        pageRows: 500,
        partBytes: input.partBytes,
        reserveMs: 0,
        onPart: async (progress) => {
          process.send?.({ part: progress.parts });
          // Give the parent time to kill this process before the file is complete.
          await new Promise((resolve) => setTimeout(resolve, 60_000));
        },
      },
    );
    process.send?.({ done: true });
  },
);
