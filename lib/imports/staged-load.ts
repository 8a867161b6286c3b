import { chatDb } from "../chat-db/pool.ts";
import { CopyWriter, createStaging, finishLoad } from "../chat-db/staging.ts";
import type { JobRecord } from "../jobs/job-record.ts";
import { importRowOptions, streamImportRows } from "./file-rows.ts";
import type { PipelineIo } from "./pipeline-io.ts";
import { type ImportContext, type ImportSpec, RowProblemList, stageRow } from "./staged-import.ts";

/** Loading the file moves the percentage up to this. */
const LOADED_PERCENTAGE = 50;

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
export async function loadIntoStaging(
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
