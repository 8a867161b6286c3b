import type { ExportCursor, ExportScope } from "../chat-db/export-scope.ts";
import {
  abortUpload,
  deleteObject,
  objectExists,
  objectKey,
  rangeObjectKey,
} from "../jobs/files.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../jobs/job-queue.ts";
import type { ExportCheckpoint } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import {
  claimRange,
  failFromRange,
  type JobOutcome,
  LeaseLostError,
  type RangeLease,
  raiseProgress,
} from "../jobs/lifecycle/index.ts";
import { logger } from "../observability.ts";
import { isPermanent, reasonOf } from "./export-errors.ts";
import { exportFile } from "./export-file.ts";
import type { Settings } from "./export-settings.ts";
import { completeUpload, createUpload, uploadPart } from "./multipart-upload.ts";
import { PartPipeline, type PartProgress, streamRowsIntoParts } from "./part-pipeline.ts";

/**
 * Handles one message of a key range of a parallel export: takes the range's lease and writes
 * (or continues) the range's own file, `exports/<app>/<job>.range-<k>`, with its rows framed
 * exactly as the export file holds them. The range that finds every range finished queues the
 * job's message, which joins the files. Lost lease: the job was deleted or ended, so the range
 * removes its upload and file.
 */
export async function runRange(
  message: JobMessage,
  clock: InvocationClock,
  settings: Settings,
): Promise<JobOutcome> {
  const lease = await claimRange(message, clock);
  if (typeof lease === "string") return lease;
  const run = new RangeRun(lease, clock, settings);
  try {
    return await run.run();
  } catch (error) {
    await run.settle();
    if (error instanceof LeaseLostError) {
      const job = await jobStore().get(message.appId, message.jobId);
      if (job?.status === "processing") return "busy";
      await run.removeFile();
      logger.info("export range stopped: its export was deleted or ended", {
        range: message.range,
      });
      return job ? "failed" : "cancelled";
    }
    if (isPermanent(error)) {
      await failFromRange(message, reasonOf(error));
      await run.removeFile();
      // Finished ranges run no more: their files go now. Running ones remove theirs at their next part.
      await run.removeFinishedFiles();
      logger.warn("export failed in a key range", { range: message.range, error: error as Error });
      return "failed";
    }
    await lease.release();
    throw error;
  }
}

class RangeRun {
  private pipeline?: PartPipeline;
  private readonly checkpoint: ExportCheckpoint;
  private readonly fileKey: string;

  constructor(
    private readonly lease: RangeLease,
    private readonly clock: InvocationClock,
    private readonly settings: Settings,
  ) {
    this.checkpoint = lease.job.checkpoint as ExportCheckpoint;
    this.fileKey = rangeObjectKey(
      objectKey("export", lease.job.appId, lease.job.jobId),
      lease.range.range,
    );
  }

  private get bounds(): { after?: ExportCursor; upTo?: ExportCursor } {
    const ranges = this.checkpoint.ranges ?? [];
    const k = this.lease.range.range;
    return { after: k > 0 ? ranges[k - 1] : undefined, upTo: ranges[k] };
  }

  private get scope(): ExportScope {
    const job = this.lease.job;
    return {
      appId: job.appId,
      resource: job.resource,
      cutId: this.checkpoint.cutId,
      createdUntil: job.createdAt,
      startDate: job.startDate,
      endDate: job.endDate,
      timezone: job.timezone ?? "UTC",
    };
  }

  async run(): Promise<JobOutcome> {
    if (!this.lease.range.uploadId) {
      await this.lease.checkpoint({ uploadId: await createUpload(this.fileKey) });
    }
    if (!this.lease.range.ended && !(await this.writeRows())) return this.handOver();
    // Every part is stored and recorded; the upload may have been completed before a crash.
    const { uploadId, parts } = this.lease.range;
    if (!(await objectExists(this.fileKey))) await completeUpload(this.fileKey, uploadId, parts);
    return this.finish();
  }

