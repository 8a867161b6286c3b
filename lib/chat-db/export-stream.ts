import type { Readable } from "node:stream";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { Resource } from "../jobs/job-record.ts";
import type { ExportCursor, ExportScope } from "./export-queries.ts";
import { chatDb } from "./pool.ts";

/**
 * File rows built by PostgreSQL and streamed with `COPY (...) TO STDOUT (FORMAT binary)`.
 *
 * Each row of the COPY carries its keyset position and the row's JSON text exactly as the file
 * holds it: keys in the import format's order, strings escaped by `to_json` (the same escapes as
 * JSON.stringify for any text PostgreSQL can store), booleans and timestamps spliced in as text.
 * The one value PostgreSQL cannot print as JavaScript would is a comment's `Payload` (jsonb
 * prints `{"a": 1.0}` where the file has `{"a":1}`), so a row with a payload comes in two halves
 * around the payload's text, which JSON.parse + JSON.stringify put in the file's form.
 *
 * The statement can only run as an ordered scan of the `(app_id, created_at, id)` index: plans
 * that sort, scan the whole table or build bitmaps are switched off on its connection. Without
 * that, a table without statistics for the application (a fresh import) gets a bitmap scan of
 * all remaining rows plus a sort for every statement, and an export costs O(rows²).
 */

/** One row of the file as PostgreSQL sent it; the Buffers are valid until the next row is read. */
export interface StreamedRow {
  /** The row's JSON text, or the part before its payload when `payload` is set. */
  head: Buffer;
  /** A comment payload's jsonb text, to be re-serialised; undefined when the row is complete. */
  payload?: Buffer;
  /** What follows the payload (undefined when the row is complete). */
  tail?: Buffer;
  /** Keyset position text, decoded only when asked for (part boundaries). */
  createdAt: Buffer;
  id: Buffer;
}

/** A JSON string literal of a text expression, escaped by PostgreSQL. */
function str(expression: string): string {
  return `to_json(${expression})::text`;
}

/**
 * A timestamp as the files carry it: UTC, `YYYY-MM-DDTHH:MM:SSZ`, with a six-digit fraction only
 * when it is not zero.
 */
export function fileTime(column: string): string {
  // One to_char, with a zero fraction cut afterwards: half the cost of formatting it apart.
  return `replace(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') || 'Z'`;
}

interface RowShape {
  table: string;
  /** The row's JSON up to the payload (or all of it), as SQL text. */
  head: string;
  /** The payload's jsonb column, when the resource has one. */
  payload?: string;
  /** What follows the payload. */
  tail?: string;
}

// Related values come from scalar subqueries on primary keys, so that the only access path the
// planner chooses is the ordered scan of the exported table.
const SHAPES: Record<Resource, RowShape> = {
  users: {
    table: "users",
    head: `'{"Email":' || ${str("t.email")} || ',"Name":' || ${str("t.name")}
      || ',"AvatarUrl":' || ${str("t.avatar_url")}
      || ',"AuthenticationToken":' || ${str("t.authentication_token")}
      || ',"PasswordHash":' || ${str("t.password_hash")}
      || ',"CreateAt":"' || ${fileTime("t.created_at")} || '"}'`,
  },
  rooms: {
    table: "rooms",
    head: `'{"Name":' || ${str("t.name")} || ',"Type":' || ${str("t.type")}
      || ',"Options":' || ${str("t.options")}
      || ',"CreatorEmail":' || ${str("(SELECT u.email FROM users u WHERE u.id = t.creator_id)")}
      || ',"CreatedAt":"' || ${fileTime("t.created_at")} || '"'
      || ',"AvatarUrl":' || ${str("t.avatar_url")} || ',"UniqueId":' || ${str("t.unique_id")}
      || ',"ParticipantEmails":' || to_json(ARRAY(SELECT pu.email FROM room_participants rp
           JOIN users pu ON pu.id = rp.user_id WHERE rp.room_id = t.id
           ORDER BY rp.position, rp.user_id))::text || '}'`,
  },
  comments: {
    table: "comments",
    head: `'{"Message":' || ${str("t.message")}
      || ',"DisableLinkPreview":' || CASE WHEN t.disable_link_preview THEN 'true' ELSE 'false' END
      || ',"Type":' || ${str("t.type")} || ',"UniqueId":' || ${str("t.unique_id")}
      || ',"CreatorEmail":' || ${str("(SELECT u.email FROM users u WHERE u.id = t.user_id)")}
      || ',"RoomUniqueId":' || ${str("(SELECT r.unique_id FROM rooms r WHERE r.id = t.room_id)")}
      || ',"CreatedAt":"' || ${fileTime("t.created_at")} || '","Payload":'
      || CASE WHEN t.payload IS NULL THEN 'null' || ${commentTail()} ELSE '' END`,
    payload: "t.payload",
    tail: `CASE WHEN t.payload IS NULL THEN NULL ELSE ${commentTail()} END`,
  },
};

