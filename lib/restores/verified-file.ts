import { createHash } from "node:crypto";
import { ImportFileError } from "../imports/import-file-error.ts";
import { objectStream } from "../imports/upload-files.ts";
import type { RestoreFile } from "../jobs/job-record.ts";

/**
 * A backup file's bytes straight from storage, hashed as they pass: when the stream ends, its
 * SHA-256 and size must be those the backup recorded, or the read fails with an ImportFileError
 * before the import it feeds can write anything (a file is written only once it has been read
 * to its end).
 */
export async function* verifiedBackupFile(
  file: RestoreFile,
  name: string,
): AsyncGenerator<Uint8Array> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of await objectStream(file.key)) {
    hash.update(chunk);
    bytes += chunk.length;
    yield chunk;
  }
  const sha256 = hash.digest("hex");
  if (sha256 !== file.sha256 || bytes !== file.bytes) {
    throw new ImportFileError(
      `The backup's ${name} does not match its checksum (${bytes} bytes, sha256 ${sha256}; the backup recorded ${file.bytes} bytes, sha256 ${file.sha256}), so nothing of it was restored.`,
    );
  }
}
