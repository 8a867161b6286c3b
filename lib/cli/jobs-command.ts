import type { ExportJob, ImportJob } from "../../schemas/job-records.ts";
import type { CommandContext } from "./context.ts";
import { formatBytes, formatCount } from "./progress.ts";

export const JOB_KINDS = ["exports", "imports"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Lays rows out in columns under a header, each column as wide as its widest cell. */
export function table(header: string[], rows: string[][], rightAligned: number[] = []): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        rightAligned.includes(column)
          ? cell.padStart(widths[column] ?? 0)
          : cell.padEnd(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function row(kind: JobKind, job: ExportJob | ImportJob): string[] {
  const problem =
    "error_message" in job
      ? job.error_message
      : ((job.errors as { Message?: string }).Message ?? "");
  return [
    job.created_at,
    kind === "exports" ? "export" : (job as ImportJob).dry_run ? "check" : "import",
    job.resource_name,
    job.status,
    `${job.percentage}%`,
    formatCount(job.total_rows),
    formatBytes(job.size),
    job.unique_id,
    problem || job.original_filename,
  ];
}

/** `jobs [exports|imports]`: the application's recent jobs, newest first, as a table. */
export async function listJobs(
  { client, reporter }: CommandContext,
  kind: JobKind | undefined,
  page = 1,
) {
  const kinds = kind ? [kind] : JOB_KINDS;
  const result: Partial<Record<JobKind, (ExportJob | ImportJob)[]>> = {};
  for (const each of kinds) {
    const { backup_histories } = await client.request<{
      backup_histories: (ExportJob | ImportJob)[];
    }>("GET", `/${each}`, { query: { page } });
    result[each] = backup_histories;
  }
  const rows = kinds.flatMap((each) => (result[each] ?? []).map((job) => row(each, job)));
  rows.sort((a, b) => (b[0] ?? "").localeCompare(a[0] ?? ""));
  if (rows.length === 0) {
    reporter.print(`no ${kinds.join(" or ")} jobs${page > 1 ? ` on page ${page}` : ""}`);
  } else {
    for (const line of table(
      ["CREATED", "KIND", "TYPE", "STATUS", "DONE", "ROWS", "SIZE", "ID", "FILE / ERROR"],
      rows,
      [4, 5, 6],
    )) {
      reporter.print(line);
    }
  }
  reporter.printJson(result);
  return result;
}
