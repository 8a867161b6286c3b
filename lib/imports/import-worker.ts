import { config } from "../config.ts";
import type { InvocationClock, JobMessage } from "../jobs/job-queue.ts";
import type { JobRecord } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  runLeased,
} from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { runRestore } from "../restores/restore-worker.ts";
import { discardStaging, type PipelineOutcome, runImportPipeline } from "./import-pipeline.ts";
import { hashChunk, isHashChunk } from "./password-stage.ts";
import { objectStream } from "./upload-files.ts";
import { isUploadedFile } from "./uploads.ts";

/** One invocation's work on an import job, under its lease. */
class ImportRun implements LeasedWork {
  constructor(
    private readonly lease: Lease,
    private readonly clock: InvocationClock,
  ) {}

  private get job(): JobRecord {
    return this.lease.job;
  }

  async run(): Promise<JobOutcome> {
    const outcome = await this.pipeline();
    if (outcome.status === "continued") {
      await this.lease.handOver();
      logger.info("import continues in a new invocation", { seq: this.lease.seq + 1 });
      return "continued";
    }
    if (outcome.status === "waiting") {
      // The chunks hash the passwords; the last one queues this job's message again.
      await this.lease.release();
      return "continued";
    }
    if (outcome.status === "failed") {
      throw new PermanentJobError(outcome.errors.Message, outcome.errors.Data);
    }
    await this.lease.finish({
      totalRows: outcome.rows,
      skippedRows: outcome.skipped,
      percentage: 100,
      errors: { Message: "", Data: null },
    });
    const seconds = this.seconds();
    logger.info("import finished", {
      rows: outcome.rows,
      skipped: outcome.skipped,
      dry_run: this.job.dryRun ?? false,
      replayed: outcome.replayed ?? false,
      seconds,
    });
    jobMetric("ImportsFinished", "Count", 1, this.job.resource);
    if (!outcome.replayed && !this.job.dryRun) {
      jobMetric("ImportRows", "Count", outcome.rows, this.job.resource);
      jobMetric("ImportRowsPerSecond", "Count/Second", outcome.rows / seconds, this.job.resource);
    }
    jobMetric("ImportDuration", "Seconds", seconds, this.job.resource);
    return "finished";
  }

  /** Runs the pipeline, showing its percentage on the job record (at most one write per 5 %). */
  private async pipeline(): Promise<PipelineOutcome> {
    let shown = this.job.percentage;
    let writes = Promise.resolve();
    const outcome = await runImportPipeline(this.job, {
      open: async () => objectStream(this.job.objectKey),
      ndjson: isUploadedFile(this.job),
      remainingMs: () => this.clock.getRemainingTimeInMillis(),
      reserveMs: config().importReserveMillis,
      progress: (percentage) => {
        if (percentage <= shown) return;
        shown = percentage;
        writes = writes
          .then(() => this.lease.checkpoint({ percentage }))
          .then(
            () => {},
            (error) => logger.warn("import progress not recorded", { error }),
          );
      },
    });
    await writes;
    return outcome;
  }

  async failed(): Promise<void> {
    jobMetric("ImportsFailed", "Count", 1, this.job.resource);
    jobMetric("ImportDuration", "Seconds", this.seconds(), this.job.resource);
    await discardStaging(this.job.jobId);
  }

  async cancelled(): Promise<void> {
    await discardStaging(this.job.jobId);
  }

  /** From the request to the end, across every invocation the job took. */
  private seconds(): number {
    return Math.max((Date.now() - Date.parse(this.job.createdAt)) / 1000, 0.001);
  }
}

/**
 * Handles one import message: the job's own (load, check, write, under the job's lease) or one
 * chunk of its passwords to hash (no lease: chunks run side by side, each storing its hashes
 * once). Redelivery is harmless: a finished or failed job is left alone, a job another
 * invocation holds is "busy", and rows are written in one transaction with a marker.
 */
export async function runImport(message: JobMessage, clock: InvocationClock): Promise<JobOutcome> {
  if (message.kind === "restore") return runRestore(message, clock);
  if (isHashChunk(message)) return (await hashChunk(message, clock)) ? "continued" : "dropped";
  const outcome = await runLeased(message, clock, (lease) => new ImportRun(lease, clock));
  // The message of a job whose record is gone (deleted or expired mid-import): nothing will ever
  // finish the job, so what it left in PostgreSQL goes now.
  if (outcome === "dropped" && !(await jobStore().get(message.appId, message.jobId))) {
    await discardStaging(message.jobId);
  }
  return outcome;
}
