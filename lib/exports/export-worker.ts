import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createSHA256, type IHasher } from "hash-wasm";
import pg from "pg";
import { s3 } from "../aws/s3.ts";
import {
  countExportRows,
  currentMaxId,
  type ExportCursor,
  type ExportRow,
  type ExportScope,
  readExportPage,
} from "../chat-db/export-queries.ts";
import { config } from "../config.ts";
import { jobStore } from "../jobs/dynamo-job-store.ts";
import { abortUpload, deleteObject } from "../jobs/files.ts";
import {
  type InvocationClock,
  type JobMessage,
  parseJobMessage,
  sendJobMessage,
} from "../jobs/job-queue.ts";
import type { ExportCheckpoint, JobRecord } from "../jobs/job-record.ts";
import { jobMetric, logger } from "../observability.ts";

/** What one delivery of an export message achieved. */
export type ExportOutcome =
  /** The file is complete and the record says `finished`. */
  | "finished"
  /** Time ran low: the position is on the record and a continuation message is queued. */
  | "continued"
  /** The data cannot be exported; the record says `failed` with a reason. */
  | "failed"
  /** The record was deleted while the export ran; the upload was aborted. */
  | "cancelled"
  /** Nothing to do: the record is gone or done, or the message is older than the record. */
  | "dropped"
  /** Another invocation holds the job's lease; the message must be tried again later. */
  | "busy";

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

/** Raised for an export message that another invocation is working on right now. */
export class ExportBusyError extends Error {
  override name = "ExportBusyError";
}

/** Raised when the data or the job cannot be exported however often it is retried. */
export class ExportDataError extends Error {
  override name = "ExportDataError";
}

/** A continuation may arrive before its sender released the lease: wait this long for it. */
const HANDOVER_WAIT_MS = 250;
const HANDOVER_ATTEMPTS = 20;
/** Progress is written at least every 5 % and at least every this many rows. */
const PROGRESS_ROWS = 10_000;
/** Room in a part buffer beyond the part size for the row that crosses it. */
const PART_SLACK_BYTES = 1024 * 1024;

const S3_PERMANENT = new Set(["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"]);