function commentTail(): string {
  return `',"ParentCommentUniqueId":' || ${str(
    "COALESCE((SELECT p.unique_id FROM comments p WHERE p.id = t.parent_id), '')",
  )} || '}'`;
}

/** Planner settings of an export's connection: an ordered index scan is the only plan left. */
export const ORDERED_SCAN_SETTINGS = [
  "enable_sort",
  "enable_seqscan",
  "enable_bitmapscan",
  "enable_incremental_sort",
];

/** The scope (and cursor) as a WHERE clause with its values inlined (COPY takes no parameters). */
function where(scope: ExportScope, cursor: ExportCursor | undefined, upTo?: ExportCursor): string {
  const lit = pg.escapeLiteral;
  const conditions = [
    `t.app_id = ${lit(scope.appId)}`,
    `t.id <= ${integer(scope.cutId)}`,
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
  if (cursor) {
    conditions.push(
      `(t.created_at, t.id) > (${lit(cursor.createdAt)}::timestamptz, ${integer(cursor.id)}::bigint)`,
    );
  }
  if (upTo) {
    conditions.push(
      `(t.created_at, t.id) <= (${lit(upTo.createdAt)}::timestamptz, ${integer(upTo.id)}::bigint)`,
    );
  }
  return conditions.join(" AND ");
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

/**
 * The statement producing the next `limit` file rows of `scope` after `cursor` (up to and
 * including `upTo` when given), in file order. Columns: created_at text, id text, head, payload, tail.
 */
export function exportRowsQuery(
  scope: ExportScope,
  cursor: ExportCursor | undefined,
  limit: number,
  upTo?: ExportCursor,
): string {
  const shape = SHAPES[scope.resource];
  return `SELECT t.created_at::text, t.id::text, ${shape.head},
      ${shape.payload ? `${shape.payload}::text` : "NULL::text"}, ${shape.tail ?? "NULL::text"}
    FROM ${shape.table} t WHERE ${where(scope, cursor, upTo)}
    ORDER BY t.created_at, t.id LIMIT ${integer(limit)}`;
}

/** The bytes PostgreSQL starts a binary COPY with. */
const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

/**
 * Reads rows out of a binary COPY stream whatever its chunking: a pull parser, so that the
 * caller can stop between any two rows (e.g. to wait for an upload) without buffering ahead.
 */
export class CopyRowReader {
  private buffer: Buffer = Buffer.alloc(0);
  private position = 0;
  private headerRead = false;
  private ended = false;
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]();
  }

  /** The next row, or undefined at the end of the COPY. */
  async next(): Promise<StreamedRow | undefined> {
    for (;;) {
      const row = this.parse();
      if (row !== null) return row;
      if (this.ended) throw new Error("the chat database ended a COPY in the middle of a row");
      const { value, done } = await this.chunks.next();
      if (done) {
        this.ended = true;
        continue;
      }
      const rest = this.buffer.subarray(this.position);
      this.buffer = rest.length ? Buffer.concat([rest, value]) : value;
      this.position = 0;
    }
  }

  /** A row from the buffered bytes; null when more bytes are needed; undefined at the trailer. */
  private parse(): StreamedRow | undefined | null {
    const buffer = this.buffer;
    let at = this.position;
    if (!this.headerRead) {
      if (buffer.length - at < 19) return null;
      if (!buffer.subarray(at, at + 11).equals(SIGNATURE)) {
        throw new Error("the chat database sent a COPY that is not in binary format");
      }
      const extension = buffer.readUInt32BE(at + 15);
      if (buffer.length - at < 19 + extension) return null;
      this.position = at + 19 + extension;
      at = this.position;
      this.headerRead = true;
    }
    if (buffer.length - at < 2) return null;
    const fields = buffer.readInt16BE(at);
    if (fields === -1) {
      this.position = at + 2;
      return undefined;
    }
    at += 2;
    const values: (Buffer | undefined)[] = [];
    for (let field = 0; field < fields; field += 1) {
      if (buffer.length - at < 4) return null;
      const length = buffer.readInt32BE(at);
      at += 4;
      if (length < 0) {
        values.push(undefined);
        continue;
      }
      if (buffer.length - at < length) return null;
      values.push(buffer.subarray(at, at + length));
      at += length;
    }
    this.position = at;
    const [createdAt, id, head, payload, tail] = values;
    if (!createdAt || !id || !head) throw new Error("the chat database sent an incomplete row");
    return { createdAt, id, head, payload, tail };
  }
}

