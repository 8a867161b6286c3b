import { runBackup } from "../../lib/backups/backup-worker.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";

/**
 * A stand-alone backup worker process for the crash test: it runs one backup message and tells
 * its parent after every part of the comments file, so that the parent can kill it in the middle.
 */
process.once("message", async (input: { message: JobMessage; partBytes: number }) => {
  // A short invocation, so that its lease (the time left plus no margin) runs out soon after the kill.
  const deadline = Date.now() + 4000;
  await runBackup(
    input.message,
    { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) },
    {
      pageRows: 500,
      partBytes: input.partBytes,
      reserveMs: 0,
      onPart: async (progress) => {
        if (progress.resource !== "comments") return;
        process.send?.({ part: progress.parts });
        // Give the parent time to kill this process before the file is complete.
        await new Promise((resolve) => setTimeout(resolve, 60_000));
      },
    },
  );
  process.send?.({ done: true });
});
