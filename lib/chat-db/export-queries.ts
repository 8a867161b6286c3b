import type { Resource } from "../jobs/job-record.ts";
import { chatDb } from "./pool.ts";

/** Which rows of one resource an export takes: a consistent, as-of view of one application. */
export interface ExportScope {
  appId: string;
  resource: Resource;
  /** Rows with a larger id did not exist when the export began. */
  cutId: number;
  /** Rows created after this instant (the job's creation, ISO 8601) are left out. */
  createdUntil: string;
  /** Inclusive calendar days `YYYY-MM-DD` in `timezone`; absent means unbounded. */
  startDate?: string;
  endDate?: string;
  /** IANA time zone in which the days are counted. */
  timezone: string;
}

/** Keyset position: creation time as PostgreSQL text (microseconds kept) and id. */
export interface ExportCursor {
  createdAt: string;
  id: number;
}

const TABLES: Record<Resource, string> = { users: "users", rooms: "rooms", comments: "comments" };

/** The WHERE clause of a scope (and cursor) with its parameters; bounds are computed in SQL. */
function where(scope: ExportScope, cursor?: ExportCursor): { sql: string; params: unknown[] } {
  const params: unknown[] = [scope.appId, scope.cutId, scope.createdUntil];
  const conditions = ["t.app_id = $1", "t.id <= $2", "t.created_at <= $3::timestamptz"];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (scope.startDate || scope.endDate) {
    const zone = param(scope.timezone);
    if (scope.startDate) {
      conditions.push(
        `t.created_at >= (${param(scope.startDate)}::date)::timestamp AT TIME ZONE ${zone}::text`,
      );
    }
    if (scope.endDate) {
      conditions.push(
        `t.created_at < (${param(scope.endDate)}::date + 1)::timestamp AT TIME ZONE ${zone}::text`,
      );
    }
  }
  if (cursor) {
    conditions.push(
      `(t.created_at, t.id) > (${param(cursor.createdAt)}::timestamptz, ${param(cursor.id)}::bigint)`,
    );
  }
  return { sql: conditions.join(" AND "), params };
}

/** The largest id of the resource's table right now (ids are global, so this cuts every app). */
export async function currentMaxId(resource: Resource): Promise<number> {
  const { rows } = await chatDb().query<{ max: number }>(
    `SELECT COALESCE(max(id), 0)::bigint AS max FROM ${TABLES[resource]}`,
  );
  return rows[0]?.max ?? 0;
}

/** How many rows the export of `scope` will hold. */
export async function countExportRows(scope: ExportScope): Promise<number> {
  const { sql, params } = where(scope);
  const { rows } = await chatDb().query<{ count: number }>(
    `SELECT count(*) AS count FROM ${TABLES[scope.resource]} t WHERE ${sql}`,
    params,
  );
  return rows[0]?.count ?? 0;
}
