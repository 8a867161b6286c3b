import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ImportJob, ImportRowError } from "../../schemas/job-records.ts";
import { MANIFEST, type Manifest } from "./backup-command.ts";
import { CliError, JobFailedError } from "./cli-errors.ts";
import { type CommandContext, RESOURCES, type Resource } from "./context.ts";
import { importFile } from "./import-command.ts";
import { manifestProblems } from "./manifest-check.ts";
import { formatCount } from "./progress.ts";
import { hashFile } from "./transfer.ts";

/** Problems that only say a user or room is missing from the application. */
const MISSING_REFERENCE = /is not a (user|room) of this application$/;

async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), "utf8");
  } catch {
    throw new CliError(`${dir} holds no ${MANIFEST}: not a backup made by chat-backup backup`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw new CliError(`${join(dir, MANIFEST)} is not valid JSON`);
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new CliError(`${join(dir, MANIFEST)} is not a backup manifest: ${problems.join("; ")}`);
  }
  return manifest as Manifest;
}

/**
 * A dry run writes nothing, so rooms are checked against the users the application already
 * has, not the ones this backup would add (and comments likewise against rooms). A failure
 * whose every problem is such a missing reference passes the dry run; the restore itself
 * checks them for real, after the users and rooms are in.
 */
function missingReferencesOnly(job: ImportJob): string | undefined {
  const errors = job.errors as { Message?: string; Data?: ImportRowError[] | null };
  const listed = errors.Data ?? [];
  if (listed.length === 0) return undefined;
  if (!listed.every((problem) => MISSING_REFERENCE.test(problem.message))) return undefined;
  const failing = Number(/^(\d+) of /.exec(errors.Message ?? "")?.[1] ?? Number.NaN);
  const rows = Number.isNaN(failing) ? new Set(listed.map((problem) => problem.row)).size : failing;
  return `${formatCount(rows)} ${job.resource_name} rows refer to users or rooms that only this backup holds${failing > new Set(listed.map((problem) => problem.row)).size ? " (every problem the service listed is of this kind)" : ""}: a dry run does not write them, so these references are checked when the backup is restored`;
}

/**
 * `restore DIR [--dry-run]`: checks every file against the manifest first, then imports users,
 * rooms and comments in that order, stopping at the first import that fails.
 */
export async function restoreApplication(
  context: CommandContext,
  directory: string,
  options: { dryRun?: boolean } = {},
) {
  const { reporter } = context;
  const dir = resolve(directory);
  const manifest = await readManifest(dir);
  for (const type of RESOURCES) {
    const entry = manifest.files[type];
    const progress = reporter.bytes(`verify ${entry.file}`, entry.bytes, () => "(sha256 ok)");
    let digest: Awaited<ReturnType<typeof hashFile>>;
    try {
      digest = await hashFile(join(dir, entry.file), progress);
    } catch (error) {
      progress.stop(false);
      throw new JobFailedError(
        `cannot read ${entry.file} of the backup: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    if (digest.bytes !== entry.bytes || digest.sha256 !== entry.sha256) {
      progress.stop(false);
      throw new JobFailedError(
        `${entry.file} does not match the manifest (${digest.bytes} bytes, sha256 ${digest.sha256}; expected ${entry.bytes} bytes, sha256 ${entry.sha256}); nothing was imported`,
      );
    }
    progress.stop();
  }
  const imports: Record<string, unknown>[] = [];
  for (const type of RESOURCES as readonly Resource[]) {
    const entry = manifest.files[type];
    const job = await importFile(context, type, join(dir, entry.file), {
      dryRun: options.dryRun,
      expectedRows: entry.rows,
      tolerate: options.dryRun && type !== "users" ? missingReferencesOnly : undefined,
    });
    if (job.status === "finished" && job.total_rows !== entry.rows) {
      throw new JobFailedError(
        `the import of ${entry.file} ${options.dryRun ? "would write" : "wrote"} ${job.total_rows} rows, the manifest says ${entry.rows}`,
      );
    }
    imports.push({
      type,
      unique_id: job.unique_id,
      status: job.status,
      rows: job.status === "finished" ? job.total_rows : entry.rows,
    });
  }
  const target = context.client.settings.appId;
  reporter.print(
    `${options.dryRun ? "dry run: the backup would restore" : "restored"} ${manifest.app_id} (${manifest.created_at}) into ${target}`,
  );
  for (const item of imports) {
    reporter.print(
      `  ${String(item.type).padEnd(9)} ${formatCount(Number(item.rows)).padStart(9)} rows  import ${item.unique_id}`,
    );
  }
  const result = {
    directory: dir,
    from_app_id: manifest.app_id,
    app_id: target,
    dry_run: options.dryRun ?? false,
    imports,
  };
  reporter.printJson(result);
  return result;
}
