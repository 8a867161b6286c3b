import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { s3 } from "../aws/s3.ts";
import { config } from "../config.ts";
import { objectSize } from "../jobs/files.ts";

/** A stored part of a multipart upload, as CompleteMultipartUpload wants it. */
export interface UploadedPart {
  PartNumber: number;
  ETag: string;
}

/**
 * Opens a multipart upload of a JSON file (or another `contentType`, with S3 object tags given
 * as `a=b&c=d`, which lifecycle rules can select on); returns its upload id.
 */
export async function createUpload(
  key: string,
  options: { contentType?: string; tagging?: string } = {},
): Promise<string> {
  const { UploadId } = await s3().send(
    new CreateMultipartUploadCommand({
      Bucket: config().bucketName,
      Key: key,
      ContentType: options.contentType ?? "application/json",
      Tagging: options.tagging,
    }),
  );
  if (!UploadId) throw new Error("storage answered without an upload id");
  return UploadId;
}

/** Uploads one part (1-based number). */
export async function uploadPart(
  key: string,
  uploadId: string,
  partNumber: number,
  body: Buffer,
): Promise<UploadedPart> {
  const { ETag } = await s3().send(
    new UploadPartCommand({
      Bucket: config().bucketName,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
      ContentLength: body.length,
    }),
  );
  if (!ETag) throw new Error(`storage answered part ${partNumber} without an ETag`);
  return { PartNumber: partNumber, ETag };
}

/**
 * Completes the upload from its parts and tags the file with its SHA-256 (when given). An upload
 * S3 no longer knows (NoSuchUpload) counts as completed when the file is there with `size` bytes:
 * the upload was completed by an invocation that stopped before it could record so.
 */
export async function completeUpload(
  key: string,
  uploadId: string,
  parts: UploadedPart[],
  sha256?: string,
  size?: number,
): Promise<void> {
  const bucket = config().bucketName;
  try {
    await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    const gone = error instanceof S3ServiceException && error.name === "NoSuchUpload";
    if (!gone || size === undefined || (await objectSize(key)) !== size) throw error;
  }
  if (sha256 === undefined) return;
  await s3().send(
    new PutObjectTaggingCommand({
      Bucket: bucket,
      Key: key,
      Tagging: { TagSet: [{ Key: "sha256", Value: sha256 }] },
    }),
  );
}
