import { appliedRows, appliedSkippedRows, type Queryable } from "../chat-db/import-queries.ts";
import { chatDb } from "../chat-db/pool.ts";
import type { StagingTables } from "../chat-db/staging.ts";
import type { JobRecord, Resource } from "../jobs/job-record.ts";
import { explainConflicts, skipSameRows } from "./existing-rows.ts";
import { failed, type PipelineOutcome } from "./pipeline-io.ts";
import { MAX_LISTED_PROBLEMS, problemSummary } from "./problems.ts";
import type { ImportSpec } from "./staged-import.ts";

/** The job's problems as `errors`: every problem counted, the first 1,000 in row order listed. */
export async function rejection(
  tables: StagingTables,
  resource: Resource,
  rowCount: number,
  db = chatDb(),
): Promise<PipelineOutcome | undefined> {
  const { rows: counts } = await db.query<{ total: number; failed: number }>(
    `SELECT count(*)::int AS total, count(DISTINCT row)::int AS failed FROM ${tables.problems}`,
  );
  const { total = 0, failed: failedRows = 0 } = counts[0] ?? {};
  if (total === 0) return undefined;
  const { rows: listed } = await db.query<{ row: number; field: string; message: string }>(
    `SELECT row, field, message FROM ${tables.problems} ORDER BY row, seq, sub LIMIT $1`,
    [MAX_LISTED_PROBLEMS],
  );
  return failed(problemSummary(resource, rowCount, failedRows, total, listed.length), listed);
}

/**
 * Runs the rules against the application's data afresh (earlier findings are replaced); with
 * `on_existing: skip`, rows the application already holds as they are leave the staging table
 * first, and a key taken by other content says what differs.
 */
export async function checkAgainstApp(
  db: Queryable,
  spec: ImportSpec,
  tables: StagingTables,
  job: JobRecord,
): Promise<void> {
  await db.query(`DELETE FROM ${tables.problems} WHERE seq >= 20`);
  const skip = job.onExisting === "skip";
  if (skip) await skipSameRows(db, spec, tables.rows, "s.ok", job.appId);
  for (const sql of spec.appChecks(tables)) await db.query(sql, [job.appId]);
  if (skip) await explainConflicts(db, spec, tables, job.appId);
}

/** The outcome of a job another delivery already applied, or undefined. */
export async function replayed(db: Queryable, jobId: string): Promise<PipelineOutcome | undefined> {
  const rows = await appliedRows(db, jobId);
  if (rows === undefined) return undefined;
  return { status: "finished", rows, skipped: await appliedSkippedRows(db, jobId), replayed: true };
}
