import type { Application } from "../chat-db/applications.ts";
import { config } from "../config.ts";
import { ThrottledError } from "../errors.ts";
import type { JobKind } from "./job-record.ts";
import { jobStore } from "./job-store.ts";

/**
 * Only jobs created this recently count as open: a job whose creating request died before its
 * message was queued stays `started` with nobody to move it, and must not hold a slot forever.
 * Longer than any job waits in its queue and runs (SQS keeps a message 4 days at most, but a job
 * that has not started within a day of being asked for is not one its user still waits for).
 */
const OPEN_WINDOW_MS = 24 * 60 * 60 * 1000;
/** What a refused client is told to wait: about one export of a mid-sized application. */
const RETRY_AFTER_SECONDS = 30;

/**
 * Refuses a new job of `kind` while the application already has its cap of open ones, so that
 * one application cannot fill the queues and make the others' jobs wait behind its own. The
 * check counts the records before the new one is written: requests racing each other may each
 * see the last free slot, so the cap can be passed by the number of concurrent creations.
 * @throws ThrottledError (429, Retry-After) at the cap
 */
export async function requireJobSlot(app: Application, kind: JobKind): Promise<void> {
  const cap = app.limits?.maxOpenJobs ?? config().limits.maxOpenJobs;
  const since = new Date(Date.now() - OPEN_WINDOW_MS).toISOString();
  const open = await jobStore().countOpen(app.appId, kind, since);
  if (open >= cap) {
    throw new ThrottledError(
      `too many ${kind}s running for this application: wait for one to end`,
      [`this application may have ${cap} ${kind}s started or processing at a time; it has ${open}`],
      RETRY_AFTER_SECONDS,
    );
  }
}
