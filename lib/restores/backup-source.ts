import type { RestoreFile } from "../jobs/job-record.ts";

/** A finished backup of one application, as `lib/backups/backup-set.ts` describes it. */
export interface FinishedBackup {
  backupId: string;
  appId: string;
  cutAt: string;
  files: Record<"users" | "rooms" | "comments", RestoreFile & { compression: "gzip" | "none" }>;
}

/** The finished backup `backupId` of `appId`; undefined when missing, foreign or not finished. */
export async function finishedBackup(
  _appId: string,
  _backupId: string,
): Promise<FinishedBackup | undefined> {
  return undefined;
}
