import { basename } from "node:path";
import { config } from "../config.ts";
import {
  discardStaging,
  type PipelineOutcome,
  runImportPipeline,
} from "../imports/import-pipeline.ts";
import type { InvocationClock, JobMessage } from "../jobs/job-queue.ts";
import {
  type JobRecord,
  RESOURCES,
  type Resource,
  type RestoreState,
  type RestoreTypeState,
} from "../jobs/job-record.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  runLeased,
} from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { verifiedBackupFile } from "./verified-file.ts";

/**
 * A dry run writes nothing, so a backup's rooms meet only the users the application already has
 * (and its comments only its rooms): problems that say no more than that a user or room is
 * missing pass a dry run; the backup's own references close (a finished backup's do).
 */
const MISSING_REFERENCE = "is not a (user|room) of this application$";

/** The import job id of one type's step: its staging tables and applied marker are named after it. */
export function stepJobId(restoreId: string, type: Resource): string {
  return `${restoreId}-${type}`;
}

/** The import job a restore step runs through the import pipeline: the backup's file, skip mode. */
function stepJob(restore: JobRecord, state: RestoreState, type: Resource): JobRecord {
  const file = state.files[type];
  return {
    ...restore,
    jobId: stepJobId(restore.jobId, type),
    kind: "import",
    resource: type,
    originalFilename: basename(file.key),
    objectKey: file.key,
    size: file.bytes,
    percentage: state.types[type].percentage,
    totalRows: 0,
    onExisting: "skip",
    restore: undefined,
  };
}

/** The restore's percentage: the finished types' bytes and the share done of the current one. */
function overallPercentage(state: RestoreState): number {
  const total = RESOURCES.reduce((sum, type) => sum + Math.max(state.files[type].bytes, 1), 0);
  const done = RESOURCES.reduce(
    (sum, type) =>
      sum + (Math.max(state.files[type].bytes, 1) * state.types[type].percentage) / 100,
    0,
  );
  return Math.min(100, Math.floor((done / total) * 100));
}

/** One invocation's work on a restore: the steps from the one it is on, under the restore's lease. */
class RestoreRun implements LeasedWork {
  constructor(
    private readonly lease: Lease,
    private readonly clock: InvocationClock,
  ) {}

  private get state(): RestoreState {
    return this.lease.job.restore as RestoreState;
  }

  async run(): Promise<JobOutcome> {
    for (;;) {
      const type = RESOURCES[this.state.step];
      if (!type) return this.finish();
      const outcome = await this.runStep(type);
      if (outcome.status === "continued") {
        await this.lease.handOver();
        logger.info("restore continues in a new invocation", { type });
        return "continued";
      }
      if (outcome.status === "waiting") {
        throw new PermanentJobError("a restore step cannot wait for password hashing");
      }
      if (outcome.status === "failed") {
        await this.saveType(type, {
          status: "failed",
          errors: outcome.errors,
        });
        throw new PermanentJobError(
          `The backup's ${type} could not be restored, so the restore stopped there: ${outcome.errors.Message}`,
        );
      }
      await this.saveType(
        type,
        {
          status: "finished",
          percentage: 100,
          totalRows: outcome.rows,
          skippedRows: outcome.skipped,
          errors: { Message: "", Data: null },
        },
        1,
      );
      logger.info("restore step finished", {
        type,
        rows: outcome.rows,
        skipped: outcome.skipped,
        replayed: outcome.replayed ?? false,
      });
      // The next type may not fit in what is left: a fresh invocation takes it on.
      if (
        this.state.step < RESOURCES.length &&
        this.clock.getRemainingTimeInMillis() < 2 * config().importReserveMillis
      ) {
        await this.lease.handOver();
        return "continued";
      }
    }
  }

  /** Stores a type's new state (and moves the step on by `advance`), with the restore's totals. */
  private async saveType(
    type: Resource,
    changes: Partial<RestoreTypeState>,
    advance = 0,
  ): Promise<void> {
    const types = { ...this.state.types, [type]: { ...this.state.types[type], ...changes } };
    const restore: RestoreState = { ...this.state, types, step: this.state.step + advance };
    await this.lease.checkpoint({
      restore,
      percentage: overallPercentage(restore),
      totalRows: RESOURCES.reduce((sum, t) => sum + types[t].totalRows, 0),
      skippedRows: RESOURCES.reduce((sum, t) => sum + types[t].skippedRows, 0),
    });
  }

  /** Runs one type's import from the backup's file, showing its progress (at most one write per 5 %). */
  private async runStep(type: Resource): Promise<PipelineOutcome> {
    const job = stepJob(this.lease.job, this.state, type);
    if (this.state.types[type].status !== "processing") {
      await this.saveType(type, { status: "processing" });
    }
    let shown = this.state.types[type].percentage;
    let writes = Promise.resolve();
    const outcome = await runImportPipeline(job, {
      open: async () => verifiedBackupFile(this.state.files[type], `${type} file`),
      ndjson: false,
      remainingMs: () => this.clock.getRemainingTimeInMillis(),
      reserveMs: config().importReserveMillis,
      tolerated: job.dryRun && type !== "users" ? MISSING_REFERENCE : undefined,
      refusePlainPasswords:
        "The backup's users file holds plain passwords, which a backup never does; it cannot be restored.",
      progress: (percentage) => {
        if (percentage <= shown || percentage >= 100) return;
        shown = percentage;
        writes = writes
          .then(() => this.saveType(type, { percentage }))
          .then(
            () => {},
            (error) => logger.warn("restore progress not recorded", { error }),
          );
      },
    });
    await writes;
    return outcome;
  }

  private async finish(): Promise<JobOutcome> {
    const job = await this.lease.finish({ percentage: 100, errorMessage: "" });
    const seconds = Math.max((Date.now() - Date.parse(job.createdAt)) / 1000, 0.001);
    logger.info("restore finished", {
      rows: job.totalRows,
      skipped: job.skippedRows ?? 0,
      dry_run: job.dryRun ?? false,
      seconds,
    });
    jobMetric("RestoresFinished", "Count", 1, "all");
    jobMetric("RestoreDuration", "Seconds", seconds, "all");
    return "finished";
  }

  async failed(): Promise<void> {
    jobMetric("RestoresFailed", "Count", 1, "all");
    await discardRestoreStaging(this.lease.job.jobId);
  }

  async cancelled(): Promise<void> {
    await discardRestoreStaging(this.lease.job.jobId);
  }
}

/** Drops whatever staging tables the restore's steps left (the restore ended some other way). */
export async function discardRestoreStaging(restoreId: string): Promise<void> {
  for (const type of RESOURCES) await discardStaging(stepJobId(restoreId, type));
}

/**
 * Handles one restore message: the steps users -> rooms -> comments, each one type's import of
 * the backup's file through the import pipeline with `on_existing: skip`, all or nothing per
 * type. The record says which step the restore is on; a step's own progress lives where an
 * import's does (its staging tables and applied marker, named after the step), so a crash, a
 * hand-over or a duplicate message goes on from there and writes nothing twice.
 */
export function runRestore(message: JobMessage, clock: InvocationClock): Promise<JobOutcome> {
  return runLeased(message, clock, (lease) => new RestoreRun(lease, clock));
}
