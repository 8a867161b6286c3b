import { RESOURCES, type Resource } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import { isJobId } from "../jobs/jobs.ts";

/** One file of a finished backup set, as a restore reads it from storage. */
export interface FinishedBackupFile {
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
  compression: "gzip" | "none";
}

/** A finished backup of one application: its cut and its three files. */
export interface FinishedBackup {
  backupId: string;
  appId: string;
  /** The instant the set holds (ISO 8601, UTC). */
  cutAt: string;
  files: Record<Resource, FinishedBackupFile>;
}

/**
 * The finished backup `backupId` of application `appId`, read from the job store; undefined when
 * there is no such backup, it belongs to another application, or it has not finished (a set
 * that is not finished is never restored from).
 */
export async function loadFinishedBackup(
  appId: string,
  backupId: string,
): Promise<FinishedBackup | undefined> {
  if (!isJobId(backupId)) return undefined;
  const job = await jobStore().get(appId, backupId.toLowerCase());
  if (job?.kind !== "backup" || job.appId !== appId || job.status !== "finished") return undefined;
  const state = job.backup;
  if (!state?.cut) return undefined;
  const files = {} as Record<Resource, FinishedBackupFile>;
  for (const resource of RESOURCES) {
    const file = state.files[resource];
    if (!file) return undefined;
    files[resource] = { ...file, compression: state.compression };
  }
  return { backupId: job.jobId, appId, cutAt: state.cut.at, files };
}
