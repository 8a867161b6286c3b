import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { s3 } from "../aws/s3.ts";
import { config } from "../config.ts";
import type { JobKind } from "./job-record.ts";

/** An application id as it appears in object keys. */
export function encodeAppId(appId: string): string {
  return encodeURIComponent(appId);
}

/** Every object lives under its application's prefix: `exports/<app>/<job>.json`. */
export function objectKey(kind: JobKind, appId: string, jobId: string): string {
  return `${kind}s/${encodeAppId(appId)}/${jobId}.json`;
}

/** The temporary file of key range `range` of a parallel export: `exports/<app>/<job>.range-<k>`. */
export function rangeObjectKey(fileKey: string, range: number): string {
  return `${fileKey.replace(/\.json$/, "")}.range-${range}`;
}

/** A presigned GET URL that downloads the object under `filename`. */
export function presignDownload(
  key: string,
  filename: string,
  expiresIn = config().downloadUrlTtlSeconds,
  contentType = "application/json",
): Promise<string> {
  const safeName = filename.replace(/["\\\r\n]/g, "_");
  return getSignedUrl(
    s3(),
    new GetObjectCommand({
      Bucket: config().bucketName,
      Key: key,
      ResponseContentDisposition: `attachment; filename="${safeName}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
      ResponseContentType: contentType,
    }),
    { expiresIn },
  );
}

export async function deleteObject(key: string): Promise<void> {
  await s3().send(new DeleteObjectCommand({ Bucket: config().bucketName, Key: key }));
}

export async function abortUpload(key: string, uploadId: string): Promise<void> {
  await s3()
    .send(
      new AbortMultipartUploadCommand({
        Bucket: config().bucketName,
        Key: key,
        UploadId: uploadId,
      }),
    )
    .catch(() => {});
}

export async function putObject(
  key: string,
  body: Buffer,
  contentType = "application/json",
  tagging?: string,
): Promise<void> {
  await s3().send(
    new PutObjectCommand({
      Bucket: config().bucketName,
      Key: key,
      Body: body,
      ContentType: contentType,
      Tagging: tagging,
    }),
  );
}

/** True when the object exists. */
export async function objectExists(key: string): Promise<boolean> {
  return (await objectSize(key)) !== undefined;
}

/** The object's size in bytes; undefined when there is no such object. */
export async function objectSize(key: string): Promise<number | undefined> {
  try {
    const head = await s3().send(new HeadObjectCommand({ Bucket: config().bucketName, Key: key }));
    return head.ContentLength ?? 0;
  } catch (error) {
    if ((error as Error).name === "NotFound" || (error as Error).name === "NoSuchKey") {
      return undefined;
    }
    throw error;
  }
}

/** The object's bytes from `offset` on, as a stream of chunks. */
export async function readObjectFrom(
  key: string,
  offset: number,
): Promise<AsyncIterable<Uint8Array>> {
  const output = await s3().send(
    new GetObjectCommand({ Bucket: config().bucketName, Key: key, Range: `bytes=${offset}-` }),
  );
  return output.Body as AsyncIterable<Uint8Array>;
}
