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

/** A presigned PUT of exactly this object: the client sends the file as the raw body. */
export function presignUpload(key: string, expiresInSeconds: number): Promise<string> {
  return getSignedUrl(
    uploadSigner(),
    new PutObjectCommand({ Bucket: config().bucketName, Key: key }),
    {
      expiresIn: expiresInSeconds,
    },
  );
}

/** The stored object's size in bytes, or undefined when nothing was uploaded there. */
export async function uploadedSize(key: string): Promise<number | undefined> {
  try {
    const head = await s3().send(new HeadObjectCommand({ Bucket: config().bucketName, Key: key }));
    return head.ContentLength ?? 0;
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