function isPermanent(error: unknown): boolean {
  if (error instanceof ExportDataError) return true;
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
export async function runExport(
  message: JobMessage,
  clock: InvocationClock,
  options: ExportWorkerOptions = {},
): Promise<ExportOutcome> {
  const store = jobStore();
  const job = await store.get(message.appId, message.jobId);
  if (job?.kind !== "export" || job.status === "finished" || job.status === "failed") {
    return "dropped";
  }
  if (message.seq < job.seq) return "dropped";
  const owner = randomUUID();
  const leased = await acquireLease(job, message, owner, clock);
  if (typeof leased === "string") return leased;
  const run = new ExportRun(leased, owner, message.seq, clock, {
    pageRows: options.pageRows ?? config().exportPageRows,
    partBytes: options.partBytes ?? config().exportPartBytes,
    reserveMs: options.reserveMs ?? config().exportReserveMillis,
    onPart: options.onPart,
  });
  return run.execute();
}

/** Takes the job's lease with one conditional write, waiting briefly for a predecessor's handover. */
async function acquireLease(
  job: JobRecord,
  message: JobMessage,
  owner: string,
  clock: InvocationClock,
): Promise<JobRecord | ExportOutcome> {
  const store = jobStore();
  for (let attempt = 0; ; attempt += 1) {
    const now = Date.now();
    const leased = await store.update(
      job.appId,
      job.jobId,
      {
        status: "processing",
        seq: message.seq,
        leaseOwner: owner,
        leaseUntil: now + clock.getRemainingTimeInMillis() + config().exportLeaseMarginMillis,
      },
      { statusIn: ["started", "processing"], seqAtMost: message.seq, leaseFreeAt: now },
    );
    if (leased) return leased;
    const current = await store.get(job.appId, job.jobId);
    if (!current || current.status === "finished" || current.status === "failed") return "dropped";
    if (message.seq < current.seq) return "dropped";
    // An older sequence on the record means the holder is handing this message its work.
    if (current.seq < message.seq && attempt < HANDOVER_ATTEMPTS) {
      await sleep(HANDOVER_WAIT_MS);
      continue;
    }
    return "busy";
  }
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
class ExportRun {
  private checkpoint?: ExportCheckpoint;
  private hasher?: IHasher;
  /** Two part buffers used in turn: one fills while the other is uploaded. */
  private readonly buffers: [PartBuffer, PartBuffer];
  /** Serialised rows not yet uploaded; after a handover they are read again. */
  private part: PartBuffer;
  private pendingRows = 0;
  /** Rows serialised so far, counting those of earlier invocations. */
  private serialisedRows = 0;
  /** Upload and checkpoint of the previous part; false when the lease was lost. */
  private inFlight?: Promise<boolean>;
  private partsThisRun = 0;
  private percentage: number;
  private reportedRows = 0;

  constructor(
    private readonly job: JobRecord,
    private readonly owner: string,
    private readonly seq: number,
    private readonly clock: InvocationClock,
    private readonly settings: Settings,
  ) {
    this.checkpoint = job.checkpoint;
    this.percentage = job.percentage;
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

  async execute(): Promise<ExportOutcome> {
    try {
      if (!this.checkpoint && !(await this.begin())) return this.lostLease();
      return await this.write();
    } catch (error) {
      // No checkpoint write may land after the lease is given up.
      await this.settle().catch(() => undefined);
      if (!isPermanent(error)) {
        // Let a retry of this message take over at once instead of waiting for the lease to expire.
        await this.release().catch(() => undefined);
        throw error;
      }
      return this.fail(reasonOf(error), error);
    }
  }

  /** First invocation: fixes the row set, opens the multipart upload and stores the checkpoint. */
  private async begin(): Promise<boolean> {
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
    const { UploadId } = await s3().send(
      new CreateMultipartUploadCommand({
        Bucket: config().bucketName,
        Key: this.job.objectKey,
        ContentType: "application/json",
      }),
    );
    if (!UploadId) throw new Error("storage answered without an upload id");
    this.checkpoint.uploadId = UploadId;
    const hasher = await createSHA256();
    hasher.init();
    this.checkpoint.hashState = Buffer.from(hasher.save()).toString("base64");
    logger.info("export file opened", {
      expected_rows: this.checkpoint.expectedRows,
      cut_id: cutId,
    });
    return this.updateHeld({ checkpoint: this.checkpoint });
  }

  private async write(): Promise<ExportOutcome> {
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
        if (this.part.length >= this.settings.partBytes && !(await this.startPart(row.cursor))) {
          return this.lostLease();
        }
      }
      if (!next) break;
      if (!(await this.reportProgress())) return this.lostLease();
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

  /** Waits for the part in flight; false when its checkpoint could not be stored (lease lost). */
  private async settle(): Promise<boolean> {
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    return inFlight ? inFlight : true;
  }

  /** Turns the buffered rows into the next part, once the previous part is stored. */
  private async startPart(cursor: ExportCursor): Promise<boolean> {
    // Settled: the other buffer's upload is done, so it can take the next rows.
    if (!(await this.settle())) return false;
    const body = this.part.bytes();
    const rows = this.pendingRows;
    this.part = this.part === this.buffers[0] ? this.buffers[1] : this.buffers[0];
    this.part.clear();
    this.pendingRows = 0;
    this.partsThisRun += 1;
    this.inFlight = this.storePart(body, rows, cursor);
    // Observed at the next settle(); never an unhandled rejection meanwhile.
    this.inFlight.catch(() => undefined);
    return true;
  }

  private async sendPart(body: Buffer, rows: number): Promise<void> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    const PartNumber = checkpoint.parts.length + 1;
    const { ETag } = await s3().send(
      new UploadPartCommand({
        Bucket: config().bucketName,
        Key: this.job.objectKey,
        UploadId: checkpoint.uploadId,
        PartNumber,
        Body: body,
        ContentLength: body.length,
      }),
    );
    if (!ETag) throw new Error(`storage answered part ${PartNumber} without an ETag`);
    (this.hasher as IHasher).update(body);
    checkpoint.parts.push({ PartNumber, ETag });
    checkpoint.rows += rows;
    checkpoint.bytes += body.length;
  }

  /** Uploads one part and moves the checkpoint to `cursor`, the part's last row. */
  private async storePart(body: Buffer, rows: number, cursor: ExportCursor): Promise<boolean> {
    const checkpoint = this.checkpoint as ExportCheckpoint;
    await this.sendPart(body, rows);
    checkpoint.cursor = cursor;
    checkpoint.hashState = Buffer.from((this.hasher as IHasher).save()).toString("base64");
    if (!(await this.updateHeld({ checkpoint }))) return false;
    await this.settings.onPart?.({
      parts: checkpoint.parts.length,
      rows: checkpoint.rows,
      bytes: checkpoint.bytes,
    });
    return true;
  }

  private progressPercentage(rows: number): number {
    const expected = this.checkpoint?.expectedRows ?? 0;
    return expected > 0 ? Math.min(99, Math.floor((rows * 100) / expected)) : 0;
  }

  /** Writes `percentage` when 5 % or 10,000 rows passed since the last write; it never falls. */
  private async reportProgress(): Promise<boolean> {
    const expected = (this.checkpoint as ExportCheckpoint).expectedRows;
    const step = Math.max(1, Math.min(PROGRESS_ROWS, Math.ceil(expected / 20)));
    if (this.serialisedRows - this.reportedRows < step) return true;
    this.reportedRows = this.serialisedRows;
    const percentage = this.progressPercentage(this.serialisedRows);
    if (percentage <= this.percentage) return true;
    this.percentage = percentage;
    return this.updateHeld({ percentage });
  }

  private async updateHeld(
    changes: Partial<JobRecord>,
    remove: (keyof JobRecord)[] = [],
  ): Promise<boolean> {
    const updated = await jobStore().update(
      this.job.appId,
      this.job.jobId,
      changes,
      { leaseOwner: this.owner },
      remove,
    );
    return updated !== undefined;
  }

  private release(): Promise<boolean> {
    return this.updateHeld({}, ["leaseOwner", "leaseUntil"]);
  }

  /** Queues the continuation first, then releases the lease: a crash in between heals on lease expiry. */
  private async handOver(): Promise<ExportOutcome> {
    if (!(await this.settle())) return this.lostLease();
    const next = this.seq + 1;
    await sendJobMessage({
      kind: "export",
      appId: this.job.appId,
      jobId: this.job.jobId,
      seq: next,
    });
    if (!(await this.updateHeld({ seq: next }, ["leaseOwner", "leaseUntil"]))) {
      return this.lostLease();
    }
    const checkpoint = this.checkpoint as ExportCheckpoint;
    logger.info("export continues in a new invocation", {
      seq: next,
      rows: checkpoint.rows,
      parts: checkpoint.parts.length,
    });
    return "continued";
  }

  private async finish(): Promise<ExportOutcome> {
    if (!(await this.settle())) return this.lostLease();
    const checkpoint = this.checkpoint as ExportCheckpoint;
    // The last part may be small; an empty export still has one part, `[]`.
    this.part.append(this.serialisedRows === 0 ? "[]\n" : "\n]\n");
    await this.sendPart(this.part.bytes(), this.pendingRows);
    const checksum = (this.hasher as IHasher).digest("hex");
    const bucket = config().bucketName;
    await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: this.job.objectKey,
        UploadId: checkpoint.uploadId,
        MultipartUpload: { Parts: checkpoint.parts },
      }),
    );
    await s3().send(
      new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: this.job.objectKey,
        Tagging: { TagSet: [{ Key: "sha256", Value: checksum }] },
      }),
    );
    const finished = await this.updateHeld(
      {
        status: "finished",
        percentage: 100,
        totalRows: checkpoint.rows,
        size: checkpoint.bytes,
        checksumSha256: checksum,
      },
      ["checkpoint", "leaseOwner", "leaseUntil"],
    );
    if (!finished) {
      if (await this.recordExists()) return "busy";
      // Deleted while the last part was on its way: the file must not outlive its record.
      await deleteObject(this.job.objectKey);
      logger.info("export cancelled while finishing; file removed");
      return "cancelled";
    }
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

  private async fail(reason: string, error: unknown): Promise<ExportOutcome> {
    const failed = await this.updateHeld({ status: "failed", errorMessage: reason }, [
      "checkpoint",
      "leaseOwner",
      "leaseUntil",
    ]);
    if (this.checkpoint?.uploadId) await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    if (!failed) return this.lostLease();
    logger.warn("export failed", { reason, error: error as Error });
    jobMetric("ExportsFailed", MetricUnit.Count, 1, this.job.resource);
    return "failed";
  }

  private async recordExists(): Promise<boolean> {
    return (await jobStore().get(this.job.appId, this.job.jobId)) !== undefined;
  }

  /**
   * A write under the lease failed. A deleted record means the export was cancelled: abort the
   * upload. Otherwise another invocation took over the job and carries on with the same upload.
   */
  private async lostLease(): Promise<ExportOutcome> {
    await this.settle().catch(() => undefined);
    if (await this.recordExists()) {
      logger.warn("export lease lost to another invocation");
      return "busy";
    }
    if (this.checkpoint?.uploadId) await abortUpload(this.job.objectKey, this.checkpoint.uploadId);
    logger.info("export cancelled; upload aborted");
    return "cancelled";
  }
}

/**
 * Handles one SQS record of the export queue. Throws ExportBusyError when another invocation
 * holds the job, so that the record is reported failed and delivered again later.
 */
export async function processExportRecord(
  body: string,
  clock: InvocationClock,
  options: ExportWorkerOptions = {},
): Promise<ExportOutcome> {
  const message = parseJobMessage(body);
  if (message?.kind !== "export") {
    logger.warn("export queue message is not an export job message; dropped");
    return "dropped";
  }
  logger.appendKeys({ app_id: message.appId, job_id: message.jobId });
  try {
    const outcome = await runExport(message, clock, options);
    logger.debug("export message handled", { seq: message.seq, outcome });
    if (outcome === "busy") {
      throw new ExportBusyError(`export ${message.jobId} is being written by another invocation`);
    }
    return outcome;
  } finally {
    logger.removeKeys(["app_id", "job_id"]);
  }
}
