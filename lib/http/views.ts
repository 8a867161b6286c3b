import type { ExportJob, ImportJob } from "../../schemas/job-records.ts";
import type { RestoreRecord } from "../../schemas/restore-records.ts";
import {
  displayTime,
  type ImportErrors,
  type JobRecord,
  RESOURCES,
  type RestoreState,
} from "../jobs/job-record.ts";

/** The export record exactly as the API shows it (and as `schemas/job-records.ts` describes it). */
export function exportView(job: JobRecord, downloadUrl = ""): ExportJob {
  return {
    created_at: displayTime(job.createdAt),
    download_url: downloadUrl,
    error_message: job.errorMessage,
    original_filename: job.originalFilename,
    percentage: job.percentage,
    resource_name: job.resource,
    size: job.size,
    status: job.status,
    total_rows: job.totalRows,
    unique_id: job.jobId,
    start_date: job.startDate ?? "",
    end_date: job.endDate ?? "",
    timezone: job.timezone ?? "UTC",
    checksum_sha256: job.checksumSha256 ?? "",
    trigger: job.trigger,
  };
}

/**
 * The import record exactly as the API shows it (and as `schemas/job-records.ts` describes it);
 * `withErrors` false keeps list pages light.
 */
export function importView(job: JobRecord, withErrors = true): ImportJob {
  const errors = job.errors ?? { Message: "", Data: null };
  return {
    created_at: displayTime(job.createdAt),
    errors: withErrors ? errors : summariseErrors(errors),
    original_filename: job.originalFilename,
    percentage: job.percentage,
    resource_name: job.resource,
    size: job.size,
    status: job.status,
    total_rows: job.totalRows,
    unique_id: job.jobId,
    dry_run: job.dryRun ?? false,
    on_existing: job.onExisting ?? "fail",
    skipped_rows: job.skippedRows ?? 0,
  };
}

function summariseErrors(errors: ImportErrors) {
  if (!errors.Message) return {};
  return { Message: errors.Message, Data: null };
}

/**
 * The restore record exactly as the API shows it (and as `schemas/restore-records.ts` describes
 * it); `withErrors` false keeps list pages light (each type's sentence, no rows).
 */
export function restoreView(job: JobRecord, withErrors = true): RestoreRecord {
  const state = job.restore as RestoreState;
  const types = {} as RestoreRecord["types"];
  for (const type of RESOURCES) {
    const step = state.types[type];
    types[type] = {
      status: step.status,
      percentage: step.percentage,
      total_rows: step.totalRows,
      skipped_rows: step.skippedRows,
      errors: withErrors && step.errors.Message ? step.errors : summariseErrors(step.errors),
    };
  }
  return {
    unique_id: job.jobId,
    backup_id: state.backupId,
    created_at: displayTime(job.createdAt),
    status: job.status,
    percentage: job.percentage,
    dry_run: job.dryRun ?? false,
    total_rows: job.totalRows,
    skipped_rows: job.skippedRows ?? 0,
    error_message: job.errorMessage,
    types,
  };
}
