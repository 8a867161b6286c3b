import type { ImportRowError } from "../../schemas/job-records.ts";
import type { RestoreRecord } from "../../schemas/restore-records.ts";
import { JobFailedError } from "./cli-errors.ts";
import { type CommandContext, RESOURCES, type Resource } from "./context.ts";
import { waitForJob } from "./job-wait.ts";
import { formatCount, type JobProgress } from "./progress.ts";

type TypeState = RestoreRecord["types"]["users"];

/** Prints a failed type's sentence and every row error it lists. */
function printTypeErrors(context: CommandContext, type: Resource, state: TypeState): void {
  const errors = state.errors as { Message?: string; Data?: ImportRowError[] | null };
  context.reporter.print(`restore ${type} failed: ${errors.Message || "no reason given"}`);
  for (const problem of errors.Data ?? []) {
    context.reporter.print(`  row ${problem.row}  ${problem.field || "(row)"}: ${problem.message}`);
  }
}

/**
 * One bar (or plain lines) per type, in order: a type's bar starts when its step has begun and
 * stops when the next one begins or the restore ends.
 */
function typeBars(context: CommandContext, dryRun: boolean) {
  let current: { type: Resource; bar: JobProgress } | undefined;
  const started = new Set<Resource>();
  const show = (record: RestoreRecord) => {
    for (const type of RESOURCES) {
      const state = record.types[type];
      if (state.status === "started") continue;
      if (!started.has(type)) {
        if (current) current.bar.stop(record.types[current.type]);
        started.add(type);
        current = { type, bar: context.reporter.job(`${dryRun ? "check" : "restore"} ${type}`) };
      }
      if (current?.type === type) current.bar.update(state);
    }
  };
  return {
    update: show,
    stop: (record: RestoreRecord) => {
      show(record);
      if (current) current.bar.stop(record.types[current.type]);
    },
  };
}

/**
 * `restore --backup ID [--dry-run]`: asks the service to restore one of the application's
 * backups straight from its storage (nothing passes through this machine), then follows it type
 * by type. A failed restore prints the failed type's row errors and exits 1.
 */
export async function restoreFromBackup(
  context: CommandContext,
  backupId: string,
  options: { dryRun?: boolean } = {},
): Promise<RestoreRecord> {
  const { client, reporter } = context;
  const dryRun = options.dryRun ?? false;
  const { restore: started } = await client.request<{ restore: RestoreRecord }>(
    "POST",
    "/restores",
    { json: { backup_id: backupId, dry_run: dryRun }, idempotent: true },
  );
  if (!reporter.tty) reporter.step(`restore of backup ${backupId}: started ${started.unique_id}`);
  const bars = typeBars(context, dryRun);
  const record = await waitForJob(
    async () =>
      (await client.request<{ restore: RestoreRecord }>("GET", `/restores/${started.unique_id}`))
        .restore,
    { update: bars.update, stop: bars.stop },
  );
  if (record.status === "failed") {
    const failedType = RESOURCES.find((type) => record.types[type].status === "failed");
    if (failedType) printTypeErrors(context, failedType, record.types[failedType]);
    throw new JobFailedError(
      `restore ${record.unique_id} of backup ${backupId} failed: ${record.error_message}`,
      record,
    );
  }
  reporter.print(
    `${dryRun ? "dry run: the backup would restore" : "restored"} backup ${backupId} into ${client.settings.appId}, restore ${record.unique_id}`,
  );
  for (const type of RESOURCES) {
    const state = record.types[type];
    reporter.print(
      `  ${type.padEnd(9)} ${formatCount(state.total_rows).padStart(9)} ${dryRun ? "to write" : "written"} ${formatCount(state.skipped_rows).padStart(9)} skipped (already there)`,
    );
  }
  reporter.printJson(record);
  return record;
}
