import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError, JobFailedError } from "./cli-errors.ts";
import type { ByteProgress } from "./progress.ts";

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/** A pass-through that hashes and counts what flows by, and reports it to a progress bar. */
function meter(progress: ByteProgress, hash = createHash("sha256")) {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      progress.add(chunk.length);
      done(null, chunk);
    },
  });
  return { stream, digest: (): FileDigest => ({ bytes, sha256: hash.digest("hex") }) };
}

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string, progress: ByteProgress): Promise<FileDigest> {
  const measured = meter(progress);
  await pipeline(createReadStream(path), measured.stream, async (source) => {
    for await (const _ of source) {
      // the meter has seen the bytes
    }
  });
  return measured.digest();
}

/**
 * Downloads `url` to `path`, hashing while the bytes stream to disk (never the whole file in
 * memory). The file appears under its name only when its SHA-256 equals `expectedSha256`.
 */
export async function downloadVerified(
  url: string,
  path: string,
  expectedSha256: string,
  progress: ByteProgress,
): Promise<FileDigest> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(`cannot download the export file: ${cause}`);
  }
  if (!response.ok || !response.body) {
    throw new CliError(`cannot download the export file: HTTP ${response.status}`);
  }
  const partial = `${path}.part`;
  const measured = meter(progress);
  try {
    await pipeline(
      Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
      measured.stream,
      createWriteStream(partial),
    );
  } catch (error) {
    await rm(partial, { force: true });
    throw new CliError(`the download of ${path} broke off: ${(error as Error).message}`);
  }
  const digest = measured.digest();
  if (digest.sha256 !== expectedSha256) {
    await rm(partial, { force: true });
    throw new JobFailedError(
      `the downloaded file does not match the export's checksum (sha256 ${digest.sha256}, expected ${expectedSha256 || "none"}); nothing was written`,
    );
  }
  await rename(partial, path);
  return digest;
}

/** A file as a request body stream of known length, counted into a progress bar. */
export function fileBody(path: string, progress: ByteProgress): ReadableStream {
  progress.reset();
  const measured = meter(progress);
  // pipeline (not pipe) so that a read error breaks the request instead of stalling it.
  pipeline(createReadStream(path), measured.stream).catch(() => {});
  return Readable.toWeb(measured.stream) as ReadableStream;
}

/** A Blob (an encoded form) as a request body stream, counted into a progress bar. */
export function blobBody(blob: Blob, progress: ByteProgress): ReadableStream {
  progress.reset();
  const measured = meter(progress);
  pipeline(
    Readable.fromWeb(blob.stream() as import("node:stream/web").ReadableStream),
    measured.stream,
  ).catch(() => {});
  return Readable.toWeb(measured.stream) as ReadableStream;
}
