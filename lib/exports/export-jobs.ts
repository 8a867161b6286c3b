import { type ExportRequest, exportRequestSchema } from "../../schemas/export-request.ts";
import { BadRequestError } from "../errors.ts";
import { abortUpload, deleteObject, presignDownload, rangeObjectKey } from "../jobs/files.ts";
import { displayTime, type JobRecord, type JobTrigger, type Resource } from "../jobs/job-record.ts";
import { findJob, newJob } from "../jobs/jobs.ts";
import { cancel, open } from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { describeError, validatorFor } from "../validation.ts";

/** True when the runtime knows `zone` as an IANA time zone name. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Validates the body of an export request; throws BadRequestError listing every problem. */
export function validateExportRequest(body: Record<string, unknown>): ExportRequest {
  const input = { ...body };
  const validate = validatorFor<ExportRequest>(exportRequestSchema);
  if (!validate(input)) {
    throw new BadRequestError("invalid export request", (validate.errors ?? []).map(describeError));
  }
  const details: string[] = [];
  if (input.start_date && input.end_date && input.start_date > input.end_date) {
    details.push(`start_date (${input.start_date}) must not be after end_date (${input.end_date})`);
  }
  if (input.timezone !== undefined && !isTimeZone(input.timezone)) {
    details.push(
      `timezone must be an IANA time zone name such as Asia/Jakarta, got "${input.timezone}"`,
    );
  }
  if (details.length) throw new BadRequestError("invalid export request", details);
  return input;
}

/**
 * Creates an export job (status `started`) and queues it. `jobFields` lets the nightly
 * schedule mark its jobs; everything else takes the same path as `POST /exports`.
 */
export async function startExport(
  appId: string,
  request: ExportRequest,
  trigger: JobTrigger = "api",
  jobFields: Partial<JobRecord> = {},
): Promise<JobRecord> {
  const resource = request.type as Resource;
  const job = newJob(appId, "export", resource, {
    trigger,
    startDate: request.start_date,
    endDate: request.end_date,
    timezone: request.timezone ?? "UTC",
    ...jobFields,
  });
  job.originalFilename = `${displayTime(job.createdAt)}_exported_${resource}.json`;
  await open(job, "the export could not be queued");
  logger.info("export started", { job_id: job.jobId, resource, trigger });
  jobMetric("ExportsStarted", "Count", 1, resource);
  return job;
}

/** A fresh presigned download URL when the export is finished, otherwise "". */
export async function downloadUrl(job: JobRecord): Promise<string> {
  return job.status === "finished" ? presignDownload(job.objectKey, job.originalFilename) : "";
}

/**
 * Deletes an export's file and record and returns the record as it was. A running export
 * notices its record is gone at its next step and aborts its upload.
 */
export async function deleteExport(appId: string, jobId: string | undefined): Promise<JobRecord> {
  const job = await findJob(appId, "export", jobId);
  const cancelled = await cancel(appId, job.jobId);
  const removed = cancelled.job ?? job;
  await deleteObject(removed.objectKey);
  if (removed.checkpoint?.uploadId)
    await abortUpload(removed.objectKey, removed.checkpoint.uploadId);
  // A parallel export's range files: the ranges still running remove their own when they notice.
  for (const range of cancelled.ranges) {
    await deleteObject(rangeObjectKey(removed.objectKey, range.range));
    if (range.uploadId)
      await abortUpload(rangeObjectKey(removed.objectKey, range.range), range.uploadId);
  }
  logger.info("export deleted", { job_id: job.jobId, status: removed.status });
  return removed;
}
