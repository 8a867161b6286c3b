import { describe, expect, it } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { resumeOpenJobs } from "../../scripts/local/resume-open-jobs.ts";
import {
  deliverBackup,
  getBackup,
  requestBackup,
  takeBackupMessage,
} from "../backups/backup-fixtures.ts";
import { insertManyComments } from "../exports/export-fixtures.ts";
import { newApp, stack } from "../support/harness.ts";

describe("npm start on kept state", () => {
  it("given a backup whose queued message was lost with the stack, when the stack starts again, then its message is queued again and the backup finishes", async () => {
    const app = await newApp();
    await insertManyComments(app, 30);
    const id = await requestBackup(app);
    // The in-memory queue of a stopped stack: the message is gone, the job record is not.
    const lost = await takeBackupMessage(id);
    expect(await getBackup(app, id)).toMatchObject({ status: "started" });

    const queued = await resumeOpenJobs(stack.env.JOBS_TABLE as string, sqs(), stack.queues);
    expect(queued).toBeGreaterThanOrEqual(1);
    const again = await takeBackupMessage(id);
    expect(again).toEqual(lost);
    // Put it back for the worker, as the queue poller would receive it.
    await resumeOpenJobs(stack.env.JOBS_TABLE as string, sqs(), stack.queues);
    expect(await deliverBackup(id)).toBe(1);
    expect(await getBackup(app, id)).toMatchObject({ status: "finished", percentage: 100 });

    // A finished job is left alone.
    await resumeOpenJobs(stack.env.JOBS_TABLE as string, sqs(), stack.queues);
    await expect(takeBackupMessage(id, 1500)).rejects.toThrow(/no queued message/);
  });
});
