import type { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { s3, uploadSigner } from "../aws/s3.ts";
import { config } from "../config.ts";

/** Uploaded import files live under their application's prefix: `uploads/<app>/<upload id>`. */
export function uploadObjectKey(appId: string, uploadId: string): string {
  return `uploads/${encodeURIComponent(appId)}/${uploadId}`;
}

/**
 * A presigned PUT of exactly this object until it expires: the client sends the file as the raw
 * body. Given a size, the URL also signs `content-length`, and S3 refuses a body of any other
 * size (a presigned PUT cannot carry a size range; only a POST policy could). The content type
 * is not signed: clients send the file as JSON, NDJSON or octet-stream, and it is checked when
 * the import starts.
 */
export function presignUpload(
  key: string,
  expiresInSeconds: number,
  size?: number,
): Promise<string> {
  return getSignedUrl(
    uploadSigner(),
    new PutObjectCommand({ Bucket: config().bucketName, Key: key, ContentLength: size }),
    { expiresIn: expiresInSeconds },
  );
}

/** The stored object's size and content type, or undefined when nothing was uploaded there. */
export async function uploadedObject(
  key: string,
): Promise<{ size: number; contentType: string } | undefined> {
  try {
    const head = await s3().send(new HeadObjectCommand({ Bucket: config().bucketName, Key: key }));
    return { size: head.ContentLength ?? 0, contentType: head.ContentType ?? "" };
  } catch (error) {
    if (error instanceof NotFound || (error as { name?: string }).name === "NotFound")
      return undefined;
    throw error;
  }
}

/** The object's bytes as a stream, never the whole object in memory. */
export async function objectStream(key: string): Promise<Readable> {
  const output = await s3().send(new GetObjectCommand({ Bucket: config().bucketName, Key: key }));
  return output.Body as Readable;
}
