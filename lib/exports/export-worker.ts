import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { createSHA256, type IHasher } from "hash-wasm";
import pg from "pg";
import {
  countExportRows,
  currentMaxId,
  type ExportCursor,
  type ExportRow,
  type ExportScope,
  readExportPage,
} from "../chat-db/export-queries.ts";
import { config } from "../config.ts";
import { abortUpload, deleteObject } from "../jobs/files.ts";
import type { InvocationClock, JobMessage } from "../jobs/job-queue.ts";
import type { ExportCheckpoint, JobRecord } from "../jobs/job-record.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  runLeased,
} from "../jobs/lifecycle.ts";
import { jobMetric, logger } from "../observability.ts";
import { completeUpload, createUpload, uploadPart } from "./multipart-upload.ts";

/** Tuning of one run; every value defaults to the service configuration. */
export interface ExportWorkerOptions {
  /** Rows per keyset page read from PostgreSQL. */
  pageRows?: number;
  /** Bytes per multipart-upload part (S3 requires 5 MiB except for the last part). */
  partBytes?: number;
  /** Checkpoint and hand over when the invocation has less time than this left. */
  reserveMs?: number;
  /** Called after each part is uploaded and its checkpoint stored (progress display). */
  onPart?: (progress: { parts: number; rows: number; bytes: number }) => void | Promise<void>;
}

/** Progress is written at least every 5 % and at least every this many rows. */
const PROGRESS_ROWS = 10_000;
/** Room in a part buffer beyond the part size for the row that crosses it. */
const PART_SLACK_BYTES = 1024 * 1024;

const S3_PERMANENT = new Set(["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"]);

function isPermanent(error: unknown): boolean {
  // SQLSTATE class 22: data exceptions (unknown time zone, impossible date, ...).
  if (error instanceof pg.DatabaseError) return error.code?.startsWith("22") ?? false;
  return error instanceof S3ServiceException && S3_PERMANENT.has(error.name);
}

function reasonOf(error: unknown): string {
  if (error instanceof pg.DatabaseError) return `the chat data could not be read: ${error.message}`;
  if (error instanceof S3ServiceException) {
    return `the file could not be stored (${error.name}); please request a new export`;
  }
  return (error as Error).message;
}

/**
 * Handles one export job message: takes the job's lease, writes (or continues) the file and
 * answers what happened. Safe to call with duplicated, stale or reordered messages.
 * Transient failures (database or storage unreachable) are thrown so that the queue retries.
 */
export function runExport(
  message: JobMessage,
  clock: InvocationClock,
  options: ExportWorkerOptions = {},
): Promise<JobOutcome> {
  return runLeased(
    message,
    clock,
    (lease) =>
      new ExportRun(lease, clock, {
        pageRows: options.pageRows ?? config().exportPageRows,
        partBytes: options.partBytes ?? config().exportPartBytes,
        reserveMs: options.reserveMs ?? config().exportReserveMillis,
        onPart: options.onPart,
      }),
  );
}

/** Starts reading a page; a read left behind by an early return must not crash the process. */
function prefetch(
  scope: ExportScope,
  cursor: ExportCursor | undefined,
  settings: Settings,
): Promise<ExportRow[]> {
  const page = readExportPage(scope, cursor, settings.pageRows);
  page.catch(() => undefined);
  return page;
}

/**
 * A reusable buffer for one part's bytes, written in place so that memory stays flat however
 * many rows pass through. Grows only for a row larger than its slack.
 */
class PartBuffer {
  private buffer: Buffer;
  length = 0;

  constructor(partBytes: number) {
    this.buffer = Buffer.allocUnsafe(partBytes + PART_SLACK_BYTES);
  }

  append(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    if (this.length + text.length * 3 > this.buffer.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(this.buffer.length * 2, this.length + text.length * 3),
      );
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length, "utf8");
  }

  /** The bytes written so far (a view, valid until the next clear). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

interface Settings {
  pageRows: number;
  partBytes: number;
  reserveMs: number;
  onPart?: ExportWorkerOptions["onPart"];
}

/**
 * One invocation's share of an export, holding the lease. Rows are serialised into a buffer;
 * a full buffer becomes the next part, uploaded while the following rows are read (at most one
 * part in flight). The checkpoint only ever names rows inside uploaded parts.
 */
