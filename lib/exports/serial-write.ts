import { abortUpload } from "../jobs/files.ts";
import { logger } from "../observability.ts";
import { exportFile } from "./export-file.ts";
import { type ExportRunContext, scopeOf, timeIsUp } from "./export-settings.ts";
import {
  type FileHash,
  finishesInThisInvocation,
  oneInvocationHash,
  resumableHash,
} from "./file-hash.ts";
import { createUpload, uploadPart } from "./multipart-upload.ts";
import { PartPipeline, streamRowsIntoParts } from "./part-pipeline.ts";

/** Progress is written at least every 5 % and at least every this many rows. */
const PROGRESS_ROWS = 10_000;

/**
 * The serial write of an export file in one invocation: rows after the checkpoint are streamed
 * from PostgreSQL into parts (`PartPipeline`), one COPY statement of `pageRows` rows at a time,
 * until the rows end or time runs low; the percentage rises on the way.
 */
export class SerialWrite {
  private pipeline?: PartPipeline;
  private hasher?: FileHash;
  /** Rows written into the file so far, counting those of earlier invocations. */
  private serialisedRows = 0;
  private reportedRows = 0;
  private percentage: number;

  constructor(private readonly run: ExportRunContext) {
    this.percentage = run.job.percentage;
  }

  /** Returns true when the rows ended, false when time ran low (after at least one part). */
  async writeRows(): Promise<boolean> {
    const { checkpoint, job, lease, settings, clock } = this.run;
    // Parts hashed natively by an invocation that did not finish: their hash is lost with it.
    if (checkpoint.parts.length > 0 && !checkpoint.hashState) await this.restartFile();
    // A file written whole by this invocation is hashed natively (~5x faster); one that may take
    // several invocations stores a resumable hash state with every part.
    const whole =
      checkpoint.parts.length === 0 &&
      finishesInThisInvocation(
        checkpoint.expectedRows,
        clock.getRemainingTimeInMillis(),
        settings.reserveMs,
      );
    this.hasher = whole ? oneInvocationHash() : await resumableHash(checkpoint.hashState);
    const pipeline = new PartPipeline(
      settings.partBytes,
      checkpoint,
      this.hasher,
      {
        upload: (partNumber, body) =>
          uploadPart(job.objectKey, checkpoint.uploadId, partNumber, body),
        stored: async () => {
          await lease.checkpoint({ checkpoint });
          await settings.onPart?.({
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
      scope: scopeOf(job, checkpoint),
      cursor: checkpoint.cursor,
      pageRows: settings.pageRows,
      startRow: (part) => {
        exportFile.appendRowStart(part, this.serialisedRows);
        this.serialisedRows += 1;
      },
      between: () => this.reportProgress(),
      timeIsUp: () => timeIsUp(this.run),
    });
  }

  /** Waits for the parts under way; no checkpoint write lands after this. */
  async settle(): Promise<void> {
    await this.pipeline?.settle();
  }

  /**
   * Closes the file after its last row and stores the last part (an empty export still has one
   * part, `[]`); answers the file's SHA-256.
   */
  async closeFile(): Promise<string> {
    const pipeline = this.pipeline as PartPipeline;
    await pipeline.settle();
    exportFile.appendEnd(pipeline.part, this.serialisedRows);
    await pipeline.storeLast();
    return (this.hasher as FileHash).digest();
  }

  /**
   * Starts the file again in a new upload, resumably hashed: the parts stored so far were hashed
   * by an invocation that ended before the file did (it crashed, or ran out of time against all
   * expectation), and their hash state went with it.
   */
  private async restartFile(): Promise<void> {
    const { checkpoint, job, lease } = this.run;
    const abandoned = checkpoint.uploadId;
    logger.info("export file started again, resumably hashed", {
      rows: checkpoint.rows,
      parts: checkpoint.parts.length,
    });
    checkpoint.uploadId = await createUpload(job.objectKey);
    checkpoint.parts = [];
    checkpoint.rows = 0;
    checkpoint.bytes = 0;
    checkpoint.cursor = undefined;
    checkpoint.hashState = (await resumableHash()).save();
    await lease.checkpoint({ checkpoint });
    await abortUpload(job.objectKey, abandoned);
  }

  /** Writes `percentage` when 5 % or 10,000 rows passed since the last write; it never falls. */
  private async reportProgress(): Promise<void> {
    const expected = this.run.checkpoint.expectedRows;
    const step = Math.max(1, Math.min(PROGRESS_ROWS, Math.ceil(expected / 20)));
    if (this.serialisedRows - this.reportedRows < step) return;
    this.reportedRows = this.serialisedRows;
    const percentage =
      expected > 0 ? Math.min(99, Math.floor((this.serialisedRows * 100) / expected)) : 0;
    if (percentage <= this.percentage) return;
    this.percentage = percentage;
    await this.run.lease.checkpoint({ percentage });
  }
}
