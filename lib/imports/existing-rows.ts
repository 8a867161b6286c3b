import type { Queryable } from "../chat-db/import-queries.ts";
import type { StagingTables } from "../chat-db/staging.ts";
import type { ImportSpec } from "./staged-import.ts";

/**
 * `on_existing: skip`: a row the application already holds with the same content is skipped
 * (and counted), a row whose unique key is taken by other content stays a row error. Every write
 * path of the pipeline goes through `skipSameRows` on the rows it is about to write (the staging
 * table under the application's lock, or a batch of the one-pass write), so that what "the same"
 * means lives in one place per resource (`ImportSpec.existing`).
 */

/** True when the application holds at least one row of `resource`. */
export async function holdsRowsOf(
  db: Queryable,
  resource: string,
  appId: string,
): Promise<boolean> {
  const table = { users: "users", rooms: "rooms", comments: "comments" }[resource];
  if (!table) throw new Error(`no chat table for ${resource}`);
  const { rows } = await db.query(`SELECT 1 FROM ${table} WHERE app_id = $1 LIMIT 1`, [appId]);
  return rows.length > 0;
}

/**
 * Removes from `table` (alias-free name of a staging or batch table) the rows the application
 * already holds with the same content; `ok` restricts the rows considered (`s.ok` on staging).
 * @returns how many rows were removed
 */
export async function skipSameRows(
  db: Queryable,
  spec: ImportSpec,
  table: string,
  ok: string,
  appId: string,
): Promise<number> {
  const result = await db.query(
    `WITH same AS (
       SELECT f.row FROM (${spec.existing(table, ok)}) f
       GROUP BY f.row HAVING bool_or(cardinality(f.differs) = 0))
     DELETE FROM ${table} t USING same WHERE t.row = same.row`,
    [appId],
  );
  return result.rowCount ?? 0;
}

/**
 * After the checks against the application: a row error that says a unique key is taken also
 * says which fields differ from the row that holds it (the row was not skipped because of them).
 */
export async function explainConflicts(
  db: Queryable,
  spec: ImportSpec,
  tables: StagingTables,
  appId: string,
): Promise<void> {
  await db.query(
    `UPDATE ${tables.problems} p
     SET message = p.message || ' with other content (' || array_to_string(f.differs, ', ')
       || CASE WHEN cardinality(f.differs) = 1 THEN ' differs)' ELSE ' differ)' END
     FROM (${spec.existing(tables.rows, "s.ok")}) f
     WHERE p.row = f.row AND p.field = f.field AND p.seq >= 20 AND cardinality(f.differs) > 0
       AND p.message LIKE '%already exists in this application'`,
    [appId],
  );
}

/** Rows of a loaded file that are gone from its staging table: those skipped so far. */
export async function skippedSoFar(
  db: Queryable,
  tables: StagingTables,
  rowCount: number,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${tables.rows}`);
  return rowCount - (rows[0]?.n ?? rowCount);
}
