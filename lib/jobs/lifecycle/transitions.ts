import { type JobMessage, sendJobMessage } from "../job-queue.ts";
import type { ExportRange, JobRecord } from "../job-record.ts";
import { jobStore } from "../job-store.ts";
import { removeRanges } from "./ranges.ts";
import { failureFields, OPEN, WORK_FIELDS } from "./states.ts";

/** A new job: stores the record (`started`) and queues its first message; a queue failure fails it. */
export async function open(job: JobRecord, queueFailure: string): Promise<void> {
  await jobStore().create(job);
  try {
    await sendJobMessage({ kind: job.kind, appId: job.appId, jobId: job.jobId, seq: 0 });
  } catch (error) {
    await jobStore().update(
      job.appId,
      job.jobId,
      { ...failureFields(job.kind, queueFailure), status: "failed" },
      { statusIn: ["started"] },
    );
    throw error;
  }
}

/**
 * started|processing → failed for a message SQS gave up on, unless a newer message of the job
 * carries it on. Lease and position are dropped with it.
 * @returns the record after the change, or undefined when the job had ended or moved on
 */
export function failAbandoned(message: JobMessage, reason: string): Promise<JobRecord | undefined> {
  // A key range's sequence is its own: a range given up on fails its job.
  const seqAtMost = message.range === undefined ? message.seq : undefined;
  return jobStore().update(
    message.appId,
    message.jobId,
    { ...failureFields(message.kind, reason), status: "failed" },
    { statusIn: OPEN, seqAtMost },
    WORK_FIELDS,
  );
}

/**
 * Removes a job in any status (DELETE) with its key ranges; a worker holding its lease (or a
 * range's) notices at its next write.
 * @returns the record and the ranges as they were
 */
export async function cancel(
  appId: string,
  jobId: string,
): Promise<{ job?: JobRecord; ranges: ExportRange[] }> {
  const job = await jobStore().delete(appId, jobId);
  const count = job?.checkpoint?.ranges ? job.checkpoint.ranges.length + 1 : 0;
  return { job, ranges: await removeRanges(appId, jobId, count) };
}
