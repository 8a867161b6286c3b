import type { Resource } from "../jobs/job-record.ts";
import {
  EXPORT_TABLES,
  type ExportCursor,
  type ExportScope,
  exportWhere,
  sqlInteger,
} from "./export-scope.ts";
import { chatDb } from "./pool.ts";

/** Planner settings of an export's connection: an ordered index scan is the only plan left. */
export const ORDERED_SCAN_SETTINGS = [
  "enable_sort",
  "enable_seqscan",
  "enable_bitmapscan",
  "enable_incremental_sort",
];

/** The statements that switch the ordered-scan settings on (`off`) and back (`reset`). */
export const orderedScan = {
  on: ORDERED_SCAN_SETTINGS.map((name) => `SET ${name} = off`).join("; "),
  reset: ORDERED_SCAN_SETTINGS.map((name) => `RESET ${name}`).join("; "),
};

/** The largest id of the resource's table right now (ids are global, so this cuts every app). */
export async function currentMaxId(resource: Resource): Promise<number> {
  const { rows } = await chatDb().query<{ max: number }>(
    `SELECT COALESCE(max(id), 0)::bigint AS max FROM ${EXPORT_TABLES[resource]}`,
  );
  return rows[0]?.max ?? 0;
}

/** How many rows the export of `scope` will hold (the same WHERE clause as its rows). */
export async function countExportRows(scope: ExportScope): Promise<number> {
  const { rows } = await chatDb().query<{ count: number }>(
    `SELECT count(*) AS count FROM ${EXPORT_TABLES[scope.resource]} t WHERE ${exportWhere(scope)}`,
  );
  return rows[0]?.count ?? 0;
}

/**
 * Upper bounds of `count` key ranges of about equal rows over the `rows` rows of `scope`: the
 * position of every (rows/count)-th row, read from the ordered index with the same plan settings
 * as the rows themselves. Fewer bounds come back when rows went missing meanwhile.
 */
export async function rangeBounds(
  scope: ExportScope,
  rows: number,
  count: number,
): Promise<ExportCursor[]> {
  const client = await chatDb().connect();
  try {
    await client.query(orderedScan.on);
    const bounds: ExportCursor[] = [];
    // Range k ends at row index end(k) - 1; each bound is found from the one before it.
    const end = (k: number) => Math.floor((rows * k) / count);
    for (let k = 1; k < count; k += 1) {
      const offset = end(k) - 1 - (k > 1 ? end(k - 1) : 0);
      const { rows: found } = await client.query<{ created_at: string; id: string }>(
        `SELECT t.created_at::text AS created_at, t.id::text AS id
           FROM ${EXPORT_TABLES[scope.resource]} t WHERE ${exportWhere(scope, bounds.at(-1))}
           ORDER BY t.created_at, t.id OFFSET ${sqlInteger(offset)} LIMIT 1`,
      );
      const row = found[0];
      if (!row) break;
      bounds.push({ createdAt: row.created_at, id: Number(row.id) });
    }
    await client.query(orderedScan.reset);
    client.release();
    return bounds;
  } catch (error) {
    client.release(true);
    throw error;
  }
}
