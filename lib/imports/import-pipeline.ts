import { lockApplicationImports, markApplied } from "../chat-db/import-queries.ts";
import { chatDb, inTransaction } from "../chat-db/pool.ts";
import { dropStaging, loadedRows, stagingTables } from "../chat-db/staging.ts";
import type { JobRecord, Resource } from "../jobs/job-record.ts";
import { logger } from "../observability.ts";
import { skippedSoFar } from "./existing-rows.ts";
import { ImportFileError, instant } from "./file-rows.ts";
import { withJobLock } from "./job-lock.ts";
import { fanOutHashing, hasPlainPasswords } from "./password-stage.ts";
import { failed, type PipelineIo, type PipelineOutcome } from "./pipeline-io.ts";
import { rowErrorFromDatabase } from "./problems.ts";
import { commentsImport } from "./resources/comments.ts";
import { roomsImport } from "./resources/rooms.ts";
import { usersImport } from "./resources/users.ts";
import { checkAgainstApp, rejection, replayed } from "./staged-checks.ts";
import type { ImportContext, ImportSpec } from "./staged-import.ts";
import { loadIntoStaging } from "./staged-load.ts";
import { streamedWrite } from "./streamed-write.ts";

export type { PipelineIo, PipelineOutcome } from "./pipeline-io.ts";

const SPECS: Record<Resource, ImportSpec> = {
  users: usersImport,
  rooms: roomsImport,
  comments: commentsImport,
};

/**
 * One invocation's work on an import job, from whatever point earlier invocations reached:
 * load the file into staging (once), check every rule, hash plain passwords (possibly over
 * several invocations), then write every row in one transaction with the job's marker. All or
 * nothing: the chat tables change only in that last transaction; the staging tables are
 * dropped when the job ends.
 */
export async function runImportPipeline(job: JobRecord, io: PipelineIo): Promise<PipelineOutcome> {
  return withJobLock(job.jobId, () => runLocked(job, io));
}