  /** Streams the range's rows after its position into parts; false when time ran low. */
  private async writeRows(): Promise<boolean> {
    const range = this.lease.range;
    const progress: PartProgress = {
      cursor: range.cursor,
      parts: range.parts,
      rows: range.rows,
      bytes: range.bytes,
      hashState: "",
    };
    const pipeline = new PartPipeline(
      this.settings.partBytes,
      progress,
      undefined,
      {
        upload: (partNumber, body) => uploadPart(this.fileKey, range.uploadId, partNumber, body),
        stored: async (stored) => {
          await this.lease.checkpoint({
            cursor: stored.cursor,
            parts: stored.parts,
            rows: stored.rows,
            bytes: stored.bytes,
          });
          await this.reportProgress();
          await this.settings.onPart?.({
            parts: stored.parts.length,
            rows: stored.rows,
            bytes: stored.bytes,
          });
        },
      },
      range.parts.length + 1,
    );
    this.pipeline = pipeline;
    // Only the whole file's first row opens the array; every other row follows a separator.
    const first = range.range === 0;
    let rows = range.rows;
    const { after, upTo } = this.bounds;
    const ended = await streamRowsIntoParts(pipeline, {
      scope: this.scope,
      cursor: range.cursor ?? after,
      upTo,
      pageRows: this.settings.pageRows,
      startRow: (part) => {
        exportFile.appendRowStart(part, first && rows === 0 ? 0 : 1);
        rows += 1;
      },
      timeIsUp: () => this.clock.getRemainingTimeInMillis() < this.settings.reserveMs,
    });
    if (!ended) return false;
    // The range's last part may be small: the joined file is cut into parts anew.
    await pipeline.storeLast();
    await this.lease.checkpoint({
      parts: progress.parts,
      rows: progress.rows,
      bytes: progress.bytes,
      ended: true,
    });
    await this.reportProgress();
    return true;
  }

  /** Percentage of the job: rows in stored parts of every range over the expected rows. */
  private async reportProgress(): Promise<void> {
    const { appId, jobId } = this.lease.job;
    const count = (this.checkpoint.ranges?.length ?? 0) + 1;
    let rows = 0;
    for (let k = 0; k < count; k += 1) {
      rows += (await jobStore().getRange(appId, jobId, k))?.rows ?? 0;
    }
    const expected = Math.max(1, this.checkpoint.expectedRows);
    const percentage = Math.min(99, Math.floor((rows * 100) / expected));
    if (percentage > this.lease.job.percentage) await raiseProgress(appId, jobId, percentage);
  }

  private async handOver(): Promise<JobOutcome> {
    await this.pipeline?.settle();
    await this.lease.handOver();
    logger.info("export range continues in a new invocation", {
      range: this.lease.range.range,
      rows: this.lease.range.rows,
    });
    return "continued";
  }

  /** Marks the range finished; the range that sees them all finished queues the join. */
  private async finish(): Promise<JobOutcome> {
    await this.lease.finish({});
    const { appId, jobId } = this.lease.job;
    const count = (this.checkpoint.ranges?.length ?? 0) + 1;
    for (let k = 0; k < count; k += 1) {
      const other = await jobStore().getRange(appId, jobId, k);
      if (other?.status !== "finished") return "finished";
    }
    const job = await jobStore().get(appId, jobId);
    // Two ranges finishing together may both queue it: the lease lets one message work.
    if (job) await sendJobMessage({ kind: "export", appId, jobId, seq: job.seq });
    logger.info("export ranges all written; joining them", { ranges: count });
    return "finished";
  }

  /** Waits for the part in flight (its failure is the caller's to report). */
  async settle(): Promise<void> {
    await this.pipeline?.settle().catch(() => undefined);
  }

  /** Deletes the files of the export's other ranges (the export failed). */
  async removeFinishedFiles(): Promise<void> {
    const count = (this.checkpoint.ranges?.length ?? 0) + 1;
    const fileKey = objectKey("export", this.lease.job.appId, this.lease.job.jobId);
    for (let k = 0; k < count; k += 1) await deleteObject(rangeObjectKey(fileKey, k));
  }

  /** The export was deleted or failed: the range's upload and file must not outlive it. */
  async removeFile(): Promise<void> {
    if (this.lease.range.uploadId) await abortUpload(this.fileKey, this.lease.range.uploadId);
    await deleteObject(this.fileKey);
  }
}
