import type pg from "pg";
import {
  appliedRows,
  appliedSkippedRows,
  lockApplicationImports,
  markApplied,
} from "../chat-db/import-queries.ts";
import { inTransaction } from "../chat-db/pool.ts";
import type { JobRecord } from "../jobs/job-record.ts";
import { batchTableWriter } from "./batch-table-write.ts";
import { type BatchWriter, NotStreamable } from "./batch-writer.ts";
import { holdsRowsOf } from "./existing-rows.ts";
import { ImportFileError, importRowOptions, streamImportRows } from "./file-rows.ts";
import type { PipelineIo } from "./pipeline-io.ts";
import { type ImportContext, type ImportSpec, RowProblemList, stageRow } from "./staged-import.ts";

/** What the streamed write needs from the pipeline: its file and clock, and a byte count. */
export interface StreamedWriteIo
  extends Pick<PipelineIo, "open" | "ndjson" | "remainingMs" | "reserveMs"> {
  /** Bytes of the (compressed) file read so far. */
  onBytes(bytes: number): void;
}

export type StreamedWriteOutcome =
  | { status: "finished"; rows: number; skipped: number; replayed?: boolean }
  /** Some row breaks a rule, or the file may not fit the invocation: nothing was written. */
  | { status: "staged"; reason: string };

/**
 * A batch is sent to PostgreSQL at this many rows or characters of COPY text, whichever first;
 * the first batch is small, so that PostgreSQL starts writing early.
 */
const FIRST_BATCH_ROWS = 2_000;
const BATCH_ROWS = 10_000;
const BATCH_CHARS = 4 * 1024 * 1024;

/** PostgreSQL's data exceptions (22) and integrity violations (23): some row breaks a rule. */
function isRowRuleError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^2[23]/.test(code);
}

/**
 * Yields the file's bytes, counting them; the count is read between batches to see whether the
 * rest of the file may still fit the invocation.
 */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  state: { bytes: number },
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    state.bytes += chunk.length;
    onBytes(state.bytes);
    yield chunk;
  }
}

/**
 * How this import's batches are written: straight into the chat tables when no row can be one the
 * application already holds (no `on_existing: skip`, or an application without rows of the type,
 * as after a disaster: under the import lock nothing else is imported meanwhile, and a row written
 * some other way meets the unique index); through a batch table that drops same-content rows
 * first otherwise.
 */
async function batchWriter(
  client: pg.PoolClient,
  job: JobRecord,
  spec: ImportSpec,
): Promise<BatchWriter> {
  const skip = job.onExisting === "skip" && (await holdsRowsOf(client, spec.resource, job.appId));
  if (spec.direct && !skip) return spec.direct(job.appId);
  return batchTableWriter(client, spec, job.appId, skip);
}

/**
 * Reads, checks and writes the file in one pass and one transaction, the way a valid backup is
 * restored fastest: each row gets its own rules as it streams, and batches of rows are written
 * (`batchWriter`) with every rule against the application and the file's earlier rows checked by
 * the write, while the next batch is being read. The application's import lock is held
 * throughout, as for any import's write, and the job's marker row commits with the rows (all or
 * nothing, once).
 *
 * Nothing is written when a row breaks a rule, when the rest of the file may not fit in what is
 * left of the invocation, or on any error: the caller then imports the file through the staging
 * tables, which find and list every problem (a file with problems is read twice).
 */
export async function streamedWrite(
  job: JobRecord,
  spec: ImportSpec,
  context: ImportContext,
  io: StreamedWriteIo,
): Promise<StreamedWriteOutcome> {
  const read = { bytes: 0 };
  const started = performance.now();
  try {
    return await inTransaction(async (client) => {
      await lockApplicationImports(client, job.appId);
      const replay = await appliedRows(client, job.jobId);
      if (replay !== undefined) {
        const skipped = await appliedSkippedRows(client, job.jobId);
        return { status: "finished", rows: replay, skipped, replayed: true };
      }
      const writer = await batchWriter(client, job, spec);
      const problems = new RowProblemList();
      let index = 0;
      let rows: unknown[] = [];
      let chars = 0;
      let skipped = 0;
      // The batch PostgreSQL is writing while the next one is read; its failure is kept until awaited.
      let writing: Promise<void> = Promise.resolve();
      const send = async () => {
        await writing;
        const batch = rows;
        rows = [];
        chars = 0;
        writing = writer.write(client, batch).then((count) => {
          skipped += count;
        });
        writing.catch(() => {});
        // The whole file must go through this one transaction: give up early when it may not fit.
        const elapsed = performance.now() - started;
        const left = io.remainingMs() - io.reserveMs;
        if (read.bytes > 0 && (elapsed * (job.size - read.bytes)) / read.bytes > left) {
          throw new NotStreamable("the rest of the file may not fit in this invocation");
        }
      };
      const source = counted(await io.open(), read, io.onBytes);
      for await (const batch of streamImportRows(
        source,
        job.resource,
        importRowOptions(io.ndjson),
      )) {
        for (const row of batch) {
          problems.clear();
          const staged = stageRow(spec, row, problems, context);
          if (!staged.ok) throw new NotStreamable(`row ${index} breaks a rule`);
          const reason = spec.notOnePass?.(staged.values);
          if (reason) throw new NotStreamable(`row ${index}: ${reason}`);
          const prepared = writer.prepare(index, staged.values);
          rows.push(prepared);
          chars += writer.size(prepared);
          index += 1;
          const limit = index === rows.length ? FIRST_BATCH_ROWS : BATCH_ROWS;
          if (rows.length >= limit || chars >= BATCH_CHARS) await send();
        }
      }
      if (rows.length > 0) await send();
      await writing;
      await markApplied(client, job, index - skipped, skipped);
      return { status: "finished", rows: index - skipped, skipped };
    });
  } catch (error) {
    if (error instanceof NotStreamable) return { status: "staged", reason: error.message };
    if (error instanceof ImportFileError) throw error;
    if (isRowRuleError(error)) {
      return { status: "staged", reason: `a row breaks a rule (${(error as Error).message})` };
    }
    throw error;
  }
}
