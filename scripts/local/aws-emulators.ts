import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import type { Server } from "node:http";
import { dirname, join } from "node:path";
// @ts-expect-error dynalite ships no type declarations
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";
// @ts-expect-error s3rver ships no type declarations
import S3rver from "s3rver";
// @ts-expect-error s3rver ships no type declarations
import S3Error from "s3rver/lib/models/error.js";
import { LOCAL_CREDENTIALS } from "./local-credentials.ts";
import { verifyPresigned } from "./presigned-check.ts";
import { startSecretsManager } from "./secrets-manager.ts";

export interface AwsPorts {
  dynamodb: number;
  sqs: number;
  s3: number;
  secretsManager: number;
}

/** Where the emulators keep their data. */
export interface AwsDirs {
  /** The S3 emulator's objects. */
  s3Dir: string;
  /**
   * DynamoDB's tables on disk (LevelDB); absent: in memory, and the S3 folder starts empty too,
   * so that jobs and files are consistent (all new) after a restart.
   */
  dynamoDir?: string;
}

/**
 * Starts DynamoDB (dynalite), SQS (fauxqs), S3 (s3rver) and Secrets Manager (`secrets-manager.ts`)
 * on loopback. Queue messages and secrets always live in memory (see `resume-open-jobs.ts` for what
 * a restart does about messages; the local stack puts the database's secret in again at each start).
 */
export async function startAwsEmulators(
  ports: AwsPorts,
  { s3Dir, dynamoDir }: AwsDirs,
): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    if (dynamoDir) mkdirSync(dynamoDir, { recursive: true });
    const dynamo: Server = dynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(dynamoDir ? { path: dynamoDir } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      dynamo.once("error", reject);
      dynamo.listen(ports.dynamodb, "127.0.0.1", resolve);
    });
    stops.push(() => new Promise<void>((resolve) => dynamo.close(() => resolve())));

    const fauxqs = await startFauxqs({ port: ports.sqs, logger: false, host: "127.0.0.1" });
    stops.push(() => fauxqs.stop());

    if (!dynamoDir) rmSync(s3Dir, { recursive: true, force: true });
    mkdirSync(s3Dir, { recursive: true });
    const s3 = new S3rver({ port: ports.s3, address: "127.0.0.1", silent: true, directory: s3Dir });
    joinPartsAsS3Does(s3.store);
    checkPresignedAsS3Does(s3);
    await s3.run();
    stops.push(() => s3.close());

    const secrets = await startSecretsManager(ports.secretsManager, {
      region: "us-east-1",
      secretKeys: LOCAL_SECRET_KEYS,
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          secrets.server.closeAllConnections();
          secrets.server.close(() => resolve());
        }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

/** The secret key of each access key the local S3 takes (s3rver accepts only its own). */
const LOCAL_SECRET_KEYS: Record<string, string> = {
  [LOCAL_CREDENTIALS.accessKeyId]: LOCAL_CREDENTIALS.secretAccessKey,
};

/**
 * Puts the SigV4 presigned-URL check (`presigned-check.ts`) in front of s3rver's routes: an
 * expired, tampered or wrongly signed URL gets S3's 403 and XML error, as on AWS.
 */
function checkPresignedAsS3Does(s3: {
  middleware: ((ctx: never, next: () => Promise<void>) => Promise<void>)[];
}): void {
  s3.middleware.unshift(async (ctx: Parameters<typeof verifyPresigned>[0], next) => {
    await verifyPresigned(ctx, LOCAL_SECRET_KEYS);
    await next();
  });
}

/** The few methods of s3rver's file store that completing a multipart upload uses. */
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: { number: number }[],
  ): Promise<{ size: number; md5: string }>;
}

/**
 * Completes multipart uploads the way S3 does, NoSuchUpload for an upload completed or aborted
 * before included. s3rver joins the parts by streaming every byte through an MD5 of the whole
 * object in 64 KiB chunks (3.3 s of a 387 MB export's 12 s here) and answers an ETag S3 never
 * gives. This joins the part files with `cat`, which copies inside the
 * kernel (0.15 s for the same file), and answers S3's multipart ETag: the MD5 of the parts' MD5s
 * followed by `-<number of parts>`, from the MD5 s3rver stored beside each part.
 */
function joinPartsAsS3Does(store: S3rverStore): void {
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const uploadDir = join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
    const key = await readFile(join(uploadDir, "key")).then(
      String,
      (error: NodeJS.ErrnoException) => {
        // As S3 answers for an upload completed or aborted before (s3rver: InternalError).
        if (error.code === "ENOENT") {
          throw new S3Error("NoSuchUpload", "The specified upload does not exist.", {
            UploadId: uploadId,
          });
        }
        throw error;
      },
    );
    const metadata: unknown = JSON.parse((await readFile(join(uploadDir, "metadata"))).toString());
    const objectPath = store.getResourcePath(bucket, key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    const partPaths = [...parts]
      .sort((a, b) => a.number - b.number)
      .map((part) => join(uploadDir, String(part.number)));
    const partMd5s = createHash("md5");
    for (const partPath of partPaths) {
      partMd5s.update(Buffer.from((await readFile(`${partPath}.md5`)).toString(), "hex"));
    }
    const object = await open(objectPath, "w");
    try {
      await new Promise<void>((resolve, reject) => {
        const cat = spawn("cat", partPaths, { stdio: ["ignore", object.fd, "pipe"] });
        let errors = "";
        cat.stderr?.on("data", (chunk: Buffer) => {
          errors += chunk.toString();
        });
        cat.once("error", reject);
        cat.once("close", (code) => {
          if (code === 0) resolve();
          else reject(new Error(`joining the parts failed: ${errors.trim()}`));
        });
      });
    } finally {
      await object.close();
    }
    const etag = `${partMd5s.digest("hex")}-${parts.length}`;
    await store.putMetadata(bucket, key, metadata, etag);
    const { size } = await stat(objectPath);
    // The upload is gone at once (a repeated completion gets NoSuchUpload); its parts are removed
    // after the answer, as S3 does not make a client wait for that (on a disk mounted with
    // `discard`, unlinking hundreds of MB takes a noticeable while).
    const removed = `${uploadDir}.completed`;
    await rename(uploadDir, removed);
    void rm(removed, { recursive: true, force: true }).catch(() => undefined);
    return { size, md5: etag };
  };
}
