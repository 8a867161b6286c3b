import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { createSHA256, type IHasher } from "hash-wasm";
import pg from "pg";
import { countExportRows, currentMaxId, rangeBounds } from "../chat-db/export-queries.ts";
import { UnexportableRowError } from "../chat-db/export-row-writer.ts";
import type { ExportScope } from "../chat-db/export-scope.ts";
import { config } from "../config.ts";
import { abortUpload, deleteObject, rangeObjectKey, readObjectFrom } from "../jobs/files.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../jobs/job-queue.ts";
import type { ExportCheckpoint, JobRecord } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  removeRanges,
  runLeased,
} from "../jobs/lifecycle.ts";
import { jobMetric, logger } from "../observability.ts";
import { exportFile } from "./export-file.ts";
import { runRange } from "./export-ranges.ts";
import { completeUpload, createUpload, uploadPart } from "./multipart-upload.ts";
import { PartPipeline, type PartProgress, streamRowsIntoParts } from "./part-pipeline.ts";

/** Tuning of one run; every value defaults to the service configuration. */
export interface ExportWorkerOptions {
  /** Rows per COPY statement read from PostgreSQL (progress and time are checked between them). */
  pageRows?: number;
  /** Bytes per multipart-upload part (S3 requires 5 MiB except for the last part). */
  partBytes?: number;
  /** Checkpoint and hand over when the invocation has less time than this left. */
  reserveMs?: number;
  /** An export of more rows than this is split into key ranges (`EXPORT_PARALLEL_ROWS`). */
  parallelRows?: number;
  /** At most this many key ranges (`EXPORT_RANGES`). */
  ranges?: number;
  /** Called after each part is uploaded and its checkpoint stored (progress display). */
  onPart?: (progress: { parts: number; rows: number; bytes: number }) => void | Promise<void>;
  /** Called when the file is complete, before the job is marked finished. */
  onComplete?: () => void | Promise<void>;
}

/** Progress is written at least every 5 % and at least every this many rows. */
const PROGRESS_ROWS = 10_000;

const S3_PERMANENT = new Set(["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"]);

/** True for an error no retry can help (bad data, a broken upload). */
export function isPermanent(error: unknown): boolean {
  // SQLSTATE class 22: data exceptions (unknown time zone, impossible date, ...).
  if (error instanceof pg.DatabaseError) return error.code?.startsWith("22") ?? false;
  if (error instanceof UnexportableRowError) return true;
  return error instanceof S3ServiceException && S3_PERMANENT.has(error.name);
}

/** What a user reads about a permanent error. */
export function reasonOf(error: unknown): string {
  if (error instanceof pg.DatabaseError) return `the chat data could not be read: ${error.message}`;
  if (error instanceof S3ServiceException) {
    return `the file could not be stored (${error.name}); please request a new export`;
  }
  return (error as Error).message;
}

/** The tuning of one run, every value given. */
export interface Settings {
  pageRows: number;
  partBytes: number;
  reserveMs: number;
  parallelRows: number;
  ranges: number;
  onPart?: ExportWorkerOptions["onPart"];
  onComplete?: ExportWorkerOptions["onComplete"];
}

function settingsOf(options: ExportWorkerOptions): Settings {
  return {
    pageRows: options.pageRows ?? config().exportPageRows,
    partBytes: options.partBytes ?? config().exportPartBytes,
    reserveMs: options.reserveMs ?? config().exportReserveMillis,
    parallelRows: options.parallelRows ?? config().exportParallelRows,
    ranges: options.ranges ?? config().exportRanges,
    onPart: options.onPart,
    onComplete: options.onComplete,
  };
}

/** The finisher's position in the range files. */
interface JoinCursor {
  range: number;
  offset: number;
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
  const settings = settingsOf(options);
  if (message.range !== undefined) return runRange(message, clock, settings);
  return runLeased(message, clock, (lease) => new ExportRun(lease, clock, settings));
}

