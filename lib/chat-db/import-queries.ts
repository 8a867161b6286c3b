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

/** Records, inside the import's transaction, that its rows were written. */
export async function markApplied(
  client: pg.PoolClient,
  job: { appId: string; jobId: string; resource: string },
  rowsWritten: number,
): Promise<void> {
  await client.query(
    "INSERT INTO import_jobs_applied (job_id, app_id, resource, rows_written) VALUES ($1, $2, $3, $4)",
    [job.jobId, job.appId, job.resource, rowsWritten],
  );
}
