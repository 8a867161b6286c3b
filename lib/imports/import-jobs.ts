import { type ImportRequest, importRequestSchema } from "../../schemas/import-request.ts";
import { BadRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import type { UploadedFile } from "../http/body.ts";
import { jobStore } from "../jobs/dynamo-job-store.ts";
import { putObject } from "../jobs/files.ts";
import { sendJobMessage } from "../jobs/job-queue.ts";
import type { JobRecord, Resource } from "../jobs/job-record.ts";
import { newJob } from "../jobs/jobs.ts";
import { jobMetric, logger } from "../observability.ts";
import { describeError, validatorFor } from "../validation.ts";

/** The largest import file: 4 MiB, so that the base64 request stays under Lambda's 6 MB. */
export const MAX_IMPORT_BYTES = 4 * 1024 * 1024;

/** A valid import request: what to import, the file, and whether to only validate it. */
export interface ImportUpload {
  resource: Resource;
  dryRun: boolean;
  file: UploadedFile;
}

/** Imports arrive only as `multipart/form-data`; anything else is a 415 before the body is read. */
export function requireMultipart(headers: Record<string, string>): void {
  const mediaType = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "multipart/form-data") {
    throw new UnsupportedMediaTypeError("unsupported content type", [
      'send multipart/form-data with the fields "type" and "file"',
    ]);
  }
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
  return { resource: request.type, dryRun: request.dry_run === "true", file };
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
  });
  await putObject(job.objectKey, upload.file.content);
  await jobStore().create(job);
  try {
    await sendJobMessage({ kind: "import", appId, jobId: job.jobId, seq: 0 });
  } catch (error) {
    await jobStore().update(appId, job.jobId, {
      status: "failed",
      errors: { Message: "The import could not be queued; send the file again.", Data: null },
    });
    throw error;
  }
  logger.info("import started", {
    job_id: job.jobId,
    resource: job.resource,
    bytes: job.size,
    dry_run: upload.dryRun,
  });
  jobMetric("ImportsStarted", "Count", 1, job.resource);
  return job;
}
