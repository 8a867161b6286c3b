import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { createSHA256, type IHasher } from "hash-wasm";
import type pg from "pg";
import type { ExportScope } from "../chat-db/export-scope.ts";
import { config } from "../config.ts";
import { isPermanent, reasonOf } from "../exports/export-errors.ts";
import { exportFile } from "../exports/export-file.ts";
import { completeUpload, createUpload, uploadPart } from "../exports/multipart-upload.ts";
import { PartPipeline, streamRowsIntoParts } from "../exports/part-pipeline.ts";
import type { InvocationClock, JobMessage } from "../jobs/job-queue.ts";
import {
  type BackupCut,
  type BackupState,
  type ExportCheckpoint,
  type JobRecord,
  RESOURCES,
  type Resource,
} from "../jobs/job-record.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  runLeased,
} from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { changedSinceCut, closeSnapshot, countInCut, openSnapshot, takeCut } from "./backup-cut.ts";
import { backupFileKey, backupTagging, setPercentage } from "./backup-files.ts";
import { removeBackupFiles } from "./backup-jobs.ts";
import { writeManifest } from "./backup-manifest.ts";

/** Tuning of one run; every value defaults to the service configuration. */
export interface BackupWorkerOptions {
  pageRows?: number;
  partBytes?: number;
  reserveMs?: number;
  /** Called after each part is stored and its checkpoint written (tests, progress). */
  onPart?: (progress: { resource: Resource; parts: number; rows: number }) => void | Promise<void>;
}

/** A backup's `percentage` is written at least every this many points. */
const PROGRESS_STEP = 5;

/** Sentence of a backup whose set was read in several snapshots while its rows changed. */
export const CHANGED_DURING_BACKUP =
  "the application's data changed while this backup was read across several invocations, so its files could not hold one instant; please start a new backup";

/**
 * Handles one backup job message: takes the lease, writes (or continues) the set's files in the
 * order users, rooms, comments, then `manifest.json`. Duplicated, stale or reordered messages
 * are safe; transient failures are thrown so that the queue retries.
 */
export function runBackup(
  message: JobMessage,
  clock: InvocationClock,
  options: BackupWorkerOptions = {},
): Promise<JobOutcome> {
  return runLeased(message, clock, (lease) => new BackupRun(lease, clock, options));
}

class BackupRun implements LeasedWork {
  private readonly settings: Required<Omit<BackupWorkerOptions, "onPart">>;
  private pipeline?: PartPipeline;
  private percentage: number;

  constructor(
    private readonly lease: Lease,
    private readonly clock: InvocationClock,
    private readonly options: BackupWorkerOptions,
  ) {
    this.settings = {
      pageRows: options.pageRows ?? config().exportPageRows,
      partBytes: options.partBytes ?? config().exportPartBytes,
      reserveMs: options.reserveMs ?? config().exportReserveMillis,
    };
    this.percentage = lease.job.percentage;
  }

  private get job(): JobRecord {
    return this.lease.job;
  }

  private get state(): BackupState {
    return this.job.backup ?? { compression: "none", files: {} };
  }

  async run(): Promise<JobOutcome> {
    const snapshot = await openSnapshot();
    let broken = false;
    try {
      await this.takeCutOrResume(snapshot);
      for (const resource of RESOURCES) {
        if (this.state.files[resource]) continue;
        if (!(await this.writeFile(resource, snapshot))) {
          await this.lease.handOver();
          logger.info("backup continues in a new invocation", {
            resource,
            seq: this.lease.seq + 1,
          });
          return "continued";
        }
      }
      return await this.finish();
    } catch (error) {
      broken = true;
      await this.pipeline?.settle().catch(() => undefined);
      if (isPermanent(error)) throw new PermanentJobError(reasonOf(error), null, { cause: error });
      throw error;
    } finally {
      await closeSnapshot(snapshot, broken);
    }
  }

  async cancelled(): Promise<void> {
    await this.pipeline?.settle().catch(() => undefined);
    await removeBackupFiles(this.job);
  }

  async failed(): Promise<void> {
    await removeBackupFiles(this.job);
    jobMetric("BackupsFailed", MetricUnit.Count, 1, "all");
  }

  /**
   * The first invocation takes the cut in its snapshot and counts the rows inside it; a later one
   * only notes that the set is now read in another snapshot than the cut's.
   */
  private async takeCutOrResume(snapshot: pg.PoolClient): Promise<void> {
    const state = this.state;
    if (!state.cut) {
      const cut = await takeCut(snapshot);
      const expectedRows = await countInCut(snapshot, this.job.appId, cut);
      logger.info("backup cut taken", {
        cut_at: cut.at,
        max_ids: cut.maxIds,
        expected_rows: expectedRows,
      });
      await this.lease.checkpoint({ backup: { ...state, cut, expectedRows }, resource: "users" });
      return;
    }
    // Any statement fixes this transaction's snapshot; the cut's is gone with its invocation.
    await snapshot.query("SELECT 1");
    if (!state.resumed) await this.lease.checkpoint({ backup: { ...state, resumed: true } });
  }

  private scope(resource: Resource, cut: BackupCut): ExportScope {
    // No creation-time bound: a backup holds rows whatever their CreatedAt (future ones too).
    return {
      appId: this.job.appId,
      resource,
      cutId: cut.maxIds[resource],
      createdUntil: "infinity",
      timezone: "UTC",
    };
  }