class ExportRun implements LeasedWork {
  private readonly job: JobRecord;
  private checkpoint?: ExportCheckpoint;
  private hasher?: IHasher;
  /** Two part buffers used in turn: one fills while the other is uploaded. */
  private readonly buffers: [PartBuffer, PartBuffer];
  /** Serialised rows not yet uploaded; after a handover they are read again. */
  private part: PartBuffer;
  private pendingRows = 0;
  /** Rows serialised so far, counting those of earlier invocations. */
  private serialisedRows = 0;
  /** Upload and checkpoint of the previous part. */
  private inFlight?: Promise<void>;
  private partsThisRun = 0;
  private percentage: number;
  private reportedRows = 0;
  /** The multipart upload was completed: the file exists. */
  private completed = false;

  constructor(
    private readonly lease: Lease,
    private readonly clock: InvocationClock,
    private readonly settings: Settings,
  ) {
    this.job = lease.job;
    this.checkpoint = this.job.checkpoint;
    this.percentage = this.job.percentage;
    this.buffers = [new PartBuffer(settings.partBytes), new PartBuffer(settings.partBytes)];
    this.part = this.buffers[0];
  }

  private get scope(): ExportScope {
    return {
      appId: this.job.appId,
      resource: this.job.resource,
      cutId: this.checkpoint?.cutId ?? 0,
      createdUntil: this.job.createdAt,
      startDate: this.job.startDate,
      endDate: this.job.endDate,
      timezone: this.job.timezone ?? "UTC",
    };
  }

  async run(): Promise<JobOutcome> {
    try {
      if (!this.checkpoint) await this.begin();
      return await this.write();
    } catch (error) {
      // No checkpoint write may land after the lease is given up.
      await this.settle().catch(() => undefined);
      if (isPermanent(error)) throw new PermanentJobError(reasonOf(error), null, { cause: error });
      throw error;
    }
  }

  /** The record was deleted: the file must not outlive it, nor an unfinished upload linger. */
  async cancelled(): Promise<void> {
    await this.settle().catch(() => undefined);
    if (this.completed) await deleteObject(this.job.objectKey);
    else if (this.checkpoint?.uploadId) {
      await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    }
  }

  async failed(): Promise<void> {
    if (this.checkpoint?.uploadId) await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    jobMetric("ExportsFailed", MetricUnit.Count, 1, this.job.resource);
  }

  /** First invocation: fixes the row set, opens the multipart upload and stores the checkpoint. */
  private async begin(): Promise<void> {
    const cutId = await currentMaxId(this.job.resource);
    this.checkpoint = {
      cutId,
      expectedRows: 0,
      uploadId: "",
      parts: [],
      rows: 0,
      bytes: 0,
      hashState: "",
      startedAt: new Date().toISOString(),
    };
    this.checkpoint.expectedRows = await countExportRows(this.scope);
    this.checkpoint.uploadId = await createUpload(this.job.objectKey);
    const hasher = await createSHA256();
    hasher.init();
    this.checkpoint.hashState = Buffer.from(hasher.save()).toString("base64");
    logger.info("export file opened", {
      expected_rows: this.checkpoint.expectedRows,
      cut_id: cutId,
    });
    await this.lease.checkpoint({ checkpoint: this.checkpoint });
  }

