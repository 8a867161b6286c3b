import { NoSuchKey } from "@aws-sdk/client-s3";
import { appliedRows, lockApplicationImports, markApplied } from "../chat-db/import-queries.ts";
import { chatDb, inTransaction } from "../chat-db/pool.ts";
import { config } from "../config.ts";
import { jobStore } from "../jobs/dynamo-job-store.ts";
import { deleteObject, getObject, importProgressKey, putObject } from "../jobs/files.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../jobs/job-queue.ts";
import type { ImportErrors, JobRecord, Resource } from "../jobs/job-record.ts";
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

/** Only a job still on its way may change; a finished or failed import never changes again. */
const OPEN = { statusIn: ["started" as const, "processing" as const] };

type Outcome =
  | { status: "finished"; rows: number; replayed?: boolean }
  | { status: "failed"; errors: ImportErrors; rows: number }
  /** Time ran low while preparing: progress is saved and a continuation message is queued. */
  | { status: "continued" };

/** Preparation (password hashing) moves the percentage from 0 to this, in steps of 5. */
const PREPARED_PERCENTAGE = 90;

async function finish(
  job: JobRecord,
  outcome: Exclude<Outcome, { status: "continued" }>,
): Promise<void> {
  // From the request to the end, across every invocation the job took.
  const seconds = Math.max((Date.now() - Date.parse(job.createdAt)) / 1000, 0.001);
  if (outcome.status === "finished") {
    await jobStore().update(
      job.appId,
      job.jobId,
      {
        status: "finished",
        totalRows: outcome.rows,
        percentage: 100,
        errors: { Message: "", Data: null },
      },
      OPEN,
    );
    logger.info("import finished", {
      rows: outcome.rows,
      dry_run: job.dryRun ?? false,
      replayed: outcome.replayed ?? false,
      seconds,
    });
    jobMetric("ImportsFinished", "Count", 1, job.resource);
    if (!outcome.replayed && !job.dryRun) {
      jobMetric("ImportRows", "Count", outcome.rows, job.resource);
      jobMetric("ImportRowsPerSecond", "Count/Second", outcome.rows / seconds, job.resource);
    }
  } else {
    await jobStore().update(
      job.appId,
      job.jobId,
      { status: "failed", totalRows: 0, errors: outcome.errors },
      OPEN,
    );
    logger.info("import failed", {
      reason: outcome.errors.Message,
      problems: outcome.errors.Data?.length ?? 0,
    });
    jobMetric("ImportsFailed", "Count", 1, job.resource);
  }
  jobMetric("ImportDuration", "Seconds", seconds, job.resource);
}

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
function preparation(job: JobRecord, clock: InvocationClock): Preparation & { resumed(): boolean } {
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
        .then(() => jobStore().update(job.appId, job.jobId, { percentage }, OPEN))
        .then(
          () => {},
          (error) => logger.warn("import progress not recorded", { error }),
        );
    },
  };
}

/** Validates every row and, when all pass and this is no dry run, writes them in one transaction. */
async function runImport(job: JobRecord, work: Preparation): Promise<Outcome> {
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

  if (!(await session.prepare(work))) {
    await sendJobMessage({ kind: "import", appId: job.appId, jobId: job.jobId, seq: job.seq + 1 });
    logger.info("import continues in a new invocation");
    return { status: "continued" };
  }
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

/**
 * Handles one import message. Redelivery is harmless: a finished or failed job is left alone,
 * and rows are written in one transaction with a marker, so they are never written twice.
 * When the invocation runs short of time while hashing passwords, the hashes so far are saved
 * and a continuation message finishes the job in another invocation.
 */
export async function processImportMessage(
  message: JobMessage,
  clock: InvocationClock,
): Promise<void> {
  logger.appendKeys({ app_id: message.appId, job_id: message.jobId });
  try {
    const job = await jobStore().get(message.appId, message.jobId);
    if (job?.kind !== "import") {
      logger.warn("import message for a job that does not exist; dropped");
      return;
    }
    if (job.status === "finished" || job.status === "failed") return;
    const claimed = await jobStore().update(job.appId, job.jobId, { status: "processing" }, OPEN);
    if (!claimed) return;
    const work = preparation(claimed, clock);
    const outcome = await runImport(claimed, work);
    if (outcome.status === "continued") return;
    await finish(claimed, outcome);
    if (work.resumed()) {
      await deleteObject(importProgressKey(job.appId, job.jobId)).catch((error) =>
        logger.warn("import progress not removed; it expires with the upload", { error }),
      );
    }
  } finally {
    logger.removeKeys(["app_id", "job_id"]);
  }
}
