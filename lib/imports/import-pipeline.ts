import {
  appliedRows,
  appliedSkippedRows,
  lockApplicationImports,
  markApplied,
  type Queryable,
} from "../chat-db/import-queries.ts";
import { chatDb, inTransaction } from "../chat-db/pool.ts";
import {
  CopyWriter,
  createStaging,
  dropStaging,
  finishLoad,
  loadedRows,
  type StagingTables,
  stagingTables,
} from "../chat-db/staging.ts";
import type { ImportErrors, JobRecord, Resource } from "../jobs/job-record.ts";
import { logger } from "../observability.ts";
import { explainConflicts, skippedSoFar, skipSameRows } from "./existing-rows.ts";
import { ImportFileError, importRowOptions, instant, streamImportRows } from "./file-rows.ts";
import { fanOutHashing, hasPlainPasswords } from "./password-stage.ts";
import type { PipelineIo } from "./pipeline-io.ts";
import { MAX_LISTED_PROBLEMS, problemSummary, rowErrorFromDatabase } from "./problems.ts";
import { commentsImport } from "./resources/comments.ts";
import { roomsImport } from "./resources/rooms.ts";
import { usersImport } from "./resources/users.ts";
import { type ImportContext, type ImportSpec, RowProblemList, stageRow } from "./staged-import.ts";
import { streamedWrite } from "./streamed-write.ts";

const SPECS: Record<Resource, ImportSpec> = {
  users: usersImport,
  rooms: roomsImport,
  comments: commentsImport,
};

export type { PipelineIo };

export type PipelineOutcome =
  /** `rows` written (or, on a dry run, that would be); `skipped` already in the application. */
  | { status: "finished"; rows: number; skipped: number; replayed?: boolean }
  | { status: "failed"; errors: ImportErrors }
  /** Time ran low: what is done is kept in PostgreSQL, and another invocation goes on. */
  | { status: "continued" }
  /** Passwords are being hashed by chunk messages; the last chunk queues the job's message again. */
  | { status: "waiting"; chunks: number };

/** Loading the file moves the percentage up to this. */
const LOADED_PERCENTAGE = 50;

function failed(message: string, data: ImportErrors["Data"] = null): PipelineOutcome {
  return { status: "failed", errors: { Message: message, Data: data } };
}

/** Counts the bytes of the (compressed) file as they pass, for the percentage. */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    onBytes(bytes);
    yield chunk;
  }
}

/**
 * Streams the file into the job's staging tables: each row checked on its own as it passes and
 * copied (COPY FROM) with its problems; then the rules across the file. Memory holds one batch
 * of rows at a time, whatever the file's size.
 * @returns the number of rows, or an ImportFileError when the file cannot be read as rows
 */
async function load(
  job: JobRecord,
  spec: ImportSpec,
  context: ImportContext,
  io: PipelineIo,
): Promise<number> {
  const tables = await createStaging(chatDb(), job.jobId, spec.columns, spec.idsOf);
  const rowsCopy = await CopyWriter.open(chatDb(), tables.rows, [
    "row",
    "ok",
    ...spec.columns.map((column) => column.name),
  ]);
  let problemsCopy: CopyWriter | undefined;
  try {
    problemsCopy = await CopyWriter.open(chatDb(), tables.problems, [
      "row",
      "seq",
      "sub",
      "field",
      "message",
    ]);
    const width = spec.columns.length;
    const problems = new RowProblemList();
    let index = 0;
    let shown = 0;
    const source = counted(await io.open(), (bytes) => {
      const percentage = Math.floor(((bytes / Math.max(job.size, 1)) * LOADED_PERCENTAGE) / 5) * 5;
      if (percentage > shown) {
        shown = percentage;
        io.progress(percentage);
      }
    });
    for await (const batch of streamImportRows(source, job.resource, importRowOptions(io.ndjson))) {
      for (const row of batch) {
        problems.clear();
        const staged = stageRow(spec, row, problems, context);
        const values =
          staged.values.length < width
            ? [...staged.values, ...new Array(width - staged.values.length).fill(null)]
            : staged.values;
        await rowsCopy.write([index, staged.ok, ...values]);
        for (const [sub, problem] of problems.items.entries()) {
          await problemsCopy.write([index, 0, sub, problem.field, problem.message]);
        }
        index += 1;
      }
    }
    await rowsCopy.close();
    await problemsCopy.close();
    for (const sql of spec.fileChecks(tables)) await chatDb().query(sql);
    await finishLoad(chatDb(), job.jobId, index, spec.indexes);
    return index;
  } catch (error) {
    rowsCopy.abort();
    problemsCopy?.abort();
    throw error;
  }
}

/** The job's problems as `errors`: every problem counted, the first 1,000 in row order listed. */
async function rejection(
  tables: StagingTables,
  resource: Resource,
  rowCount: number,
  db = chatDb(),
): Promise<PipelineOutcome | undefined> {
  const { rows: counts } = await db.query<{ total: number; failed: number }>(
    `SELECT count(*)::int AS total, count(DISTINCT row)::int AS failed FROM ${tables.problems}`,
  );
  const { total = 0, failed: failedRows = 0 } = counts[0] ?? {};
  if (total === 0) return undefined;
  const { rows: listed } = await db.query<{ row: number; field: string; message: string }>(
    `SELECT row, field, message FROM ${tables.problems} ORDER BY row, seq, sub LIMIT $1`,
    [MAX_LISTED_PROBLEMS],
  );
  return failed(problemSummary(resource, rowCount, failedRows, total, listed.length), listed);
}

/**
 * Runs the rules against the application's data afresh (earlier findings are replaced); with
 * `on_existing: skip`, rows the application already holds as they are leave the staging table
 * first, and a key taken by other content says what differs.
 */
async function checkAgainstApp(
  db: Queryable,
  spec: ImportSpec,
  tables: StagingTables,
  job: JobRecord,
): Promise<void> {
  await db.query(`DELETE FROM ${tables.problems} WHERE seq >= 20`);
  const skip = job.onExisting === "skip";
  if (skip) await skipSameRows(db, spec, tables.rows, "s.ok", job.appId);
  for (const sql of spec.appChecks(tables)) await db.query(sql, [job.appId]);
  if (skip) await explainConflicts(db, spec, tables, job.appId);
}

/** The outcome of a job another delivery already applied, or undefined. */
async function replayed(db: Queryable, jobId: string): Promise<PipelineOutcome | undefined> {
  const rows = await appliedRows(db, jobId);
  if (rows === undefined) return undefined;
  return { status: "finished", rows, skipped: await appliedSkippedRows(db, jobId), replayed: true };
}

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

/**
 * Runs `work` while holding the job's advisory lock, so that two deliveries of one job never
 * fill its staging tables at once; the second waits, then finds the job done (or goes on from
 * where the first stopped).
 */
async function withJobLock<T>(jobId: string, work: () => Promise<T>): Promise<T> {
  const key = `import-job:${jobId}`;
  for (;;) {
    const client = await chatDb().connect();
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock(hashtext($1)) AS locked",
        [key],
      );
      locked = rows[0]?.locked === true;
      if (locked) return await work();
    } finally {
      if (locked)
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]).catch(() => {});
      client.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
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
  if (rowCount === undefined && spec.streamedWrite && !job.dryRun) {
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
      rowCount = await load(job, spec, context, io);
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
