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

/** One row ready for the file, with its keyset position. */
export interface ExportRow {
  cursor: ExportCursor;
  value: Record<string, unknown>;
}

interface Query {
  table: string;
  /** Columns of the page query; must include `id` and `cursor_at`. */
  select: string;
  joins: string;
  toValue(row: Record<string, unknown>): Record<string, unknown>;
}

/**
 * A timestamp as the files carry it: UTC, `YYYY-MM-DDTHH:MM:SSZ`, with a six-digit fraction only
 * when it is not zero. Formatted by PostgreSQL so that microseconds survive.
 */
function fileTime(column: string): string {
  const utc = `(${column} AT TIME ZONE 'UTC')`;
  return `to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN date_trunc('second', ${column}) = ${column} THEN '' ELSE to_char(${utc}, '.US') END || 'Z'`;
}

const QUERIES: Record<Resource, Query> = {
  users: {
    table: "users",
    select: `t.id, t.created_at AS cursor_at, t.email, t.name, t.avatar_url, t.authentication_token,
      t.password_hash, ${fileTime("t.created_at")} AS created_at_text`,
    joins: "",
    toValue: (row) => ({
      Email: row.email,
      Name: row.name,
      AvatarUrl: row.avatar_url,
      AuthenticationToken: row.authentication_token,
      PasswordHash: row.password_hash,
      CreateAt: row.created_at_text,
    }),
  },
  rooms: {
    table: "rooms",
    select: `t.id, t.created_at AS cursor_at, t.name, t.type, t.options, creator.email AS creator_email,
      ${fileTime("t.created_at")} AS created_at_text, t.avatar_url, t.unique_id,
      ARRAY(SELECT pu.email FROM room_participants rp JOIN users pu ON pu.id = rp.user_id
            WHERE rp.room_id = t.id ORDER BY rp.position, rp.user_id) AS participant_emails`,
    joins: "JOIN users creator ON creator.id = t.creator_id",
    toValue: (row) => ({
      Name: row.name,
      Type: row.type,
      Options: row.options,
      CreatorEmail: row.creator_email,
      CreatedAt: row.created_at_text,
      AvatarUrl: row.avatar_url,
      UniqueId: row.unique_id,
      ParticipantEmails: row.participant_emails,
    }),
  },
  comments: {
    table: "comments",
    select: `t.id, t.created_at AS cursor_at, t.message, t.disable_link_preview, t.type, t.unique_id,
      creator.email AS creator_email, room.unique_id AS room_unique_id,
      ${fileTime("t.created_at")} AS created_at_text, t.payload,
      COALESCE(parent.unique_id, '') AS parent_unique_id`,
    joins: `JOIN users creator ON creator.id = t.user_id
      JOIN rooms room ON room.id = t.room_id
      LEFT JOIN comments parent ON parent.id = t.parent_id`,
    toValue: (row) => ({
      Message: row.message,
      DisableLinkPreview: row.disable_link_preview,
      Type: row.type,
      UniqueId: row.unique_id,
      CreatorEmail: row.creator_email,
      RoomUniqueId: row.room_unique_id,
      CreatedAt: row.created_at_text,
      Payload: row.payload ?? null,
      ParentCommentUniqueId: row.parent_unique_id,
    }),
  },
};

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
    `SELECT COALESCE(max(id), 0)::bigint AS max FROM ${QUERIES[resource].table}`,
  );
  return rows[0]?.max ?? 0;
}

/** How many rows the export of `scope` will hold. */
export async function countExportRows(scope: ExportScope): Promise<number> {
  const { sql, params } = where(scope);
  const { rows } = await chatDb().query<{ count: number }>(
    `SELECT count(*) AS count FROM ${QUERIES[scope.resource].table} t WHERE ${sql}`,
    params,
  );
  return rows[0]?.count ?? 0;
}

/**
 * The next `limit` rows of `scope` after `cursor` in file order (creation time, then id), each
 * already shaped as a row of the import format. Keyset pagination: never OFFSET.
 */
export async function readExportPage(
  scope: ExportScope,
  cursor: ExportCursor | undefined,
  limit: number,
): Promise<ExportRow[]> {
  const query = QUERIES[scope.resource];
  const { sql, params } = where(scope, cursor);
  params.push(limit);
  const { rows } = await chatDb().query<Record<string, unknown>>(
    `SELECT ${query.select} FROM ${query.table} t ${query.joins}
     WHERE ${sql} ORDER BY t.created_at, t.id LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    cursor: { createdAt: row.cursor_at as string, id: row.id as number },
    value: query.toValue(row),
  }));
}