/** The keyset position of a streamed row. */
export function cursorOf(row: StreamedRow): ExportCursor {
  return { createdAt: row.createdAt.toString("utf8"), id: Number(row.id.toString("latin1")) };
}

/**
 * A payload's jsonb text in the form the file has always had: parsed and printed by JavaScript,
 * so that numbers (`1.0` -> `1`), key order (integer-like keys first) and spacing are unchanged.
 */
export function filePayload(jsonb: Buffer): string {
  return JSON.stringify(JSON.parse(jsonb.toString("utf8")));
}

/** A connection streaming one export's rows; close() gives it back (or drops it mid-stream). */
export interface ExportRowStream {
  /** Rows of the next statement: at most `limit` rows after `cursor`. */
  rows(cursor: ExportCursor | undefined, limit: number, upTo?: ExportCursor): CopyRowReader;
  close(): Promise<void>;
}

/**
 * Opens a connection for streaming the rows of `scope` with the ordered-scan settings. Each
 * rows() call runs one COPY statement; read its rows to the end before the next call. Closing
 * while a COPY is still being read discards the connection (the server stops on its own).
 */
export async function openExportRowStream(scope: ExportScope): Promise<ExportRowStream> {
  const client = await chatDb().connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  let current: Readable | undefined;
  try {
    // Session settings, not a transaction: a long export must not hold one snapshot open.
    await client.query(ORDERED_SCAN_SETTINGS.map((name) => `SET ${name} = off`).join("; "));
  } catch (error) {
    client.release(true);
    throw error;
  }
  return {
    rows(cursor, limit, upTo) {
      const sql = exportRowsQuery(scope, cursor, limit, upTo);
      const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
      current = stream;
      stream.once("end", () => {
        if (current === stream) current = undefined;
      });
      return new CopyRowReader(stream);
    },
    async close() {
      const unfinished = current !== undefined && !current.readableEnded;
      if (unfinished || broken) {
        current?.destroy();
        client.release(true);
        return;
      }
      try {
        await client.query(ORDERED_SCAN_SETTINGS.map((name) => `RESET ${name}`).join("; "));
        client.off("error", onError);
        client.release();
      } catch {
        client.release(true);
      }
    },
  };
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
    await client.query(ORDERED_SCAN_SETTINGS.map((name) => `SET ${name} = off`).join("; "));
    const bounds: ExportCursor[] = [];
    // Range k ends at row index end(k) - 1; each bound is found from the one before it.
    const end = (k: number) => Math.floor((rows * k) / count);
    for (let k = 1; k < count; k += 1) {
      const offset = end(k) - 1 - (k > 1 ? end(k - 1) : 0);
      const { rows: found } = await client.query<{ created_at: string; id: string }>(
        `SELECT t.created_at::text AS created_at, t.id::text AS id
           FROM ${SHAPES[scope.resource].table} t WHERE ${where(scope, bounds.at(-1))}
           ORDER BY t.created_at, t.id OFFSET ${integer(offset)} LIMIT 1`,
      );
      const row = found[0];
      if (!row) break;
      bounds.push({ createdAt: row.created_at, id: Number(row.id) });
    }
    await client.query(ORDERED_SCAN_SETTINGS.map((name) => `RESET ${name}`).join("; "));
    client.release();
    return bounds;
  } catch (error) {
    client.release(true);
    throw error;
  }
}
