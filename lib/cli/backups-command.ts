import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BackupManifest } from "../../schemas/backup-manifest.ts";
import type { BackupView } from "../../schemas/backup-records.ts";
import { MANIFEST } from "./backup-command.ts";
import { CliError, JobFailedError } from "./cli-errors.ts";
import { type CommandContext, RESOURCES } from "./context.ts";
import { waitForJob } from "./job-wait.ts";
import { table } from "./jobs-command.ts";
import { manifestProblems } from "./manifest-check.ts";
import { formatBytes, formatCount } from "./progress.ts";
import { downloadVerified } from "./transfer.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(id: string): string {
  if (!UUID.test(id)) throw new CliError(`a backup id is a UUID, got "${id.slice(0, 64)}"`);
  return id;
}

/** Rows of the three files together (what a backup's progress bar counts). */
function rowsOf(backup: BackupView): number {
  return RESOURCES.reduce((sum, type) => sum + backup.files[type].rows, 0);
}

async function fetchBackup(context: CommandContext, id: string): Promise<BackupView> {
  const { backup } = await context.client.request<{ backup: BackupView }>(
    "GET",
    `/backups/${checkId(id)}`,
  );
  return backup;
}

function describe(backup: BackupView): string[] {
  const lines = [
    `backup ${backup.unique_id}: ${backup.status} ${backup.percentage}% (${backup.trigger}), cut at ${backup.cut_at || "-"}, ${formatBytes(backup.size)}${backup.compression === "gzip" ? " gzip" : ""}`,
  ];
  if (backup.error_message) lines.push(`  error: ${backup.error_message}`);
  for (const type of RESOURCES) {
    const file = backup.files[type];
    lines.push(
      `  ${type.padEnd(9)} ${formatCount(file.rows).padStart(9)} rows ${formatBytes(file.bytes).padStart(10)}  sha256 ${file.sha256 || "-"}`,
    );
  }
  return lines;
}

/** `backups list [--page N]`: the application's backups, newest first, as a table. */
export async function listBackups(context: CommandContext, page = 1): Promise<BackupView[]> {
  const { backups } = await context.client.request<{ backups: BackupView[] }>("GET", "/backups", {
    query: { page },
  });
  const { reporter } = context;
  if (backups.length === 0) reporter.print(`no backups${page > 1 ? ` on page ${page}` : ""}`);
  else {
    const rows = backups.map((b) => [
      b.created_at,
      b.trigger,
      b.status,
      `${b.percentage}%`,
      formatCount(rowsOf(b)),
      formatBytes(b.size),
      b.cut_at || "-",
      b.unique_id,
      b.error_message,
    ]);
    const header = ["CREATED", "BY", "STATUS", "DONE", "ROWS", "SIZE", "CUT AT", "ID", "ERROR"];
    for (const line of table(header, rows, [3, 4, 5])) reporter.print(line);
  }
  reporter.printJson({ backups });
  return backups;
}

/** `backups create [--gzip] [--no-wait]`: starts a backup and (by default) waits for it. */
export async function createBackup(
  context: CommandContext,
  options: { gzip?: boolean; wait?: boolean } = {},
): Promise<BackupView> {
  const { client, reporter } = context;
  const { backup: started } = await client.request<{ backup: BackupView }>("POST", "/backups", {
    json: options.gzip ? { compression: "gzip" } : {},
    idempotent: true,
  });
  if (!reporter.tty || options.wait === false) reporter.step(`backup started ${started.unique_id}`);
  let backup = started;
  if (options.wait !== false) {
    backup = await waitForJob(async () => {
      const current = await fetchBackup(context, started.unique_id);
      return { ...current, total_rows: rowsOf(current) };
    }, reporter.job("backup"));
    if (backup.status === "failed") {
      throw new JobFailedError(
        `backup failed: ${backup.error_message || "no reason given"}`,
        backup,
      );
    }
  }
  for (const line of describe(backup)) reporter.print(line);
  reporter.printJson(backup);
  return backup;
}

