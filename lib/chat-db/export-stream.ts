import type { Readable } from "node:stream";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { Resource } from "../jobs/job-record.ts";
import { type CachedNames, NameCache, type NamedTable } from "./export-names.ts";
import type { ExportCursor, ExportScope } from "./export-queries.ts";
import { javascriptJson } from "./jsonb-text.ts";
import { chatDb } from "./pool.ts";

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

/**
 * One row as PostgreSQL sent it: creation time and id (binary int8), then the pieces' columns.
 * The fields stay where they arrived (no copy, no object per field); `data` is never written
 * again, so a row copied by {@link CopyRowReader.keep} stays valid after later rows are read.
 */
export interface StreamedRow {
  /** The bytes holding the row's fields. */
  data: Buffer;
  /** Start and end offsets in `data` of field k at [2k] and [2k + 1]; -1 for NULL. */
  bounds: Int32Array;
}

/** Field `k` of a row as a view of its bytes (undefined: NULL). */
export function fieldBytes(row: StreamedRow, k: number): Buffer | undefined {
  const start = row.bounds[2 * k] ?? -1;
  return start < 0 ? undefined : row.data.subarray(start, row.bounds[2 * k + 1]);
}

/** How one piece of a file row is made. */
type Piece =
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

interface RowShape {
  table: string;
  pieces: Piece[];
}

