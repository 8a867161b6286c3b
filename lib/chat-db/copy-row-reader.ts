import type { Readable } from "node:stream";
import { int8, TimePrinter } from "./binary-values.ts";
import type { ExportCursor } from "./export-scope.ts";

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

/** Where a row's own values sit among its fields. */
export const CREATED_AT = 0;
export const ID = 1;

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

/** The keyset position of a streamed row. */
export function cursorOf(row: StreamedRow): ExportCursor {
  const { data, bounds } = row;
  return {
    createdAt: new TimePrinter().cursorTime(data, bounds[2 * CREATED_AT] as number),
    id: int8(data, bounds[2 * ID] as number),
  };
}
