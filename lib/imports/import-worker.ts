import { NoSuchKey } from "@aws-sdk/client-s3";
import { appliedRows, lockApplicationImports, markApplied } from "../chat-db/import-queries.ts";
import { chatDb, inTransaction } from "../chat-db/pool.ts";
import { config } from "../config.ts";
import { deleteObject, getObject, importProgressKey, putObject } from "../jobs/files.ts";
import type { InvocationClock, JobMessage } from "../jobs/job-queue.ts";
import type { ImportErrors, JobRecord, Resource } from "../jobs/job-record.ts";
import {
  type JobOutcome,
  type Lease,
  type LeasedWork,
  PermanentJobError,
  runLeased,
} from "../jobs/lifecycle.ts";
import { jobMetric, logger } from "../observability.ts";
import { importComments } from "./comments.ts";
import { ImportFileError, instant, parseImportFile } from "./file-rows.ts";
import type { ImporterFactory, Preparation } from "./importer.ts";
import { RowProblems } from "./problems.ts";
import { importRooms } from "./rooms.ts";
import { importUsers } from "./users.ts";

const IMPORTERS: Record<Resource, ImporterFactory> = {
  users: importUsers,
  rooms: importRooms,
  comments: importComments,
};

type Outcome =
  | { status: "finished"; rows: number; replayed?: boolean }
  | { status: "failed"; errors: ImportErrors; rows: number }
  /** Time ran low while preparing: the progress is saved for the next invocation. */
  | { status: "continued" };

/** Preparation (password hashing) moves the percentage from 0 to this, in steps of 5. */
const PREPARED_PERCENTAGE = 90;

function failed(message: string, data: ImportErrors["Data"] = null): Outcome {
  return { status: "failed", errors: { Message: message, Data: data }, rows: 0 };
}

/** Reads the results an earlier invocation of the job saved; none when there are none. */
async function earlierProgress(key: string): Promise<string[]> {
  try {
    const saved: unknown = JSON.parse((await getObject(key)).toString("utf8"));
    return Array.isArray(saved) && saved.every((item) => typeof item === "string") ? saved : [];
  } catch (error) {
    if (error instanceof NoSuchKey || error instanceof SyntaxError) return [];
    throw error;
  }
}

/**
 * Resumable preparation for one invocation: stops in time to save what is done, and shows the
 * progress on the job record (at most one write per 5 %). `resumed()` tells whether it went on
 * from saved progress, which is then removed when the job ends.
 */
function preparation(lease: Lease, clock: InvocationClock): Preparation & { resumed(): boolean } {
  const job = lease.job;
  const key = importProgressKey(job.appId, job.jobId);
  let resumed = false;
  let shown = job.percentage;
  let writes = Promise.resolve();
  return {
    async earlier() {
      const saved = await earlierProgress(key);
      resumed ||= saved.length > 0;
      return saved;
    },
    resumed: () => resumed,
    timeIsUp: () => clock.getRemainingTimeInMillis() < config().importReserveMillis,
    async save(results) {
      await writes;
      await putObject(key, Buffer.from(JSON.stringify(results)));
    },
    progress(done, total) {
      const percentage = Math.floor(((done / total) * PREPARED_PERCENTAGE) / 5) * 5;
      if (percentage <= shown) return;
      shown = percentage;
      writes = writes
        .then(() => lease.checkpoint({ percentage }))
        .then(
          () => {},
          (error) => logger.warn("import progress not recorded", { error }),
        );
    },
  };
}