// Key names and values in the import format's order. A comment's parent is looked up in SQL by
// primary key: parents are few, near their replies, and not a bounded set to cache.
const SHAPES: Record<Resource, RowShape> = {
  users: {
    table: "users",
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
    table: "rooms",
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
    table: "comments",
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

/** Where a row's own values sit among its fields. */
const CREATED_AT = 0;
const ID = 1;

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

/** The SQL of the columns a piece reads, if any. */
function pieceColumn(piece: Piece): string | undefined {
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
    FROM ${shape.table} t WHERE ${where(scope, cursor, upTo)}
    ORDER BY t.created_at, t.id LIMIT ${integer(limit)}`;
}

/** Bytes of the next chunk copied to finish a row cut between two chunks (most rows fit). */
const BRIDGE_BYTES = 4096;

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
  /**
   * A row cut between two chunks is read from a small bridge buffer (the end of the one, the
   * start of the other) rather than by joining whole chunks: `chunk` is read on from there.
   */
  private bridge?: { chunk: Buffer; restLength: number };
  /** Field bounds of the row being parsed. */
  private scratch = new Int32Array(0);
  /** The row returned last: one object for all, so that reading rows allocates nothing. */
  private readonly row: StreamedRow = { data: Buffer.alloc(0), bounds: new Int32Array(0) };

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]();
  }

  /** A copy of `row` that stays valid after later rows are read. */
  static keep(row: StreamedRow): StreamedRow {
    return { data: row.data, bounds: row.bounds.slice() };
  }

  /**
   * The next row if its bytes are here (undefined at the end of the COPY); null if not yet. The
   * row is valid until the next take() or next(); keep() one for longer.
   */
  take(): StreamedRow | undefined | null {
    const row = this.parse();
    const bridge = this.bridge;
    if (bridge) {
      if (row !== null) {
        // The row ended inside the new chunk: go on reading the chunk itself.
        this.buffer = bridge.chunk;
        this.position -= bridge.restLength;
        this.bridge = undefined;
      } else {
        // Longer than the bridge: read it from both chunks joined.
        this.buffer = Buffer.concat([this.buffer.subarray(0, bridge.restLength), bridge.chunk]);
        this.bridge = undefined;
        return this.parse();
      }
    }
    return row;
  }

  /** The next row (valid until the next take() or next()), or undefined at the end of the COPY. */
  async next(): Promise<StreamedRow | undefined> {
    for (;;) {
      const row = this.take();
      if (row !== null) return row;
      if (this.ended) throw new Error("the chat database ended a COPY in the middle of a row");
      const { value, done } = await this.chunks.next();
      if (done) {
        this.ended = true;
        continue;
      }
      const rest = this.buffer.subarray(this.position);
      this.position = 0;
      if (rest.length === 0) {
        this.buffer = value;
      } else {
        this.buffer = Buffer.concat([rest, value.subarray(0, BRIDGE_BYTES)]);
        this.bridge = { chunk: value, restLength: rest.length };
      }
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
    if (this.scratch.length !== 2 * fields) this.scratch = new Int32Array(2 * fields);
    const bounds = this.scratch;
    for (let field = 0; field < 2 * fields; field += 2) {
      if (buffer.length - at < 4) return null;
      const length = buffer.readInt32BE(at);
      at += 4;
      if (length < 0) {
        bounds[field] = -1;
        bounds[field + 1] = -1;
        continue;
      }
      if (buffer.length - at < length) return null;
      bounds[field] = at;
      at += length;
      bounds[field + 1] = at;
    }
    this.position = at;
    const [createdAtStart = 0, createdAtEnd = 0, idStart = 0, idEnd = 0] = bounds;
    if (fields < 2 || createdAtEnd - createdAtStart !== 8 || idEnd - idStart !== 8) {
      throw new Error("the chat database sent a row without its position");
    }
    // Only a complete row replaces the one returned before.
    const row = this.row;
    if (row.bounds.length !== bounds.length) row.bounds = new Int32Array(bounds.length);
    row.bounds.set(bounds);
    row.data = buffer;
    return row;
  }
}

/** A binary int8 at `at` as a number (ids of a chat database are far inside 2^53). */
function int8(data: Buffer, at: number): number {
  const high = data.readInt32BE(at);
  const low = data.readUInt32BE(at + 4);
  // Most ids fit the low word: kept a small integer, they are cheaper map keys than a double.
  return high === 0 ? low : high * 2 ** 32 + low;
}

/** Milliseconds from 1970 to PostgreSQL's epoch, 2000-01-01T00:00:00Z. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

/**
 * A binary timestamptz (int8 microseconds since 2000) as whole seconds and microseconds. The
 * int8 is split in its two words so that no step leaves the range a double holds exactly.
 */
function timeParts(data: Buffer, at: number): { seconds: number; micros: number } {
  const high = data.readInt32BE(at);
  // 2^32 µs = 4294 s + 967296 µs.
  const low = high * 967_296 + data.readUInt32BE(at + 4);
  const carry = Math.floor(low / 1_000_000);
  return { seconds: high * 4294 + carry, micros: low - carry * 1_000_000 };
}

/**
 * Prints creation times; consecutive rows mostly share their second, so the date text of the
 * last second is kept.
 */
class TimePrinter {
  private second = Number.NaN;
  private secondText = "";

  /**
   * `YYYY-MM-DDTHH:MM:SS`, then `.ffffff` unless the fraction is zero, then `Z`; undefined for a
   * time outside the years 0000-9999, which the file's four-digit years cannot hold.
   */
  fileTime(data: Buffer, at: number): string | undefined {
    const { seconds, micros } = timeParts(data, at);
    if (seconds !== this.second) {
      const date = new Date(POSTGRES_EPOCH_MS + seconds * 1000);
      const year = date.getUTCFullYear();
      if (!(year >= 0 && year <= 9999)) return undefined;
      const iso = date.toISOString();
      this.second = seconds;
      this.secondText = iso.slice(0, 19);
    }
    return micros === 0
      ? `${this.secondText}Z`
      : `${this.secondText}.${String(micros).padStart(6, "0")}Z`;
  }

  /** The keyset position text of a time: ISO 8601 with all six fraction digits. */
  cursorTime(data: Buffer, at: number): string {
    const { seconds, micros } = timeParts(data, at);
    const iso = new Date(POSTGRES_EPOCH_MS + seconds * 1000).toISOString().slice(0, -5);
    return `${iso}.${String(micros).padStart(6, "0")}Z`;
  }
}

/** The keyset position of a streamed row. */
export function cursorOf(row: StreamedRow): ExportCursor {
  const { data, bounds } = row;
  return {
    createdAt: new TimePrinter().cursorTime(data, bounds[2 * CREATED_AT] as number),
    id: int8(data, bounds[2 * ID] as number),
  };
}

/** A row no export file can hold: exporting again cannot help. */
export class UnexportableRowError extends Error {
  override name = "UnexportableRowError";
}

/** Where a row's bytes are written. */
export interface RowOutput {
  appendBytes(bytes: Buffer): void;
  /** Appends `data[start, end)`. */
  appendRange(data: Buffer, start: number, end: number): void;
  appendText(text: string): void;
}

const NULL_PAYLOAD = Buffer.from("null");

/**
 * Writes the file rows of one resource: the pieces in order, names from the cache. A row is
 * written only once its names are known ({@link RowWriter.ready}, {@link RowWriter.fetchNames}).
 */
export class RowWriter {
  private readonly pieces: Piece[];
  /** For each piece that reads a column, the column's index among the row's fields. */
  private readonly columns: number[];
  private readonly nameColumns: { table: NamedTable; column: number; cache: CachedNames }[] = [];
  /** For each piece that names a row, its place among the row's names. */
  private readonly nameIndexes: number[];
  /** The names of the row being written, in the order of `nameColumns`. */
  private readonly found: Buffer[] = [];
  private readonly times = new TimePrinter();

  constructor(
    private readonly resource: Resource,
    private readonly names = new NameCache(),
  ) {
    this.pieces = SHAPES[resource].pieces;
    let column = ID + 1;
    this.columns = this.pieces.map((piece) => (pieceColumn(piece) === undefined ? -1 : column++));
    this.nameIndexes = this.pieces.map((piece, index) => {
      if (piece.kind !== "name") return -1;
      const cache = names.table(piece.table);
      this.nameColumns.push({ table: piece.table, column: this.columns[index] as number, cache });
      return this.nameColumns.length - 1;
    });
  }

  /** Fetches the names noted by resolve() for `waiting`, the rows not yet written. */
  async fetchNames(waiting: StreamedRow[]): Promise<void> {
    await this.names.fetch(() => {
      const ids: Record<NamedTable, number[]> = { users: [], rooms: [] };
      for (const row of waiting) {
        for (const { table, column } of this.nameColumns) {
          ids[table].push(int8(row.data, start(row, column)));
        }
      }
      return ids;
    });
  }

  /**
   * Looks up the names the row refers to. True when all are known: the row can be written next.
   * Otherwise the missing ones are noted for fetchNames().
   */
  resolve(row: StreamedRow): boolean {
    const { nameColumns, found } = this;
    let known = true;
    for (let k = 0; k < nameColumns.length; k += 1) {
      const { column, cache } = nameColumns[k] as (typeof nameColumns)[number];
      const id = int8(row.data, start(row, column));
      const name = cache.names.get(id);
      if (name === undefined) {
        cache.wanted.add(id);
        known = false;
      } else found[k] = name;
    }
    return known;
  }

  /** Appends the JSON text of the row resolve() last returned true for. */
  write(row: StreamedRow, out: RowOutput): void {
    const { pieces, columns, found, nameIndexes } = this;
    const { data, bounds } = row;
    for (let index = 0; index < pieces.length; index += 1) {
      const piece = pieces[index] as Piece;
      const column = columns[index] as number;
      switch (piece.kind) {
        case "literal":
          out.appendBytes(piece.bytes);
          break;
        case "text":
          out.appendRange(data, start(row, column), bounds[2 * column + 1] as number);
          break;
        case "time": {
          const time = this.times.fileTime(data, bounds[2 * CREATED_AT] as number);
          if (time === undefined) {
            throw new UnexportableRowError(
              `${this.resource} row ${int8(data, bounds[2 * ID] as number)} has a creation time outside the years 0000-9999, which an export file cannot hold`,
            );
          }
          out.appendText(time);
          break;
        }
        case "name":
          out.appendBytes(found[nameIndexes[index] as number] as Buffer);
          break;
        case "payload": {
          const from = bounds[2 * column] as number;
          if (from < 0) out.appendBytes(NULL_PAYLOAD);
          else out.appendBytes(javascriptJson(data, from, bounds[2 * column + 1] as number));
          break;
        }
      }
    }
  }
}

/** Where a field that cannot be NULL starts. */
function start(row: StreamedRow, column: number): number {
  const at = row.bounds[2 * column] ?? -1;
  if (at < 0) throw new Error("the chat database sent an incomplete row");
  return at;
}

/** A connection streaming one export's rows; close() gives it back (or drops it mid-stream). */
export interface ExportRowStream {
  /** Rows of the next statement: at most `limit` rows after `cursor`. */
  rows(cursor: ExportCursor | undefined, limit: number, upTo?: ExportCursor): CopyRowReader;
  /** Writes the rows of this stream's resource into the file. */
  writer: RowWriter;
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
    writer: new RowWriter(scope.resource),
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