  private async write(): Promise<JobOutcome> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    this.hasher = await createSHA256();
    this.hasher.load(Buffer.from(checkpoint.hashState, "base64"));
    this.serialisedRows = checkpoint.rows;
    this.reportedRows = checkpoint.rows;
    const scope = this.scope;
    let next: Promise<ExportRow[]> | undefined = prefetch(scope, checkpoint.cursor, this.settings);
    while (next) {
      const page: ExportRow[] = await next;
      const last = page[page.length - 1];
      // The next page is on its way while this one is serialised and uploaded.
      next =
        page.length === this.settings.pageRows && last
          ? prefetch(scope, last.cursor, this.settings)
          : undefined;
      for (const row of page) {
        this.part.append(this.serialisedRows === 0 ? "[\n" : ",\n");
        this.part.append(JSON.stringify(row.value));
        this.pendingRows += 1;
        this.serialisedRows += 1;
        if (this.part.length >= this.settings.partBytes) await this.startPart(row.cursor);
      }
      if (!next) break;
      await this.reportProgress();
      // Hand over only after this invocation cut a part, so that every invocation progresses.
      if (
        this.partsThisRun > 0 &&
        this.clock.getRemainingTimeInMillis() < this.settings.reserveMs
      ) {
        return this.handOver();
      }
    }
    return this.finish();
  }

  /** Waits for the part in flight (and rethrows its failure, e.g. a lost lease). */
  private async settle(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    await inFlight;
  }

  /** Turns the buffered rows into the next part, once the previous part is stored. */
  private async startPart(cursor: ExportCursor): Promise<void> {
    // Settled: the other buffer's upload is done, so it can take the next rows.
    await this.settle();
    const body = this.part.bytes();
    const rows = this.pendingRows;
    this.part = this.part === this.buffers[0] ? this.buffers[1] : this.buffers[0];
    this.part.clear();
    this.pendingRows = 0;
    this.partsThisRun += 1;
    this.inFlight = this.storePart(body, rows, cursor);
    // Observed at the next settle(); never an unhandled rejection meanwhile.
    this.inFlight.catch(() => undefined);
  }

  private async sendPart(body: Buffer, rows: number): Promise<void> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    const part = await uploadPart(
      this.job.objectKey,
      checkpoint.uploadId,
      checkpoint.parts.length + 1,
      body,
    );
    (this.hasher as IHasher).update(body);
    checkpoint.parts.push(part);
    checkpoint.rows += rows;
    checkpoint.bytes += body.length;
  }

  /** Uploads one part and moves the checkpoint to `cursor`, the part's last row. */
  private async storePart(body: Buffer, rows: number, cursor: ExportCursor): Promise<void> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    await this.sendPart(body, rows);
    checkpoint.cursor = cursor;
    checkpoint.hashState = Buffer.from((this.hasher as IHasher).save()).toString("base64");
    await this.lease.checkpoint({ checkpoint });
    await this.settings.onPart?.({
      parts: checkpoint.parts.length,
      rows: checkpoint.rows,
      bytes: checkpoint.bytes,
    });
  }

  private progressPercentage(rows: number): number {
    const expected = this.checkpoint?.expectedRows ?? 0;
    return expected > 0 ? Math.min(99, Math.floor((rows * 100) / expected)) : 0;
  }

  /** Writes `percentage` when 5 % or 10,000 rows passed since the last write; it never falls. */
  private async reportProgress(): Promise<void> {
    const expected = (this.checkpoint as ExportCheckpoint).expectedRows;
    const step = Math.max(1, Math.min(PROGRESS_ROWS, Math.ceil(expected / 20)));
    if (this.serialisedRows - this.reportedRows < step) return;
    this.reportedRows = this.serialisedRows;
    const percentage = this.progressPercentage(this.serialisedRows);
    if (percentage <= this.percentage) return;
    this.percentage = percentage;
    await this.lease.checkpoint({ percentage });
  }

  private async handOver(): Promise<JobOutcome> {
    await this.settle();
    await this.lease.handOver();
    const checkpoint = this.checkpoint as ExportCheckpoint;
    logger.info("export continues in a new invocation", {
      seq: this.lease.seq + 1,
      rows: checkpoint.rows,
      parts: checkpoint.parts.length,
    });
    return "continued";
  }

  private async finish(): Promise<JobOutcome> {
    await this.settle();
    const checkpoint = this.checkpoint as ExportCheckpoint;
    // The last part may be small; an empty export still has one part, `[]`.
    this.part.append(this.serialisedRows === 0 ? "[]\n" : "\n]\n");
    await this.sendPart(this.part.bytes(), this.pendingRows);
    const checksum = (this.hasher as IHasher).digest("hex");
    await completeUpload(this.job.objectKey, checkpoint.uploadId, checkpoint.parts, checksum);
    this.completed = true;
    await this.lease.finish({
      percentage: 100,
      totalRows: checkpoint.rows,
      size: checkpoint.bytes,
      checksumSha256: checksum,
    });
    this.recordFinished(checkpoint, checksum);
    return "finished";
  }

  private recordFinished(checkpoint: ExportCheckpoint, checksum: string): void {
    const durationMs = Math.max(
      1,
      Date.now() - Date.parse(checkpoint.startedAt ?? this.job.createdAt),
    );
    const rowsPerSecond = Math.round((checkpoint.rows * 1000) / durationMs);
    logger.info("export finished", {
      rows: checkpoint.rows,
      bytes: checkpoint.bytes,
      parts: checkpoint.parts.length,
      duration_ms: durationMs,
      rows_per_second: rowsPerSecond,
      checksum_sha256: checksum,
    });
    const resource = this.job.resource;
    jobMetric("ExportsFinished", MetricUnit.Count, 1, resource);
    jobMetric("Rows", MetricUnit.Count, checkpoint.rows, resource);
    jobMetric("Bytes", MetricUnit.Bytes, checkpoint.bytes, resource);
    jobMetric("DurationMs", MetricUnit.Milliseconds, durationMs, resource);
    jobMetric("RowsPerSecond", MetricUnit.CountPerSecond, rowsPerSecond, resource);
  }
}
