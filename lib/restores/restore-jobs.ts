import { type RestoreRequest, restoreRequestSchema } from "../../schemas/restore-records.ts";
import { loadFinishedBackup } from "../backups/backup-set.ts";
import { BadRequestError, NotFoundError } from "../errors.ts";
import {
  type JobRecord,
  RESOURCES,
  type Resource,
  type RestoreState,
  type RestoreTypeState,
} from "../jobs/job-record.ts";
import { newJob } from "../jobs/jobs.ts";
import { open } from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { describeError, validatorFor } from "../validation.ts";

/** Validates the body of `POST /restores`. */
export function validateRestoreRequest(body: Record<string, unknown>): RestoreRequest {
  const validate = validatorFor<RestoreRequest>(restoreRequestSchema);
  if (!validate(body)) {
    throw new BadRequestError(
      "invalid restore request",
      (validate.errors ?? []).map(describeError),
    );
  }
  return body;
}

function waiting(): RestoreTypeState {
  return {
    status: "started",
    percentage: 0,
    totalRows: 0,
    skippedRows: 0,
    errors: { Message: "", Data: null },
  };
}

/**
 * Starts the restore of one of the application's finished backups into it: the backup's files
 * (keys, sizes, checksums) are captured on the restore's record, which is queued on the import
 * queue. A backup that is missing, another application's or not finished is a 404.
 */
export async function startRestore(appId: string, request: RestoreRequest): Promise<JobRecord> {
  const backupId = request.backup_id.toLowerCase();
  const backup = await loadFinishedBackup(appId, backupId);
  if (!backup) {
    throw new NotFoundError("backup not found", [
      `no finished backup with unique_id "${request.backup_id.slice(0, 64)}" in this application`,
    ]);
  }
  const files = {} as RestoreState["files"];
  for (const type of RESOURCES) {
    const { key, rows, bytes, sha256 } = backup.files[type];
    files[type] = { key, rows, bytes, sha256 };
  }
  const types = Object.fromEntries(RESOURCES.map((type) => [type, waiting()])) as Record<
    Resource,
    RestoreTypeState
  >;
  const job = newJob(appId, "restore", "users", {
    originalFilename: backupId,
    objectKey: backup.files.users.key,
    size: RESOURCES.reduce((sum, type) => sum + files[type].bytes, 0),
    dryRun: request.dry_run ?? false,
    skippedRows: 0,
    errorMessage: "",
    restore: { backupId, files, step: 0, types },
  });
  await open(job, "The restore could not be queued; start it again.");
  logger.info("restore started", { job_id: job.jobId, backup_id: backupId, dry_run: job.dryRun });
  jobMetric("RestoresStarted", "Count", 1, "all");
  return job;
}