async function runLocked(job: JobRecord, io: PipelineIo): Promise<PipelineOutcome> {
  const already = await replayed(chatDb(), job.jobId);
  if (already) {
    await dropStaging(chatDb(), job.jobId);
    return already;
  }
  const spec = SPECS[job.resource];
  const tables = stagingTables(job.jobId);
  // Rows without a time are created at the job's creation, the same in every invocation.
  const context = { appId: job.appId, importedAt: instant(job.createdAt) };

  let rowCount = await loadedRows(chatDb(), job.jobId);
  if (rowCount === undefined && (spec.direct || spec.streamedWrite) && !job.dryRun) {
    const streamed = await writeWhileStreaming(job, spec, context, io);
    if (streamed) return streamed;
  }
  let phaseStart = performance.now();
  const seconds = () => {
    const now = performance.now();
    const elapsed = Number(((now - phaseStart) / 1000).toFixed(3));
    phaseStart = now;
    return elapsed;
  };
  if (rowCount === undefined) {
    try {
      rowCount = await loadIntoStaging(job, spec, context, io);
    } catch (error) {
      if (error instanceof ImportFileError) {
        await dropStaging(chatDb(), job.jobId);
        return failed(error.message);
      }
      const refused = rowErrorFromDatabase(error);
      if (refused) {
        await dropStaging(chatDb(), job.jobId);
        return failed(
          `Row ${refused.row} of the ${job.resource} file holds a value the chat database cannot store, so nothing was imported.`,
          [refused],
        );
      }
      throw error;
    }
    const loadSeconds = seconds();
    logger.info("import file loaded and checked row by row", {
      rows: rowCount,
      seconds: loadSeconds,
    });
    // The checks and the write of a large file take about as long again as its load: when that
    // may not fit in what is left of this invocation, the next one starts from the staging tables.
    if (io.remainingMs() < loadSeconds * 2000 + io.reserveMs) {
      logger.info("import continues from its staging tables in a new invocation");
      return { status: "continued" };
    }
  }

  // Checks against the application run under its lock in the write's transaction; they run
  // once before as well when something comes between (a dry run's answer, password hashing),
  // or when the file already broke a rule (so that its list is complete).
  const mustHash = spec.resource === "users" && (await hasPlainPasswords(tables));
  const { rows: found } = await chatDb().query(`SELECT 1 FROM ${tables.problems} LIMIT 1`);
  if (job.dryRun || mustHash || found.length > 0) {
    await checkAgainstApp(chatDb(), spec, tables, job);
    logger.info("import checked against the application", { seconds: seconds() });
  }
  if (job.dryRun && io.tolerated) {
    await chatDb().query(`DELETE FROM ${tables.problems} WHERE message ~ $1`, [io.tolerated]);
  }
  const problems = await rejection(tables, job.resource, rowCount);
  if (problems) {
    // Another delivery of this very job may have written the rows meanwhile: they are not duplicates.
    const replay = await replayed(chatDb(), job.jobId);
    await dropStaging(chatDb(), job.jobId);
    return replay ?? problems;
  }
  if (job.dryRun) {
    const skipped = await skippedSoFar(chatDb(), tables, rowCount);
    await dropStaging(chatDb(), job.jobId);
    return { status: "finished", rows: rowCount - skipped, skipped };
  }

  // Rows skipped as already in the application need no hash.
  if (mustHash && (await hasPlainPasswords(tables))) {
    if (io.refusePlainPasswords) {
      await dropStaging(chatDb(), job.jobId);
      return failed(io.refusePlainPasswords);
    }
    const chunks = await fanOutHashing(job, tables);
    logger.info("passwords handed out for hashing", { chunks });
    return { status: "waiting", chunks };
  }

  const written = await inTransaction(async (client) => {
    await lockApplicationImports(client, job.appId);
    const replay = await replayed(client, job.jobId);
    if (replay) return replay;
    // Room for the hash joins of a large file's checks and write.
    await client.query("SET LOCAL work_mem = '64MB'");
    // Checked (again) under the application's lock: another import may have landed meanwhile.
    await checkAgainstApp(client, spec, tables, job);
    const late = await rejection(tables, job.resource, rowCount as number, client as never);
    if (late) return late;
    const skipped = await skippedSoFar(client, tables, rowCount as number);
    for (const sql of spec.write(tables)) {
      await client.query(sql, sql.includes("$1") ? [job.appId] : []);
    }
    const rows = (rowCount as number) - skipped;
    await markApplied(client, job, rows, skipped);
    return { status: "finished", rows, skipped } as const;
  });
  logger.info("import written", { seconds: seconds() });
  await dropStaging(chatDb(), job.jobId).catch((error) =>
    logger.warn("import staging tables not dropped", { error }),
  );
  return written;
}

/**
 * The one-pass import of a file whose rows all keep the rules (see `streamed-write.ts`); undefined
 * when the file must go through the staging tables instead, which then name every problem.
 */
async function writeWhileStreaming(
  job: JobRecord,
  spec: ImportSpec,
  context: ImportContext,
  io: PipelineIo,
): Promise<PipelineOutcome | undefined> {
  // Too little time for the whole file in one transaction: the staged load can hand over.
  if (io.remainingMs() <= io.reserveMs) return undefined;
  const started = performance.now();
  let shown = 0;
  let outcome: Awaited<ReturnType<typeof streamedWrite>>;
  try {
    outcome = await streamedWrite(job, spec, context, {
      ...io,
      onBytes: (bytes) => {
        // Rows are written as they are read: the percentage follows the bytes almost to the end.
        const percentage = Math.floor(((bytes / Math.max(job.size, 1)) * 95) / 5) * 5;
        if (percentage > shown) {
          shown = percentage;
          io.progress(percentage);
        }
      },
    });
  } catch (error) {
    if (error instanceof ImportFileError) return failed(error.message);
    throw error;
  }
  const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  if (outcome.status === "staged") {
    logger.info("import goes through staging tables", { reason: outcome.reason, seconds });
    return undefined;
  }
  logger.info("import read, checked and written in one pass", {
    rows: outcome.rows,
    skipped: outcome.skipped,
    seconds,
  });
  // An earlier invocation may have left a partial load behind.
  await dropStaging(chatDb(), job.jobId).catch((error) =>
    logger.warn("import staging tables not dropped", { error }),
  );
  return outcome;
}

/** Drops what a job left in staging (the job ended some other way, e.g. dead-lettered). */
export function discardStaging(jobId: string): Promise<void> {
  return dropStaging(chatDb(), jobId);
}
