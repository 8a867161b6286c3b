import type pg from "pg";

/** A pool or a client inside a transaction: lookups run on either. */
export type Queryable = pg.Pool | pg.PoolClient;

/** Serialises imports of one application: checks against its data and writes happen alone. */
export async function lockApplicationImports(client: pg.PoolClient, appId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('import:' || $1))", [appId]);
}

/** Rows written by this import job, or undefined when it has not been applied. */
export async function appliedRows(db: Queryable, jobId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ rows_written: number }>(
    "SELECT rows_written FROM import_jobs_applied WHERE job_id = $1",
    [jobId],
  );
  return rows[0]?.rows_written;
}

/** Rows this import job skipped as already in the application (0 when it has not been applied). */
export async function appliedSkippedRows(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ rows_skipped: number }>(
    "SELECT rows_skipped FROM import_jobs_applied WHERE job_id = $1",
    [jobId],
  );
  return rows[0]?.rows_skipped ?? 0;
}

/** Records, inside the import's transaction, that its rows were written (and how many skipped). */
export async function markApplied(
  client: pg.PoolClient,
  job: { appId: string; jobId: string; resource: string },
  rowsWritten: number,
  rowsSkipped = 0,
): Promise<void> {
  await client.query(
    "INSERT INTO import_jobs_applied (job_id, app_id, resource, rows_written, rows_skipped) VALUES ($1, $2, $3, $4, $5)",
    [job.jobId, job.appId, job.resource, rowsWritten, rowsSkipped],
  );
}
