import { createHash } from "node:crypto";
import type { BackupManifest } from "../../schemas/backup-manifest.ts";
import { putObject } from "../jobs/files.ts";
import { type BackupState, type JobRecord, RESOURCES, type Resource } from "../jobs/job-record.ts";
import { backupFileName, backupTagging, manifestKey } from "./backup-files.ts";

/**
 * The set's `manifest.json` in the `chat-backup/1` format that `chat-backup backup` writes, so
 * that a set downloaded into a directory restores with `chat-backup restore DIR`. `created_at`
 * is the cut (the instant the set holds); `backup_id` and `cut_at` are this service's additions.
 */
export function manifestOf(
  job: JobRecord,
  state: BackupState,
): BackupManifest & Record<string, unknown> {
  const files = {} as Record<Resource, BackupManifest["files"]["users"]>;
  for (const resource of RESOURCES) {
    const file = state.files[resource];
    if (!file) throw new Error(`the backup has no ${resource} file yet`);
    files[resource] = {
      file: backupFileName(resource, state.compression),
      rows: file.rows,
      bytes: file.bytes,
      sha256: file.sha256,
    };
  }
  const cutAt = state.cut?.at ?? job.createdAt;
  return {
    format: "chat-backup/1",
    app_id: job.appId,
    created_at: cutAt,
    backup_id: job.jobId,
    cut_at: cutAt,
    compression: state.compression,
    files: { users: files.users, rooms: files.rooms, comments: files.comments },
  };
}

/** Stores `manifest.json` beside the set's files; returns its SHA-256 (hex). */
export async function writeManifest(job: JobRecord, state: BackupState): Promise<string> {
  const body = Buffer.from(`${JSON.stringify(manifestOf(job, state), null, 2)}\n`, "utf8");
  await putObject(manifestKey(job.appId, job.jobId), body, "application/json", backupTagging(job));
  return createHash("sha256").update(body).digest("hex");
}
