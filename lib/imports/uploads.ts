import { randomUUID } from "node:crypto";
import {
  type ImportFromUploadRequest,
  type ImportUploadRequest,
  importFromUploadRequestSchema,
  importUploadRequestSchema,
} from "../../schemas/import-upload.ts";
import { config } from "../config.ts";
import {
  BadRequestError,
  ConflictError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from "../errors.ts";
import { displayTime, type JobRecord, type Resource } from "../jobs/job-record.ts";
import { isJobId, newJob } from "../jobs/jobs.ts";
import { describeError, validatorFor } from "../validation.ts";
import { queueImport } from "./import-jobs.ts";
import { presignUpload, uploadedObject, uploadObjectKey } from "./upload-files.ts";
import { type UploadRecord, uploadStore } from "./upload-store.ts";

/**
 * The largest uploaded import file: 5 GiB, the most one presigned PUT can carry to S3.
 * (A bigger restore would need a multipart upload, which a plain PUT URL cannot offer.)
 */
export const MAX_UPLOAD_BYTES = 5 * 1024 ** 3;
/** How long the upload URL works. */
export const UPLOAD_URL_TTL_SECONDS = 3600;
/**
 * How long after it was requested an upload can start its import. The bucket removes uploaded
 * files that never started an import after one day (lifecycle rule on `uploads/`), so an import
 * started within this window has at least half a day to read its file.
 */
export const UPLOAD_STARTABLE_SECONDS = 12 * 3600;
/**
 * Content types an uploaded import file may have been sent with (parameters such as `charset`
 * aside); none at all is taken too. Anything else (an image, a zip, an HTML page) is refused
 * before the import starts.
 */
const UPLOAD_CONTENT_TYPES = [
  "application/json",
  "application/x-ndjson",
  "application/jsonl",
  "application/octet-stream",
  "application/gzip",
  "application/x-gzip",
  "text/plain",
  "binary/octet-stream",
];

function tooLarge(): PayloadTooLargeError {
  return new PayloadTooLargeError("file too large", [
    `the uploaded file must be at most ${MAX_UPLOAD_BYTES} bytes (5 GiB)`,
  ]);
}

/** What `POST /imports/uploads` answers. */
export interface UploadGrant {
  upload_id: string;
  upload_url: string;
  expires_at: string;
  max_size: number;
}

function validated<T>(schema: object, body: Record<string, unknown>, what: string): T {
  const validate = validatorFor<T>(schema);
  if (!validate(body)) {
    throw new BadRequestError(`invalid ${what}`, (validate.errors ?? []).map(describeError));
  }
  return body as T;
}

/** Validates the body of `POST /imports/uploads`. */
export function validateUploadRequest(body: Record<string, unknown>): ImportUploadRequest {
  return validated<ImportUploadRequest>(importUploadRequestSchema, body, "upload request");
}

/** Validates the JSON body of `POST /imports` that starts an uploaded file's import. */
export function validateStartRequest(body: Record<string, unknown>): ImportFromUploadRequest {
  return validated<ImportFromUploadRequest>(importFromUploadRequestSchema, body, "import request");
}

/**
 * Records an upload for the application and signs a PUT URL for exactly its object: the URL
 * cannot write anywhere else, and nothing else can be done with it.
 */
export async function createUpload(
  appId: string,
  request: ImportUploadRequest,
): Promise<UploadGrant> {
  if (request.size !== undefined && request.size > MAX_UPLOAD_BYTES) throw tooLarge();
  const uploadId = randomUUID();
  const now = Date.now();
  const upload: UploadRecord = {
    appId,
    uploadId,
    resource: request.type as Resource,
    filename: request.filename,
    ...(request.size !== undefined ? { size: request.size } : {}),
    objectKey: uploadObjectKey(appId, uploadId),
    createdAt: new Date(now).toISOString(),
    startableUntil: new Date(now + UPLOAD_STARTABLE_SECONDS * 1000).toISOString(),
    // Kept as long as the import it starts, so that a second start stays a 409.
    expiresAt: Math.floor(now / 1000) + config().retentionDays * 86400,
  };
  await uploadStore().create(upload);
  const url = await presignUpload(upload.objectKey, UPLOAD_URL_TTL_SECONDS, request.size);
  return {
    upload_id: uploadId,
    upload_url: url,
    expires_at: displayTime(new Date(now + UPLOAD_URL_TTL_SECONDS * 1000).toISOString()),
    max_size: MAX_UPLOAD_BYTES,
  };
}

function unusable(sentence: string): BadRequestError {
  return new BadRequestError(sentence, [sentence]);
}

/**
 * Starts the import of an uploaded file: checks that the upload is this application's, still
 * startable, of the same type and really uploaded, ties it to the new job (one import per
 * upload) and queues the job.
 */
export async function startUploadedImport(
  appId: string,
  request: ImportFromUploadRequest,
): Promise<JobRecord> {
  const id = request.upload_id;
  const upload = isJobId(id) ? await uploadStore().get(appId, id.toLowerCase()) : undefined;
  if (!upload) {
    throw unusable(
      `There is no upload "${id.slice(0, 64)}" in this application; request one with POST /imports/uploads.`,
    );
  }
  if (upload.jobId) {
    throw new ConflictError(`This upload was already imported by import ${upload.jobId}.`, [
      `an upload starts one import; request a new upload to import the file again`,
    ]);
  }
  if (Date.parse(upload.startableUntil) < Date.now()) {
    throw unusable(
      `The upload "${upload.uploadId}" has expired; request a new upload and send the file again.`,
    );
  }
  if (upload.resource !== request.type) {
    throw unusable(
      `The upload "${upload.uploadId}" holds ${upload.resource}, not ${request.type}; start it with type "${upload.resource}".`,
    );
  }
  const uploaded = await uploadedObject(upload.objectKey);
  if (uploaded === undefined) {
    throw unusable(
      `Nothing has been uploaded for "${upload.uploadId}" yet; PUT the file to its upload_url first.`,
    );
  }
  const size = uploaded.size;
  if (size > MAX_UPLOAD_BYTES) throw tooLarge();
  if (upload.size !== undefined && size !== upload.size) {
    throw unusable(
      `The upload "${upload.uploadId}" holds ${size} bytes, not the ${upload.size} announced; request a new upload and send the file again.`,
    );
  }
  const contentType = uploaded.contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (contentType && !UPLOAD_CONTENT_TYPES.includes(contentType)) {
    throw new UnsupportedMediaTypeError(`The upload "${upload.uploadId}" is not a JSON file.`, [
      `it was uploaded as ${contentType.slice(0, 100)}; send it as application/json, application/x-ndjson or application/octet-stream`,
    ]);
  }
  const job = newJob(appId, "import", upload.resource, {
    objectKey: upload.objectKey,
    originalFilename: upload.filename,
    size,
    errors: { Message: "", Data: null },
    dryRun: request.dry_run ?? false,
    onExisting: request.on_existing ?? "fail",
    skippedRows: 0,
  });
  if (!(await uploadStore().claim(appId, upload.uploadId, job.jobId))) {
    const current = await uploadStore().get(appId, upload.uploadId);
    throw new ConflictError(`This upload was already imported by import ${current?.jobId}.`, [
      `an upload starts one import; request a new upload to import the file again`,
    ]);
  }
  try {
    return await queueImport(job);
  } catch (error) {
    await uploadStore().release(appId, upload.uploadId, job.jobId);
    throw error;
  }
}

/** True when the job's file came through an upload (NDJSON is accepted there). */
export function isUploadedFile(job: Pick<JobRecord, "objectKey">): boolean {
  return job.objectKey.startsWith("uploads/");
}
