import pg from "pg";
import type { Resource } from "../jobs/job-record.ts";

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

/** The table each resource is exported from. */
export const EXPORT_TABLES: Record<Resource, string> = {
  users: "users",
  rooms: "rooms",
  comments: "comments",
};

/** A whole number as SQL text; anything else is refused (it would be spliced into a statement). */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/**
 * The one WHERE clause of an export, over the table aliased `t`: the rows of `scope` after
 * `after` and up to and including `upTo` (keyset positions), with every value inlined as an
 * escaped literal, because a COPY statement takes no parameters. The row count, the range
 * bounds and the rows themselves all select with it, so they cannot disagree on a row. Day
 * bounds are computed by PostgreSQL in the scope's time zone (daylight-saving days included).
 */
export function exportWhere(scope: ExportScope, after?: ExportCursor, upTo?: ExportCursor): string {
  const lit = pg.escapeLiteral;
  const conditions = [
    `t.app_id = ${lit(scope.appId)}`,
    `t.id <= ${sqlInteger(scope.cutId)}`,
    `t.created_at <= ${lit(scope.createdUntil)}::timestamptz`,
  ];
  if (scope.startDate || scope.endDate) {
    const zone = `${lit(scope.timezone)}::text`;
    if (scope.startDate) {
      conditions.push(
        `t.created_at >= (${lit(scope.startDate)}::date)::timestamp AT TIME ZONE ${zone}`,
      );
    }
    if (scope.endDate) {
      conditions.push(
        `t.created_at < (${lit(scope.endDate)}::date + 1)::timestamp AT TIME ZONE ${zone}`,
      );
    }
  }
  if (after) {
    conditions.push(
      `(t.created_at, t.id) > (${lit(after.createdAt)}::timestamptz, ${sqlInteger(after.id)}::bigint)`,
    );
  }
  if (upTo) {
    conditions.push(
      `(t.created_at, t.id) <= (${lit(upTo.createdAt)}::timestamptz, ${sqlInteger(upTo.id)}::bigint)`,
    );
  }
  return conditions.join(" AND ");
}
