import { createSHA256 } from "hash-wasm";
import { rangeObjectKey, readObjectFrom } from "../jobs/files.ts";
import { jobStore } from "../jobs/job-store.ts";
import { exportFile } from "./export-file.ts";
import { type ExportRunContext, timeIsUp } from "./export-settings.ts";
import { createUpload, uploadPart } from "./multipart-upload.ts";
import { PartPipeline, type PartProgress } from "./part-pipeline.ts";

/** The joiner's position in the range files. */
interface JoinCursor {
  range: number;
  offset: number;
}

/** How a join ended in this invocation. */
export type JoinResult =
  /** The file's parts are all stored: complete the upload with this checksum and row count. */
  | { checksum: string; totalRows: number }
  /** A range is not finished yet (its last part queues the job's message again). */
  | "dropped"
  /** Time ran low; the next invocation goes on from the stored position. */
  | "continued";

/**
 * Joins the finished range files, in order, into the export file through the part pipeline,
 * hashing the whole file (so `checksum_sha256` is what `sha256sum` of the download says) and
 * adding the closing `]`; resumable at every stored part (range and byte offset).
 */
export async function joinRanges(run: ExportRunContext, count: number): Promise<JoinResult> {
  const { checkpoint, job, lease, settings } = run;
  const ranges = [];
  for (let range = 0; range < count; range += 1) {
    ranges.push(await jobStore().getRange(job.appId, job.jobId, range));
  }
  if (ranges.some((range) => range?.status !== "finished")) {
    // The last range to finish queues the job's message again.
    await lease.release();
    return "dropped";
  }
  const totalRows = ranges.reduce((sum, range) => sum + (range?.rows ?? 0), 0);
  if (!checkpoint.uploadId) {
    checkpoint.uploadId = await createUpload(job.objectKey);
    const hasher = await createSHA256();
    hasher.init();
    checkpoint.hashState = Buffer.from(hasher.save()).toString("base64");
    checkpoint.joined = { range: 0, offset: 0 };
    await lease.checkpoint({ checkpoint });
  }
  const hasher = await createSHA256();
  hasher.load(Buffer.from(checkpoint.hashState, "base64"));
  const progress: PartProgress<JoinCursor> = {
    cursor: checkpoint.joined,
    parts: checkpoint.parts,
    rows: 0,
    bytes: checkpoint.bytes,
    hashState: checkpoint.hashState,
  };
  const pipeline = new PartPipeline<JoinCursor>(
    settings.partBytes,
    progress,
    hasher,
    {
      upload: (partNumber, body) =>
        uploadPart(job.objectKey, checkpoint.uploadId, partNumber, body),
      stored: async (stored) => {
        checkpoint.joined = stored.cursor;
        checkpoint.bytes = stored.bytes;
        checkpoint.hashState = stored.hashState;
        await lease.checkpoint({ checkpoint });
      },
    },
    checkpoint.parts.length + 1,
  );
  const start = checkpoint.joined ?? { range: 0, offset: 0 };
  for (let range = start.range; range < count; range += 1) {
    const size = ranges[range]?.bytes ?? 0;
    let offset = range === start.range ? start.offset : 0;
    if (offset >= size) continue;
    for await (const chunk of await readObjectFrom(rangeObjectKey(job.objectKey, range), offset)) {
      pipeline.part.appendBytes(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      offset += chunk.byteLength;
      if (!pipeline.full()) continue;
      await pipeline.cut({ range, offset });
      if (timeIsUp(run)) {
        // The rest of this range file is read again by the next invocation.
        await pipeline.settle();
        await lease.handOver();
        return "continued";
      }
    }
  }
  await pipeline.settle();
  exportFile.appendEnd(pipeline.part, totalRows);
  await pipeline.storeLast();
  checkpoint.bytes = progress.bytes;
  return { checksum: hasher.digest("hex"), totalRows };
}
