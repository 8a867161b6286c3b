import type { ExportScope } from "../chat-db/export-scope.ts";
import { config } from "../config.ts";
import type { InvocationClock } from "../jobs/job-queue.ts";
import type { ExportCheckpoint, JobRecord } from "../jobs/job-record.ts";
import type { Lease } from "../jobs/lifecycle/index.ts";

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

export function settingsOf(options: ExportWorkerOptions): Settings {
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

/** What one invocation of an export works with, while it holds the job's lease. */
export interface ExportRunContext {
  readonly job: JobRecord;
  readonly lease: Lease;
  readonly clock: InvocationClock;
  readonly settings: Settings;
  /** The job's checkpoint (stored on the record at every part). */
  readonly checkpoint: ExportCheckpoint;
}

/** The rows an export of `job` takes: the job's filters, cut at its `cutId` and `created_at`. */
export function scopeOf(job: JobRecord, checkpoint: ExportCheckpoint | undefined): ExportScope {
  return {
    appId: job.appId,
    resource: job.resource,
    cutId: checkpoint?.cutId ?? 0,
    createdUntil: job.createdAt,
    startDate: job.startDate,
    endDate: job.endDate,
    timezone: job.timezone ?? "UTC",
  };
}

/** True when the invocation has less time left than the settings' reserve. */
export function timeIsUp(run: Pick<ExportRunContext, "clock" | "settings">): boolean {
  return run.clock.getRemainingTimeInMillis() < run.settings.reserveMs;
}
