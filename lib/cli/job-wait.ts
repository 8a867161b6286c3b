import { setTimeout as sleep } from "node:timers/promises";
import type { JobProgress, JobState } from "./progress.ts";

const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 3000;

/**
 * Polls a job until it is `finished` or `failed`, feeding its progress. The interval starts
 * short (small jobs end in a second) and grows by half each time up to 3 s, so that a long
 * job costs a request every few seconds; the client behind `fetchJob` waits out 429s.
 */
export async function waitForJob<T extends JobState>(
  fetchJob: () => Promise<T>,
  progress: JobProgress,
  options: { pollMs?: number } = {},
): Promise<T> {
  let interval = options.pollMs ?? FIRST_POLL_MS;
  for (;;) {
    const job = await fetchJob();
    if (job.status === "finished" || job.status === "failed") {
      progress.stop(job);
      return job;
    }
    progress.update(job);
    await sleep(interval);
    interval = Math.min(Math.round(interval * 1.5), MAX_POLL_MS);
  }
}
