import type { Resource } from "../jobs/job-record.ts";
import type { NamedTable } from "./export-names.ts";
import {
  EXPORT_TABLES,
  type ExportCursor,
  type ExportScope,
  exportWhere,
  sqlInteger,
} from "./export-scope.ts";

/**
 * File rows streamed from PostgreSQL with `COPY (...) TO STDOUT (FORMAT binary)` and finished
 * here, each piece where it is cheapest to make:
 * - PostgreSQL escapes the row's own strings with `to_json` (the same escapes as JSON.stringify
 *   for any text PostgreSQL can store) and splices them, with booleans and key names, into text
 *   pieces in the import format's key order; a comment's parent is a primary-key look-up there;
 * - the names of users and rooms a row refers to come from a cache of JSON text ({@link NameCache})
 *   by the row's ids: one index look-up per name per row was most of PostgreSQL's work;
 * - the creation time arrives as binary microseconds (also the keyset position) and is printed
 *   here, as `to_char` printed it;
 * - a comment's `Payload` is put in JavaScript's form ({@link javascriptJson}), as jsonb text
 *   differs from it (`{"a": 1.0}` where the file has `{"a":1}`).
 *
 * The statement can only run as an ordered scan of the `(app_id, created_at, id)` index: plans
 * that sort, scan the whole table or build bitmaps are switched off on its connection. Without
 * that, a table without statistics for the application (a fresh import) gets a bitmap scan of
 * all remaining rows plus a sort for every statement, and an export costs O(rows²).
 */

/** How one piece of a file row is made. */
export type Piece =
  /** A text column appended as it is (never NULL). */
  | { kind: "text"; sql: string }
  /** Fixed bytes. */
  | { kind: "literal"; bytes: Buffer }
  /** The row's creation time, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. */
  | { kind: "time" }
  /** The JSON text of the name of the row of `table` whose id is in `sql`. */
  | { kind: "name"; table: NamedTable; sql: string }
  /** A nullable jsonb column, re-printed as JavaScript prints it (`null` when NULL). */
  | { kind: "payload"; sql: string };

/** A JSON string literal of a text expression, escaped by PostgreSQL. */
function str(expression: string): string {
  return `to_json(${expression})::text`;
}

const text = (sql: string): Piece => ({ kind: "text", sql });
const literal = (value: string): Piece => ({ kind: "literal", bytes: Buffer.from(value, "utf8") });
const time: Piece = { kind: "time" };

export interface RowShape {
  pieces: Piece[];
}

// Key names and values in the import format's order. A comment's parent is looked up in SQL by
// primary key: parents are few, near their replies, and not a bounded set to cache.
export const SHAPES: Record<Resource, RowShape> = {
  users: {
    pieces: [
      text(`'{"Email":' || ${str("t.email")} || ',"Name":' || ${str("t.name")}
        || ',"AvatarUrl":' || ${str("t.avatar_url")}
        || ',"AuthenticationToken":' || ${str("t.authentication_token")}
        || ',"PasswordHash":' || ${str("t.password_hash")} || ',"CreateAt":"'`),
      time,
      literal('"}'),
    ],
  },
  rooms: {
    pieces: [
      text(`'{"Name":' || ${str("t.name")} || ',"Type":' || ${str("t.type")}
        || ',"Options":' || ${str("t.options")} || ',"CreatorEmail":'`),
      { kind: "name", table: "users", sql: "t.creator_id" },
      literal(',"CreatedAt":"'),
      time,
      text(`'","AvatarUrl":' || ${str("t.avatar_url")} || ',"UniqueId":' || ${str("t.unique_id")}
        || ',"ParticipantEmails":' || to_json(ARRAY(SELECT pu.email FROM room_participants rp
             JOIN users pu ON pu.id = rp.user_id WHERE rp.room_id = t.id
             ORDER BY rp.position, rp.user_id))::text || '}'`),
    ],
  },
  comments: {
    pieces: [
      text(`'{"Message":' || ${str("t.message")}
        || ',"DisableLinkPreview":' || CASE WHEN t.disable_link_preview THEN 'true' ELSE 'false' END
        || ',"Type":' || ${str("t.type")} || ',"UniqueId":' || ${str("t.unique_id")}
        || ',"CreatorEmail":'`),
      { kind: "name", table: "users", sql: "t.user_id" },
      literal(',"RoomUniqueId":'),
      { kind: "name", table: "rooms", sql: "t.room_id" },
      literal(',"CreatedAt":"'),
      time,
      literal('","Payload":'),
      { kind: "payload", sql: "t.payload::text" },
      text(
        `',"ParentCommentUniqueId":' || ${str(
          "COALESCE((SELECT p.unique_id FROM comments p WHERE p.id = t.parent_id), '')",
        )} || '}'`,
      ),
    ],
  },
};

/** The SQL of the columns a piece reads, if any. */
export function pieceColumn(piece: Piece): string | undefined {
  return piece.kind === "text" || piece.kind === "name" || piece.kind === "payload"
    ? piece.sql
    : undefined;
}

/**
 * The statement producing the next `limit` file rows of `scope` after `cursor` (up to and
 * including `upTo` when given), in file order. Columns: created_at, id, then one per piece that
 * reads one.
 */
export function exportRowsQuery(
  scope: ExportScope,
  cursor: ExportCursor | undefined,
  limit: number,
  upTo?: ExportCursor,
): string {
  const shape = SHAPES[scope.resource];
  const columns = shape.pieces.map(pieceColumn).filter((sql) => sql !== undefined);
  return `SELECT t.created_at, t.id, ${columns.join(",\n      ")}
    FROM ${EXPORT_TABLES[scope.resource]} t WHERE ${exportWhere(scope, cursor, upTo)}
    ORDER BY t.created_at, t.id LIMIT ${sqlInteger(limit)}`;
}
