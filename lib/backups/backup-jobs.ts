import {
  type BackupRequest,
  type BackupView,
  backupRequestSchema,
} from "../../schemas/backup-records.ts";
import { config } from "../config.ts";
import { BadRequestError } from "../errors.ts";
import { abortUpload, deleteObject, presignDownload } from "../jobs/files.ts";
import { displayTime, type JobRecord, type JobTrigger, RESOURCES } from "../jobs/job-record.ts";
import { findJob, listJobs, newJob } from "../jobs/jobs.ts";
import { cancel, open } from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { describeError, validatorFor } from "../validation.ts";
import {
  backupFileKey,
  backupFileName,
  backupPrefix,
  MANIFEST_FILE,
  manifestKey,
} from "./backup-files.ts";

/** Validates the (optional) body of `POST /backups`; throws BadRequestError listing every problem. */
export function validateBackupRequest(body: Record<string, unknown>): BackupRequest {
  const input = { ...body };
  const validate = validatorFor<BackupRequest>(backupRequestSchema);
  if (!validate(input)) {
    throw new BadRequestError("invalid backup request", (validate.errors ?? []).map(describeError));
  }
  return input;
}

/**
 * Creates a backup job (status `started`) and queues it. The nightly schedule passes its
 * trigger and record fields (id, expiry); everything else takes the path of `POST /backups`.
 */
export async function startBackup(
  appId: string,
  request: BackupRequest,
  trigger: JobTrigger = "api",
  jobFields: Partial<JobRecord> = {},
  night?: string,
): Promise<JobRecord> {
  const expiresAt = Math.floor(Date.now() / 1000) + config().backupRetentionDays * 86400;
  const job = newJob(appId, "backup", "users", { trigger, expiresAt, ...jobFields });
  job.objectKey = backupPrefix(appId, job.jobId);
  job.originalFilename = MANIFEST_FILE;
  job.backup = {
    compression: request.compression ?? "none",
    files: {},
    ...(night ? { night } : {}),
  };
  await open(job, "the backup could not be queued");
  logger.info("backup started", {
    job_id: job.jobId,
    trigger,
    compression: job.backup.compression,
  });
  jobMetric("BackupsStarted", "Count", 1, "all");
  return job;
}

/** The application's backup, or a 404 exactly like an id that never existed. */
export function findBackup(appId: string, backupId: string | undefined): Promise<JobRecord> {
  return findJob(appId, "backup", backupId);
}

/** One page (20) of the application's backups, newest first. */
export function listBackups(appId: string, page: number): Promise<JobRecord[]> {
  return listJobs(appId, "backup", page);
}

/** Every object key a backup may have written (files of both compressions, manifest). */
export function backupKeys(job: JobRecord): string[] {
  const compression = job.backup?.compression ?? "none";
  return [
    ...RESOURCES.map((resource) => backupFileKey(job.appId, job.jobId, resource, compression)),
    manifestKey(job.appId, job.jobId),
  ];
}

/** Removes a backup's files: the three files, the manifest and a multipart upload left open. */
export async function removeBackupFiles(job: JobRecord): Promise<void> {
  const uploadId = job.checkpoint?.uploadId;
  if (uploadId) {
    const key = backupFileKey(
      job.appId,
      job.jobId,
      job.resource,
      job.backup?.compression ?? "none",
    );
    await abortUpload(key, uploadId);
  }
  for (const key of backupKeys(job)) await deleteObject(key);
}

/**
 * Deletes a backup's files and record and returns the record as it was. A running backup is
 * cancelled: its worker notices at its next write that the record is gone and removes what it
 * wrote after this read the record.
 */
export async function deleteBackup(
  appId: string,
  backupId: string | undefined,
): Promise<JobRecord> {
  const job = await findBackup(appId, backupId);
  const removed = (await cancel(appId, job.jobId)).job ?? job;
  await removeBackupFiles(removed);
  logger.info("backup deleted", { job_id: job.jobId, status: removed.status });
  return removed;
}

/** The backup record exactly as the API shows it; a finished one with fresh download URLs. */
export async function backupView(job: JobRecord, withUrls = true): Promise<BackupView> {
  const state = job.backup ?? { compression: "none" as const, files: {} };
  const finished = job.status === "finished" && withUrls;
  const contentType = state.compression === "gzip" ? "application/gzip" : "application/json";
  const file = async (resource: (typeof RESOURCES)[number]) => {
    const stored = state.files[resource];
    const name = backupFileName(resource, state.compression);
    return {
      rows: stored?.rows ?? 0,
      bytes: stored?.bytes ?? 0,
      sha256: stored?.sha256 ?? "",
      download_url:
        finished && stored ? await presignDownload(stored.key, name, undefined, contentType) : "",
    };
  };
  return {
    unique_id: job.jobId,
    created_at: displayTime(job.createdAt),
    status: job.status,
    percentage: job.percentage,
    trigger: job.trigger,
    cut_at: state.cut ? displayTime(state.cut.at) : "",
    size: job.size,
    error_message: job.errorMessage,
    compression: state.compression,
    files: {
      users: await file("users"),
      rooms: await file("rooms"),
      comments: await file("comments"),
      manifest: {
        download_url: finished
          ? await presignDownload(manifestKey(job.appId, job.jobId), MANIFEST_FILE)
          : "",
      },
    },
    manifest_sha256: state.manifestSha256 ?? "",
  };
}