/**
 * One invocation's share of an export, holding the lease. Its steps: open the file (first
 * invocation), stream rows from PostgreSQL into parts (`PartPipeline`) until the rows end or
 * time runs low, then finish the file or hand over to the next invocation.
 *
 * An export of more than `parallelRows` rows is split instead: the first invocation stores the
 * key ranges and queues one message per range (`export-ranges.ts` writes each range's file);
 * the job's next message, queued by the last range to finish, joins the range files into the
 * export file, hashing it whole.
 */
class ExportRun implements LeasedWork {
  private readonly job: JobRecord;
  private checkpoint?: ExportCheckpoint;
  private pipeline?: PartPipeline;
  private hasher?: IHasher;
  /** Rows written into the file so far, counting those of earlier invocations. */
  private serialisedRows = 0;
  private reportedRows = 0;
  private percentage: number;
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
      if (!this.checkpoint) await this.open();
      const completing = this.checkpoint?.completing;
      if (completing) return await this.complete(completing.checksum, completing.rows);
      const ranges = this.checkpoint?.ranges;
      if (ranges) {
        return this.checkpoint?.rangesQueued
          ? await this.join(ranges.length + 1)
          : await this.queueRanges(ranges.length + 1);
      }
      const rowsEnded = await this.writeRows();
      return rowsEnded ? await this.finish() : await this.handOver();
    } catch (error) {
      // No checkpoint write may land after the lease is given up.
      await this.pipeline?.settle().catch(() => undefined);
      if (isPermanent(error)) throw new PermanentJobError(reasonOf(error), null, { cause: error });
      throw error;
    }
  }

  /** The record was deleted: the file must not outlive it, nor an unfinished upload linger. */
  async cancelled(): Promise<void> {
    await this.pipeline?.settle().catch(() => undefined);
    if (this.completed) await deleteObject(this.job.objectKey);
    else if (this.checkpoint?.uploadId) {
      await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    }
    const ranges = this.checkpoint?.ranges;
    if (ranges) await removeRanges(this.job.appId, this.job.jobId, ranges.length + 1);
    await this.deleteRangeFiles();
  }

  async failed(): Promise<void> {
    if (this.checkpoint?.uploadId) await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    await this.deleteRangeFiles();
    jobMetric("ExportsFailed", MetricUnit.Count, 1, this.job.resource);
  }

  /** First invocation: fixes the row set, opens the multipart upload and stores the checkpoint. */
  private async open(): Promise<void> {
    const cutId = await currentMaxId(this.job.resource);
    const checkpoint: ExportCheckpoint = {
      cutId,
      expectedRows: 0,
      uploadId: "",
      parts: [],
      rows: 0,
      bytes: 0,
      hashState: "",
      startedAt: new Date().toISOString(),
    };
    this.checkpoint = checkpoint;
    checkpoint.expectedRows = await countExportRows(this.scope);
    if (checkpoint.expectedRows > this.settings.parallelRows && this.settings.ranges > 1) {
      const bounds = await rangeBounds(this.scope, checkpoint.expectedRows, this.settings.ranges);
      if (bounds.length > 0) {
        checkpoint.ranges = bounds;
        logger.info("export split into key ranges", {
          expected_rows: checkpoint.expectedRows,
          ranges: bounds.length + 1,
          cut_id: cutId,
        });
        await this.lease.checkpoint({ checkpoint });
        return;
      }
    }
    checkpoint.uploadId = await createUpload(this.job.objectKey);
    const hasher = await createSHA256();
    hasher.init();
    checkpoint.hashState = Buffer.from(hasher.save()).toString("base64");
    logger.info("export file opened", { expected_rows: checkpoint.expectedRows, cut_id: cutId });
    await this.lease.checkpoint({ checkpoint });
  }

  /**
   * Streams the rows after the checkpoint into parts, one COPY statement of `pageRows` rows at a
   * time. Returns true when the rows ended, false when time ran low (after at least one part).
   */
  private async writeRows(): Promise<boolean> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    this.hasher = await createSHA256();
    this.hasher.load(Buffer.from(checkpoint.hashState, "base64"));
    const pipeline = new PartPipeline(
      this.settings.partBytes,
      checkpoint,
      this.hasher,
      {
        upload: (partNumber, body) =>
          uploadPart(this.job.objectKey, checkpoint.uploadId, partNumber, body),
        stored: async () => {
          await this.lease.checkpoint({ checkpoint });
          await this.settings.onPart?.({
            parts: checkpoint.parts.length,
            rows: checkpoint.rows,
            bytes: checkpoint.bytes,
          });
        },
      },
      checkpoint.parts.length + 1,
    );
    this.pipeline = pipeline;
    this.serialisedRows = checkpoint.rows;
    this.reportedRows = checkpoint.rows;
    return streamRowsIntoParts(pipeline, {
      scope: this.scope,
      cursor: checkpoint.cursor,
      pageRows: this.settings.pageRows,
      startRow: (part) => {
        exportFile.appendRowStart(part, this.serialisedRows);
        this.serialisedRows += 1;
      },
      between: () => this.reportProgress(),
      timeIsUp: () => this.clock.getRemainingTimeInMillis() < this.settings.reserveMs,
    });
  }

  /**
   * Stores one item per key range and queues a message for each, then parks the job: the ranges
   * run under their own leases. Redone whole after a crash (an existing range is kept; a
   * duplicated message is dropped or busy).
   */
  private async queueRanges(count: number): Promise<JobOutcome> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    const { appId, jobId } = this.job;
    for (let range = 0; range < count; range += 1) {
      await jobStore().createRange({
        appId,
        jobId,
        range,
        status: "processing",
        seq: 0,
        uploadId: "",
        parts: [],
        rows: 0,
        bytes: 0,
        expiresAt: this.job.expiresAt,
      });
    }
    // The ranges exist before any write under the lease: a cancel from here on removes them.
    await this.lease.checkpoint({ checkpoint });
    for (let range = 0; range < count; range += 1) {
      await sendJobMessage({ kind: "export", appId, jobId, seq: 0, range });
    }
    await this.lease.park({ checkpoint: { ...checkpoint, rangesQueued: true } });
    return "continued";
  }

  /**
   * Joins the finished range files, in order, into the export file through the part pipeline,
   * hashing the whole file; resumable at every stored part (range and byte offset).
   */
  private async join(count: number): Promise<JobOutcome> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    const { appId, jobId } = this.job;
    const ranges = [];
    for (let range = 0; range < count; range += 1) {
      ranges.push(await jobStore().getRange(appId, jobId, range));
    }
    if (ranges.some((range) => range?.status !== "finished")) {
      // The last range to finish queues the job's message again.
      await this.lease.release();
      return "dropped";
    }
    const totalRows = ranges.reduce((sum, range) => sum + (range?.rows ?? 0), 0);
    if (!checkpoint.uploadId) {
      checkpoint.uploadId = await createUpload(this.job.objectKey);
      const hasher = await createSHA256();
      hasher.init();
      checkpoint.hashState = Buffer.from(hasher.save()).toString("base64");
      checkpoint.joined = { range: 0, offset: 0 };
      await this.lease.checkpoint({ checkpoint });
    }
    this.hasher = await createSHA256();
    this.hasher.load(Buffer.from(checkpoint.hashState, "base64"));
    const progress: PartProgress<JoinCursor> = {
      cursor: checkpoint.joined,
      parts: checkpoint.parts,
      rows: 0,
      bytes: checkpoint.bytes,
      hashState: checkpoint.hashState,
    };
    const pipeline = new PartPipeline<JoinCursor>(
      this.settings.partBytes,
      progress,
      this.hasher,
      {
        upload: (partNumber, body) =>
          uploadPart(this.job.objectKey, checkpoint.uploadId, partNumber, body),
        stored: async (stored) => {
          checkpoint.joined = stored.cursor;
          checkpoint.bytes = stored.bytes;
          checkpoint.hashState = stored.hashState;
          await this.lease.checkpoint({ checkpoint });
        },
      },
      checkpoint.parts.length + 1,
    );
    const start = checkpoint.joined ?? { range: 0, offset: 0 };
    for (let range = start.range; range < count; range += 1) {
      const size = ranges[range]?.bytes ?? 0;
      let offset = range === start.range ? start.offset : 0;
      if (offset >= size) continue;
      for await (const chunk of await readObjectFrom(
        rangeObjectKey(this.job.objectKey, range),
        offset,
      )) {
        pipeline.part.appendBytes(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        offset += chunk.byteLength;
        if (!pipeline.full()) continue;
        await pipeline.cut({ range, offset });
        if (this.clock.getRemainingTimeInMillis() < this.settings.reserveMs) {
          // The rest of this range file is read again by the next invocation.
          await pipeline.settle();
          await this.lease.handOver();
          return "continued";
        }
      }
    }
    await pipeline.settle();
    exportFile.appendEnd(pipeline.part, totalRows);
    await pipeline.storeLast();
    checkpoint.bytes = progress.bytes;
    return this.complete(this.hasher.digest("hex"), totalRows);
  }

  private async deleteRangeFiles(): Promise<void> {
    const ranges = this.checkpoint?.ranges;
    if (!ranges) return;
    for (let range = 0; range <= ranges.length; range += 1) {
      await deleteObject(rangeObjectKey(this.job.objectKey, range));
    }
  }

  /** Writes `percentage` when 5 % or 10,000 rows passed since the last write; it never falls. */
  private async reportProgress(): Promise<void> {
    const expected = (this.checkpoint as ExportCheckpoint).expectedRows;
    const step = Math.max(1, Math.min(PROGRESS_ROWS, Math.ceil(expected / 20)));
    if (this.serialisedRows - this.reportedRows < step) return;
    this.reportedRows = this.serialisedRows;
    const percentage =
      expected > 0 ? Math.min(99, Math.floor((this.serialisedRows * 100) / expected)) : 0;
    if (percentage <= this.percentage) return;
    this.percentage = percentage;
    await this.lease.checkpoint({ percentage });
  }

  /** Rows not yet in a stored part are read again by the next invocation. */
  private async handOver(): Promise<JobOutcome> {
    await this.pipeline?.settle();
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
    const pipeline = this.pipeline as PartPipeline;
    const checkpoint = this.checkpoint as ExportCheckpoint;
    await pipeline.settle();
    // The last part may be small; an empty export still has one part, `[]`.
    exportFile.appendEnd(pipeline.part, this.serialisedRows);
    await pipeline.storeLast();
    return this.complete((this.hasher as IHasher).digest("hex"), checkpoint.rows);
  }

  /**
   * Completes the file from its stored parts and marks the job finished. What completion needs is
   * recorded first, so that a retry after a crash in between completes the file, or finds it
   * complete, instead of writing it again into an upload that is gone.
   */
  private async complete(checksum: string, totalRows: number): Promise<JobOutcome> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    if (!checkpoint.completing) {
      checkpoint.rows = totalRows;
      checkpoint.completing = { checksum, rows: totalRows };
      await this.lease.checkpoint({ checkpoint });
    }
    const { objectKey } = this.job;
    await completeUpload(
      objectKey,
      checkpoint.uploadId,
      checkpoint.parts,
      checksum,
      checkpoint.bytes,
    );
    this.completed = true;
    await this.settings.onComplete?.();
    await this.lease.finish({
      percentage: 100,
      totalRows,
      size: checkpoint.bytes,
      checksumSha256: checksum,
    });
    await this.deleteRangeFiles();
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
