import { gzipSync } from "node:zlib";
import type { PoolClient } from "pg";
import { CopyRowReader, cursorOf, type StreamedRow } from "../chat-db/copy-row-reader.ts";
import type { ExportCursor, ExportScope } from "../chat-db/export-scope.ts";
import { openExportRowStream } from "../chat-db/export-stream.ts";
import { PartBuffer } from "./export-file.ts";

/** A stored part, as CompleteMultipartUpload wants it. */
export interface StoredPart {
  PartNumber: number;
  ETag: string;
}

/** The position of a file (or of one key range of it) after its stored parts. */
export interface PartProgress<C = ExportCursor> {
  /** Position after the stored parts (the last row in them, or a byte position). */
  cursor?: C;
  parts: StoredPart[];
  rows: number;
  bytes: number;
  /** Serialised SHA-256 state of the stored parts' bytes, in order (base64). */
  hashState: string;
}

/** Where the pipeline sends parts and how it records them. */
export interface PartSink<C = ExportCursor> {
  upload(partNumber: number, body: Buffer): Promise<StoredPart>;
  /** Called after each part is stored and `progress` moved past it: persist the checkpoint. */
  stored(progress: PartProgress<C>): Promise<void>;
}

/**
 * Hashes a file's bytes in order; `save()` is the state stored with each part's checkpoint (bytes
 * or base64 text; "" when it cannot be continued elsewhere).
 */
export interface PartHasher {
  update(bytes: Uint8Array): unknown;
  save(): Uint8Array | string;
}

/** Parts uploading at once while the next one fills (S3 takes parts of one upload in parallel). */
const PARTS_IN_FLIGHT = 2;

/** Uncompressed bytes per gzip member of a compressed file. */
const GZIP_MEMBER_BYTES = 1024 * 1024;
/** zlib's level 6 (its default): most of level 9's ratio at about twice its speed. */
const GZIP_LEVEL = 6;

/**
 * Cuts serialised rows into multipart-upload parts. Buffers are used in turn: one fills while up
 * to {@link PARTS_IN_FLIGHT} others upload. Each part is hashed when it is cut, in file order;
 * uploads finish in any order but are recorded in order, each with the hash state after it.
 * `progress` only ever names rows inside stored parts: a crash re-reads the rest, and a failed
 * part ends the invocation (the parts after it are never recorded).
 */
export class PartPipeline<C = ExportCursor> {
  private readonly buffers: PartBuffer[];
  private current = 0;
  /** The buffer rows are written to now (gzip: the rows not yet compressed). */
  part: PartBuffer;
  /** The part being filled: `part` itself, or with gzip the compressed members. */
  private filling: PartBuffer;
  private pendingRows = 0;
  /** Parts cut and not yet recorded, oldest first; each settles once it and those before are recorded. */
  private inFlight: Promise<void>[] = [];
  /** Parts cut by this pipeline (not counting earlier invocations). */
  partsStarted = 0;

  constructor(
    private readonly partBytes: number,
    readonly progress: PartProgress<C>,
    /** Hashes the stored bytes in order; absent when no hash is wanted (a range file). */
    private readonly hasher: PartHasher | undefined,
    private readonly sink: PartSink<C>,
    /** Number of the next part (1-based; a key range starts at its own number). */
    private nextPartNumber: number,
    /**
     * Store the bytes gzip-compressed: every ~1 MiB of rows becomes one gzip member, and a part
     * is a whole number of members, so that the file (members joined) is one valid gzip stream
     * and a later invocation continues it without any compressor state.
     */
    private readonly gzip = false,
  ) {
    this.buffers = Array.from({ length: PARTS_IN_FLIGHT + 1 }, () => new PartBuffer(partBytes));
    this.filling = this.buffers[0] as PartBuffer;
    this.part = gzip ? new PartBuffer(GZIP_MEMBER_BYTES) : this.filling;
  }

  /** Counts one row written into `part`; true when the part is full and should be cut. */
  rowWritten(): boolean {
    this.pendingRows += 1;
    return this.full();
  }

  /** True when the bytes written since the last cut fill a part. */
  full(): boolean {
    if (this.gzip && this.part.length >= GZIP_MEMBER_BYTES) this.compress();
    return this.filling.length >= this.partBytes;
  }

  /** Gzip: the rows written since the last member become one member of the part. */
  private compress(): void {
    if (!this.gzip || this.part.length === 0) return;
    this.filling.appendBytes(gzipSync(this.part.bytes(), { level: GZIP_LEVEL }));
    this.part.clear();
  }

  /** Starts storing the buffered rows (ending at `cursor`) as the next part. */
  async cut(cursor: C): Promise<void> {
    this.compress();
    this.start(this.filling.bytes(), this.pendingRows, cursor);
    this.pendingRows = 0;
    this.partsStarted += 1;
    this.current = (this.current + 1) % this.buffers.length;
    this.filling = this.buffers[this.current] as PartBuffer;
    if (!this.gzip) this.part = this.filling;
    // The next buffer is free once the part last written in it is recorded.
    while (this.inFlight.length > PARTS_IN_FLIGHT) await this.inFlight.shift();
    this.filling.clear();
  }

