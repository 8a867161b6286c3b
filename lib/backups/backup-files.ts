import { encodeAppId } from "../jobs/files.ts";
import { type BackupState, type JobRecord, RESOURCES, type Resource } from "../jobs/job-record.ts";

/**
 * Where a backup set lives: `backups/<appId>/<backupId>/` holds `users.json`, `rooms.json`,
 * `comments.json` (each with `.gz` appended when gzip-compressed) and `manifest.json`.
 */
export function backupPrefix(appId: string, backupId: string): string {
  return `backups/${encodeAppId(appId)}/${backupId}/`;
}

/** The name of a type's file in the set (and in a downloaded directory). */
export function backupFileName(
  resource: Resource,
  compression: BackupState["compression"],
): string {
  return compression === "gzip" ? `${resource}.json.gz` : `${resource}.json`;
}

export function backupFileKey(
  appId: string,
  backupId: string,
  resource: Resource,
  compression: BackupState["compression"],
): string {
  return `${backupPrefix(appId, backupId)}${backupFileName(resource, compression)}`;
}

export const MANIFEST_FILE = "manifest.json";

export function manifestKey(appId: string, backupId: string): string {
  return `${backupPrefix(appId, backupId)}${MANIFEST_FILE}`;
}

/**
 * The object tag of a backup's files: `backup=nightly` for the schedule's, `backup=api` for the
 * others. The bucket's lifecycle rules expire each kind after its own time (serverless.yml).
 */
export function backupTagging(job: Pick<JobRecord, "trigger">): string {
  return `backup=${job.trigger === "schedule" ? "nightly" : "api"}`;
}

/** The key of the file a running backup is writing (the one its multipart upload belongs to). */
export function currentBackupFileKey(job: JobRecord): string {
  return backupFileKey(job.appId, job.jobId, job.resource, job.backup?.compression ?? "none");
}

/**
 * The set's percentage while `resource` is written: rows written over the rows inside the cut,
 * all three types together, at most 99 until the set is finished; undefined before the cut.
 */
export function setPercentage(
  state: BackupState,
  resource: Resource,
  written: number,
): number | undefined {
  const expected = state.expectedRows;
  if (!expected) return undefined;
  const total = expected.users + expected.rooms + expected.comments;
  let done = written;
  for (const type of RESOURCES) {
    if (type !== resource) done += state.files[type]?.rows ?? 0;
  }
  return total > 0 ? Math.min(99, Math.floor((done * 100) / total)) : 0;
}