  /**
   * Writes (or continues) the file of `resource` through the export's part pipeline and
   * completes it. Returns false when time ran low first (the position is stored).
   */
  private async writeFile(resource: Resource, snapshot: pg.PoolClient): Promise<boolean> {
    const state = this.state;
    const cut = state.cut as BackupCut;
    const key = backupFileKey(this.job.appId, this.job.jobId, resource, state.compression);
    let checkpoint = this.job.resource === resource ? this.job.checkpoint : undefined;
    if (!checkpoint) {
      const hasher = await createSHA256();
      hasher.init();
      checkpoint = {
        cutId: cut.maxIds[resource],
        expectedRows: state.expectedRows?.[resource] ?? 0,
        uploadId: await createUpload(key, {
          contentType: state.compression === "gzip" ? "application/gzip" : "application/json",
          tagging: backupTagging(this.job),
        }),
        uploadKey: key,
        parts: [],
        rows: 0,
        bytes: 0,
        hashState: Buffer.from(hasher.save()).toString("base64"),
        startedAt: new Date().toISOString(),
      };
      await this.lease.checkpoint({ resource, checkpoint });
    }
    const current = checkpoint;
    if (!current.completing) {
      const ended = await this.writeRows(resource, key, current, snapshot);
      if (!ended) return false;
    }
    const completing = current.completing as { checksum: string; rows: number };
    await completeUpload(key, current.uploadId, current.parts, completing.checksum, current.bytes);
    const file = { key, rows: completing.rows, bytes: current.bytes, sha256: completing.checksum };
    await this.lease.checkpoint({
      backup: { ...this.state, files: { ...this.state.files, [resource]: file } },
    });
    logger.info("backup file written", { resource, rows: file.rows, bytes: file.bytes });
    return true;
  }

  /** Streams the rows after the checkpoint into parts; true when they ended and the last part is stored. */
  private async writeRows(
    resource: Resource,
    key: string,
    checkpoint: ExportCheckpoint,
    snapshot: pg.PoolClient,
  ): Promise<boolean> {
    const hasher: IHasher = await createSHA256();
    hasher.load(Buffer.from(checkpoint.hashState, "base64"));
    const pipeline = new PartPipeline(
      this.settings.partBytes,
      checkpoint,
      hasher,
      {
        upload: (partNumber, body) => uploadPart(key, checkpoint.uploadId, partNumber, body),
        stored: async () => {
          await this.lease.checkpoint({ checkpoint });
          await this.options.onPart?.({
            resource,
            parts: checkpoint.parts.length,
            rows: checkpoint.rows,
          });
        },
      },
      checkpoint.parts.length + 1,
      this.state.compression === "gzip",
    );
    this.pipeline = pipeline;
    let written = checkpoint.rows;
    const ended = await streamRowsIntoParts(pipeline, {
      scope: this.scope(resource, this.state.cut as BackupCut),
      cursor: checkpoint.cursor,
      pageRows: this.settings.pageRows,
      snapshot,
      startRow: (part) => {
        exportFile.appendRowStart(part, written);
        written += 1;
      },
      between: () => this.reportProgress(resource, written),
      timeIsUp: () => this.clock.getRemainingTimeInMillis() < this.settings.reserveMs,
    });
    await pipeline.settle();
    if (!ended) return false;
    exportFile.appendEnd(pipeline.part, written);
    await pipeline.storeLast();
    checkpoint.completing = { checksum: hasher.digest("hex"), rows: written };
    await this.lease.checkpoint({ checkpoint });
    this.pipeline = undefined;
    return true;
  }

  /** The set's percentage: rows written over the rows inside the cut, all three types together. */
  private async reportProgress(resource: Resource, written: number): Promise<void> {
    const percentage = setPercentage(this.state, resource, written);
    if (percentage === undefined || percentage < this.percentage + PROGRESS_STEP) return;
    this.percentage = percentage;
    await this.lease.checkpoint({ percentage });
  }

  /**
   * Checks that the set holds one instant, writes `manifest.json` and marks the backup finished.
   * A set read in one snapshot closes by the chat schema's foreign keys; one read in several is
   * finished only when no row inside the cut changed meanwhile.
   */
  private async finish(): Promise<JobOutcome> {
    const state = this.state;
    const cut = state.cut as BackupCut;
    if (state.resumed && (await changedSinceCut(this.job.appId, cut))) {
      throw new PermanentJobError(CHANGED_DURING_BACKUP);
    }
    for (const resource of RESOURCES) {
      // One snapshot sees every row it counted: anything else is a fault, never a finished set.
      const expected = state.expectedRows?.[resource];
      const rows = state.files[resource]?.rows;
      if (!state.resumed && expected !== undefined && rows !== expected) {
        throw new Error(`the ${resource} file holds ${rows} rows, the cut counted ${expected}`);
      }
    }
    const manifestSha256 = await writeManifest(this.job, state);
    const files = RESOURCES.map((resource) => state.files[resource]);
    const size = files.reduce((sum, file) => sum + (file?.bytes ?? 0), 0);
    const rows = files.reduce((sum, file) => sum + (file?.rows ?? 0), 0);
    await this.lease.finish({
      percentage: 100,
      size,
      totalRows: rows,
      backup: { ...state, manifestSha256 },
    });
    const durationMs = Math.max(1, Date.now() - Date.parse(this.job.createdAt));
    logger.info("backup finished", { rows, bytes: size, duration_ms: durationMs, cut_at: cut.at });
    jobMetric("BackupsFinished", MetricUnit.Count, 1, "all");
    jobMetric("BackupRows", MetricUnit.Count, rows, "all");
    jobMetric("BackupBytes", MetricUnit.Bytes, size, "all");
    jobMetric("BackupDurationMs", MetricUnit.Milliseconds, durationMs, "all");
    return "finished";
  }
}