  /** Waits for every part in flight (and rethrows the first failure, e.g. a lost lease). */
  async settle(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = [];
    for (const stored of inFlight) await stored;
  }

  /** Stores what is buffered as the last part (it may be small) without moving the cursor. */
  async storeLast(): Promise<void> {
    this.compress();
    this.start(this.filling.bytes(), this.pendingRows, undefined);
    this.pendingRows = 0;
    await this.settle();
    this.filling.clear();
  }

  /**
   * Hashes the part (in file order), starts its upload at once and records it after the parts
   * before it; a part with a cursor is a checkpoint (the last part only completes the file).
   */
  private start(body: Buffer, rows: number, cursor: C | undefined): void {
    let hashState: string | undefined;
    if (this.hasher) {
      this.hasher.update(body);
      const saved = this.hasher.save();
      hashState = typeof saved === "string" ? saved : Buffer.from(saved).toString("base64");
    }
    const uploaded = this.sink.upload(this.nextPartNumber, body);
    this.nextPartNumber += 1;
    const before = this.inFlight.at(-1);
    const recorded = (async () => {
      const part = await uploaded;
      await before;
      this.progress.parts.push(part);
      this.progress.rows += rows;
      this.progress.bytes += body.length;
      if (hashState !== undefined) this.progress.hashState = hashState;
      if (cursor === undefined) return;
      this.progress.cursor = cursor;
      await this.sink.stored(this.progress);
    })();
    // Observed in order by cut() or settle(); never an unhandled rejection meanwhile.
    recorded.catch(() => undefined);
    uploaded.catch(() => undefined);
    this.inFlight.push(recorded);
  }
}

/** Where and how `streamRowsIntoParts` reads and frames rows. */
export interface RowStreamPlan {
  scope: ExportScope;
  /** Rows after this position (none: from the first row). */
  cursor?: ExportCursor;
  /** Rows up to and including this position (none: to the last row). */
  upTo?: ExportCursor;
  /** Rows per COPY statement. */
  pageRows: number;
  /** Appends what precedes the next row in the file (the array's start or a separator) and counts the row. */
  startRow(part: PartBuffer): void;
  /** A connection holding a snapshot to read the rows (and their names) in; default: the pool. */
  snapshot?: PoolClient;
  /** Called between two statements (progress). */
  between?(): Promise<void>;
  /** True once the invocation should hand over rather than start another statement. */
  timeIsUp(): boolean;
}

/** Rows that may wait for the names they refer to before one batched look-up. */
const NAME_BATCH_ROWS = 2000;

/**
 * Streams rows from PostgreSQL into the pipeline's parts, one COPY statement of `pageRows` rows at
 * a time, cutting a part whenever one is full. A row naming a user or room not yet known waits,
 * with the rows after it, for one look-up of all their names. Stops between statements when time
 * runs low, but only after this invocation started a part, so that every invocation progresses.
 * @returns true when the rows ended, false when time ran low
 */
export async function streamRowsIntoParts(
  pipeline: PartPipeline,
  plan: RowStreamPlan,
): Promise<boolean> {
  const stream = await openExportRowStream(plan.scope, plan.snapshot);
  const { writer } = stream;
  /** Writes a row resolve() just returned true for; true when the part is full (no promise per row). */
  const append = (row: StreamedRow): boolean => {
    plan.startRow(pipeline.part);
    writer.write(row, pipeline.part);
    return pipeline.rowWritten();
  };
  const waiting: StreamedRow[] = [];
  const flush = async () => {
    if (waiting.length === 0) return;
    await writer.fetchNames(waiting);
    for (const row of waiting) {
      if (!writer.resolve(row)) throw new Error("an exported row's names were not fetched");
      if (append(row)) await pipeline.cut(cursorOf(row));
    }
    waiting.length = 0;
  };
  try {
    let cursor = plan.cursor;
    let reported: Promise<void> | undefined;
    for (;;) {
      const reader = stream.rows(cursor, plan.pageRows, plan.upTo);
      // The progress of the statement before is written while this one starts.
      await reported;
      let read = 0;
      let last: StreamedRow | undefined;
      for (;;) {
        // Rows already received are taken without a promise each.
        let row = reader.take();
        if (row === null) row = await reader.next();
        if (!row) break;
        read += 1;
        last = row;
        // Rows keep their order: once one waits, every later row waits behind it.
        if (!writer.resolve(row) || waiting.length > 0) {
          waiting.push(CopyRowReader.keep(row));
          if (waiting.length >= NAME_BATCH_ROWS) await flush();
          continue;
        }
        if (append(row)) await pipeline.cut(cursorOf(row));
      }
      await flush();
      if (read < plan.pageRows || !last) return true;
      cursor = cursorOf(last);
      reported = plan.between?.();
      if (pipeline.partsStarted > 0 && plan.timeIsUp()) {
        await reported;
        return false;
      }
    }
  } finally {
    await stream.close();
  }
}
