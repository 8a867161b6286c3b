import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { createSHA256 } from "hash-wasm";
import { countExportRows, currentMaxId, rangeBounds } from "../chat-db/export-queries.ts";
import { abortUpload, deleteObject, rangeObjectKey } from "../jobs/files.ts";
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
} from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { isPermanent, reasonOf } from "./export-errors.ts";
import { runRange } from "./export-ranges.ts";
import {
  type ExportRunContext,
  type ExportWorkerOptions,
  type Settings,
  scopeOf,
  settingsOf,
} from "./export-settings.ts";
import { completeUpload, createUpload } from "./multipart-upload.ts";
import { joinRanges } from "./range-join.ts";
import { SerialWrite } from "./serial-write.ts";

export type { ExportWorkerOptions } from "./export-settings.ts";

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
  private write?: SerialWrite;
  /** The multipart upload was completed: the file exists. */
  private completed = false;

  constructor(
    private readonly lease: Lease,
    private readonly clock: InvocationClock,
    private readonly settings: Settings,
  ) {
    this.job = lease.job;
    this.checkpoint = this.job.checkpoint;
  }

  /** What the write and the join work with, once the checkpoint exists. */
  private get context(): ExportRunContext {
    const { job, lease, clock, settings } = this;
    return { job, lease, clock, settings, checkpoint: this.checkpoint as ExportCheckpoint };
  }

  async run(): Promise<JobOutcome> {
    try {
      if (!this.checkpoint) await this.open();
      const completing = this.checkpoint?.completing;
      if (completing) return await this.complete(completing.checksum, completing.rows);
      const ranges = this.checkpoint?.ranges;
      if (ranges) {
        if (!this.checkpoint?.rangesQueued) return await this.queueRanges(ranges.length + 1);
        const joined = await joinRanges(this.context, ranges.length + 1);
        if (typeof joined === "string") return joined;
        return await this.complete(joined.checksum, joined.totalRows);
      }
      this.write = new SerialWrite(this.context);
      const rowsEnded = await this.write.writeRows();
      if (!rowsEnded) return await this.handOver();
      const checksum = await this.write.closeFile();
      return await this.complete(checksum, this.context.checkpoint.rows);
    } catch (error) {
      // No checkpoint write may land after the lease is given up.
      await this.write?.settle().catch(() => undefined);
      if (isPermanent(error)) throw new PermanentJobError(reasonOf(error), null, { cause: error });
      throw error;
    }
  }

  /** The record was deleted: the file must not outlive it, nor an unfinished upload linger. */
  async cancelled(): Promise<void> {
    await this.write?.settle().catch(() => undefined);
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
    const scope = scopeOf(this.job, checkpoint);
    checkpoint.expectedRows = await countExportRows(scope);
    if (checkpoint.expectedRows > this.settings.parallelRows && this.settings.ranges > 1) {
      const bounds = await rangeBounds(scope, checkpoint.expectedRows, this.settings.ranges);
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

  private async deleteRangeFiles(): Promise<void> {
    const ranges = this.checkpoint?.ranges;
    if (!ranges) return;
    for (let range = 0; range <= ranges.length; range += 1) {
      await deleteObject(rangeObjectKey(this.job.objectKey, range));
    }
  }

  /** Rows not yet in a stored part are read again by the next invocation. */
  private async handOver(): Promise<JobOutcome> {
    await this.write?.settle();
    await this.lease.handOver();
    const checkpoint = this.checkpoint as ExportCheckpoint;
    logger.info("export continues in a new invocation", {
      seq: this.lease.seq + 1,
      rows: checkpoint.rows,
      parts: checkpoint.parts.length,
    });
    return "continued";
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