/** Validates every row and, when all pass and this is no dry run, writes them in one transaction. */
async function importRows(job: JobRecord, work: Preparation): Promise<Outcome> {
  const already = await appliedRows(chatDb(), job.jobId);
  if (already !== undefined) return { status: "finished", rows: already, replayed: true };

  let bytes: Uint8Array;
  try {
    bytes = await getObject(job.objectKey);
  } catch (error) {
    if (error instanceof NoSuchKey) return failed("The uploaded file is no longer available.");
    throw error;
  }
  let rows: unknown[];
  try {
    rows = parseImportFile(bytes, job.resource);
  } catch (error) {
    if (error instanceof ImportFileError) return failed(error.message);
    throw error;
  }

  const problems = new RowProblems();
  const context = { appId: job.appId, importedAt: instant(new Date().toISOString()) };
  const session = IMPORTERS[job.resource](rows, problems, context);
  await session.checkAgainstApp(chatDb(), problems);
  const rejected = (found: RowProblems) =>
    failed(found.summary(job.resource, rows.length), found.listed);
  if (!problems.empty) {
    // Another delivery of this very job may have written the rows meanwhile: they are not duplicates.
    const replay = await appliedRows(chatDb(), job.jobId);
    if (replay !== undefined) return { status: "finished", rows: replay, replayed: true };
    return rejected(problems);
  }
  if (job.dryRun) return { status: "finished", rows: rows.length };

  if (!(await session.prepare(work))) return { status: "continued" };
  return inTransaction(async (client) => {
    await lockApplicationImports(client, job.appId);
    const replay = await appliedRows(client, job.jobId);
    if (replay !== undefined) return { status: "finished", rows: replay, replayed: true } as const;
    // Checked again under the application's lock: another import may have landed meanwhile.
    const late = new RowProblems();
    await session.checkAgainstApp(client, late);
    if (!late.empty) return rejected(late);
    const written = await session.write(client);
    await markApplied(client, job, written);
    return { status: "finished", rows: written } as const;
  });
}

/** One invocation's work on an import job, under its lease. */
class ImportRun implements LeasedWork {
  private readonly work: ReturnType<typeof preparation>;

  constructor(
    private readonly lease: Lease,
    clock: InvocationClock,
  ) {
    this.work = preparation(lease, clock);
  }

  private get job(): JobRecord {
    return this.lease.job;
  }

  async run(): Promise<JobOutcome> {
    const outcome = await importRows(this.job, this.work);
    if (outcome.status === "continued") {
      await this.lease.handOver();
      logger.info("import continues in a new invocation", { seq: this.lease.seq + 1 });
      return "continued";
    }
    if (outcome.status === "failed") {
      throw new PermanentJobError(outcome.errors.Message, outcome.errors.Data);
    }
    await this.lease.finish({
      totalRows: outcome.rows,
      percentage: 100,
      errors: { Message: "", Data: null },
    });
    const seconds = this.seconds();
    logger.info("import finished", {
      rows: outcome.rows,
      dry_run: this.job.dryRun ?? false,
      replayed: outcome.replayed ?? false,
      seconds,
    });
    jobMetric("ImportsFinished", "Count", 1, this.job.resource);
    if (!outcome.replayed && !this.job.dryRun) {
      jobMetric("ImportRows", "Count", outcome.rows, this.job.resource);
      jobMetric("ImportRowsPerSecond", "Count/Second", outcome.rows / seconds, this.job.resource);
    }
    await this.ended();
    return "finished";
  }

  async failed(): Promise<void> {
    jobMetric("ImportsFailed", "Count", 1, this.job.resource);
    await this.ended();
  }

  /** From the request to the end, across every invocation the job took. */
  private seconds(): number {
    return Math.max((Date.now() - Date.parse(this.job.createdAt)) / 1000, 0.001);
  }

  private async ended(): Promise<void> {
    jobMetric("ImportDuration", "Seconds", this.seconds(), this.job.resource);
    if (this.work.resumed()) {
      await deleteObject(importProgressKey(this.job.appId, this.job.jobId)).catch((error) =>
        logger.warn("import progress not removed; it expires with the upload", { error }),
      );
    }
  }
}

/**
 * Handles one import message. Redelivery is harmless: a finished or failed job is left alone, a
 * job another invocation holds is "busy", and rows are written in one transaction with a marker,
 * so they are never written twice. When the invocation runs short of time while hashing
 * passwords, the hashes so far are saved and a continuation message finishes the job in another
 * invocation.
 */
export function runImport(message: JobMessage, clock: InvocationClock): Promise<JobOutcome> {
  return runLeased(message, clock, (lease) => new ImportRun(lease, clock));
}
