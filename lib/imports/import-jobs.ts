import { type ImportRequest, importRequestSchema } from "../../schemas/import-request.ts";
import { BadRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import { putObject } from "../jobs/files.ts";
import type { JobRecord, OnExisting, Resource } from "../jobs/job-record.ts";
import { newJob } from "../jobs/jobs.ts";
import { open } from "../jobs/lifecycle/index.ts";
import { jobMetric, logger } from "../observability.ts";
import { describeError, validatorFor } from "../validation.ts";

/** The largest import file: 4 MiB, so that the base64 request stays under Lambda's 6 MB. */
export const MAX_IMPORT_BYTES = 4 * 1024 * 1024;

/** A file as a client sent it. */
export interface UploadedFile {
  /** The form field it came in. */
  fieldName: string;
  filename: string;
  content: Buffer;
}

/** A valid import request: what to import, the file, and whether to only validate it. */
export interface ImportUpload {
  resource: Resource;
  dryRun: boolean;
  onExisting: OnExisting;
  file: UploadedFile;
}

/**
 * Imports arrive as `multipart/form-data` (the file itself) or as JSON naming an upload; anything
 * else is a 415 before the body is read.
 */
export function importBodyKind(headers: Record<string, string>): "form" | "upload" {
  const mediaType = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType === "multipart/form-data") return "form";
  if (mediaType === "application/json") return "upload";
  throw new UnsupportedMediaTypeError("unsupported content type", [
    'send multipart/form-data with the fields "type" and "file", or application/json with "type" and "upload_id"',
  ]);
}

/**
 * A JSON body starts the import of an uploaded file, so it names the upload; without one it is a
 * file sent the wrong way (415, as any other content type).
 */
export function requireUploadId(body: Record<string, unknown>): Record<string, unknown> {
  if (body.upload_id === undefined) {
    throw new UnsupportedMediaTypeError("unsupported content type", [
      'send the file as multipart/form-data with the fields "type" and "file", or upload it first (POST /imports/uploads) and send {"type", "upload_id"} as JSON',
    ]);
  }
  return body;
}

/** Validates the form of an import request; throws BadRequestError listing every problem. */
export function validateImportForm(
  fields: Record<string, string>,
  files: UploadedFile[],
): ImportUpload {
  const input: Record<string, unknown> = { ...fields };
  delete input.file;
  const validate = validatorFor<ImportRequest>(importRequestSchema);
  const details = validate(input) ? [] : (validate.errors ?? []).map(describeError);
  const file = files.find((candidate) => candidate.fieldName === "file");
  if (!file) {
    details.push(
      files.length
        ? `the file must be sent in the field "file", not "${files[0]?.fieldName.slice(0, 40)}"`
        : 'file is required: send the JSON file in the field "file"',
    );
  }
  if (details.length || !file) throw new BadRequestError("invalid import request", details);
  const request = input as ImportRequest;
  return {
    resource: request.type,
    dryRun: request.dry_run === "true",
    onExisting: request.on_existing ?? "fail",
    file,
  };
}

/**
 * Stores the uploaded file, creates the import job (status `started`) and queues it.
 * The worker does every check of the rows.
 */
export async function startImport(appId: string, upload: ImportUpload): Promise<JobRecord> {
  const job = newJob(appId, "import", upload.resource, {
    originalFilename: upload.file.filename.slice(0, 255),
    size: upload.file.content.length,
    errors: { Message: "", Data: null },
    dryRun: upload.dryRun,
    onExisting: upload.onExisting,
    skippedRows: 0,
  });
  await putObject(job.objectKey, upload.file.content);
  return queueImport(job);
}

/**
 * Stores a new import job (status `started`) whose file is already in S3 and queues it; both
 * ways in (a form or an upload) end here.
 */
export async function queueImport(job: JobRecord): Promise<JobRecord> {
  await open(job, "The import could not be queued; send the file again.");
  logger.info("import started", {
    job_id: job.jobId,
    resource: job.resource,
    bytes: job.size,
    dry_run: job.dryRun ?? false,
    on_existing: job.onExisting ?? "fail",
  });
  jobMetric("ImportsStarted", "Count", 1, job.resource);
  return job;
}
