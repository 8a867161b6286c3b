import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BackupManifest } from "../../schemas/backup-manifest.ts";
import { CliError } from "./cli-errors.ts";
import { type CommandContext, RESOURCES, type Resource } from "./context.ts";
import { exportResource } from "./export-command.ts";
import { formatBytes, formatCount } from "./progress.ts";

export const MANIFEST = "manifest.json";

/** One file of a backup as the manifest describes it. */
export type ManifestEntry = BackupManifest["files"]["users"];

/** `manifest.json`: what a backup holds, and the checksums a restore checks first. */
export type Manifest = BackupManifest;

/**
 * Exports comments, then rooms, then users: each export holds the rows that existed when it
 * began, so every room and comment in the backup finds its users (and every comment its room)
 * in the same backup, even while the application is in use.
 */
const EXPORT_ORDER: Resource[] = ["comments", "rooms", "users"];

/** `backup DIR`: the three exports downloaded into DIR, then `manifest.json`. */
export async function backupApplication(
  context: CommandContext,
  directory: string,
): Promise<Manifest> {
  const dir = resolve(directory);
  if (existsSync(join(dir, MANIFEST))) {
    throw new CliError(`${dir} already holds a backup (${MANIFEST}); choose a new directory`);
  }
  await mkdir(dir, { recursive: true });
  const createdAt = new Date().toISOString();
  const files = {} as Record<Resource, ManifestEntry>;
  for (const type of EXPORT_ORDER) {
    const file = `${type}.json`;
    const result = await exportResource(context, type, { output: join(dir, file) });
    files[type] = {
      file,
      rows: result.rows,
      bytes: result.bytes,
      sha256: result.sha256,
      export_id: result.unique_id,
    };
  }
  const manifest: Manifest = {
    format: "chat-backup/1",
    app_id: context.client.settings.appId,
    created_at: createdAt,
    url: context.client.settings.url,
    files: { users: files.users, rooms: files.rooms, comments: files.comments },
  };
  await writeFile(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  const { reporter } = context;
  reporter.print(`backup of ${manifest.app_id} in ${dir}`);
  for (const type of RESOURCES) {
    const entry = manifest.files[type];
    reporter.print(
      `  ${entry.file.padEnd(14)} ${formatCount(entry.rows).padStart(9)} rows ${formatBytes(entry.bytes).padStart(10)}  sha256 ${entry.sha256}`,
    );
  }
  reporter.printJson({ directory: dir, ...manifest });
  return manifest;
}