/** `backups get ID`: one backup. */
export async function getBackup(context: CommandContext, id: string): Promise<BackupView> {
  const backup = await fetchBackup(context, id);
  for (const line of describe(backup)) context.reporter.print(line);
  context.reporter.printJson(backup);
  return backup;
}

/** `backups delete ID`: removes a backup's files and record (a running one is cancelled). */
export async function deleteBackup(context: CommandContext, id: string): Promise<BackupView> {
  const { backup } = await context.client.request<{ backup: BackupView }>(
    "DELETE",
    `/backups/${checkId(id)}`,
  );
  context.reporter.print(`deleted backup ${backup.unique_id} (${backup.status})`);
  context.reporter.printJson(backup);
  return backup;
}

/**
 * `backups download ID DIR`: the set's files and `manifest.json` into DIR, each file checked
 * against its SHA-256 while it streams to disk, the manifest against `manifest_sha256` and the
 * files against the manifest. File names are this command's own (`users.json[.gz]`, ...), never
 * taken from the server, so nothing is written outside DIR. DIR then restores with
 * `chat-backup restore DIR`.
 */
export async function downloadBackup(
  context: CommandContext,
  id: string,
  directory: string,
): Promise<{ directory: string; manifest: BackupManifest }> {
  const { reporter } = context;
  const dir = resolve(directory);
  if (existsSync(join(dir, MANIFEST))) {
    throw new CliError(`${dir} already holds a backup (${MANIFEST}); choose a new directory`);
  }
  const backup = await fetchBackup(context, id);
  if (backup.status !== "finished") {
    throw new CliError(
      `backup ${backup.unique_id} is ${backup.status}; only a finished backup downloads`,
    );
  }
  const manifestResponse = await fetch(backup.files.manifest.download_url).catch((error) => {
    throw new CliError(`cannot download the manifest: ${(error as Error).message}`);
  });
  if (!manifestResponse.ok)
    throw new CliError(`cannot download the manifest: HTTP ${manifestResponse.status}`);
  const manifestBytes = Buffer.from(await manifestResponse.arrayBuffer());
  const manifestSha = createHash("sha256").update(manifestBytes).digest("hex");
  if (manifestSha !== backup.manifest_sha256) {
    throw new JobFailedError(
      `the downloaded manifest does not match its checksum (sha256 ${manifestSha}, expected ${backup.manifest_sha256}); nothing was written`,
    );
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(manifestBytes.toString("utf8")) as BackupManifest;
  } catch {
    throw new JobFailedError("the backup's manifest is not JSON; nothing was written");
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new JobFailedError(
      `the backup's manifest is not a chat-backup manifest: ${problems.join("; ")}`,
    );
  }
  await mkdir(dir, { recursive: true });
  const suffix = backup.compression === "gzip" ? ".json.gz" : ".json";
  for (const type of RESOURCES) {
    const entry = manifest.files[type];
    const file = backup.files[type];
    const name = `${type}${suffix}`;
    if (
      entry.file !== name ||
      entry.sha256 !== file.sha256 ||
      entry.bytes !== file.bytes ||
      entry.rows !== file.rows
    ) {
      throw new JobFailedError(
        `the manifest's ${type} entry does not match the backup record; nothing more was written`,
      );
    }
    const progress = reporter.bytes(`download ${name}`, file.bytes, () => "(sha256 ok)");
    try {
      await downloadVerified(file.download_url, join(dir, name), file.sha256, progress);
    } catch (error) {
      progress.stop(false);
      throw error;
    }
    progress.stop();
  }
  // Last: a directory with manifest.json is a complete set.
  await writeFile(join(dir, MANIFEST), manifestBytes);
  reporter.print(`backup ${backup.unique_id} (cut at ${backup.cut_at}) downloaded into ${dir}`);
  reporter.printJson({ directory: dir, backup_id: backup.unique_id, manifest });
  return { directory: dir, manifest };
}
