import type { FromSchema } from "json-schema-to-ts";

/**
 * The upload path for import files larger than 4 MiB: ask for an upload, PUT the file to its
 * `upload_url` (straight to S3), then start the import from the upload.
 */

/** Body of `POST /api/v2.1/rest/imports/uploads`. */
export const importUploadRequestSchema = {
  $id: "import-upload-request",
  type: "object",
  properties: {
    type: { type: "string", enum: ["users", "rooms", "comments"] },
    filename: { type: "string", minLength: 1, maxLength: 255 },
    size: {
      type: "integer",
      minimum: 1,
      description:
        "The file's size in bytes, when known: the upload URL then takes a body of exactly this size and no other (S3 checks the signed Content-Length).",
    },
  },
  required: ["type", "filename"],
  additionalProperties: false,
} as const;

/** `results.upload` of `POST /api/v2.1/rest/imports/uploads`. */
export const importUploadSchema = {
  $id: "import-upload",
  type: "object",
  properties: {
    upload_id: { type: "string", format: "uuid" },
    upload_url: {
      type: "string",
      description:
        "Presigned URL: PUT the file as the raw request body, without form or auth headers.",
    },
    expires_at: { type: "string", format: "date-time" },
    max_size: { type: "integer", minimum: 0, description: "Largest file accepted, in bytes." },
  },
  required: ["upload_id", "upload_url", "expires_at", "max_size"],
} as const;

/** JSON body of `POST /api/v2.1/rest/imports` that starts an import from an upload. */
export const importFromUploadRequestSchema = {
  $id: "import-from-upload-request",
  type: "object",
  properties: {
    type: { type: "string", enum: ["users", "rooms", "comments"] },
    upload_id: { type: "string", format: "uuid" },
    dry_run: { type: "boolean" },
    on_existing: {
      type: "string",
      enum: ["fail", "skip"],
      description:
        "What a row already in the application does: `fail` (default) makes it a row error; `skip` skips it when its content is the same and counts it in `skipped_rows` (other content is still a row error).",
    },
  },
  required: ["type", "upload_id"],
  additionalProperties: false,
} as const;

export type ImportUploadRequest = FromSchema<typeof importUploadRequestSchema>;
export type ImportUpload = FromSchema<typeof importUploadSchema>;
export type ImportFromUploadRequest = FromSchema<typeof importFromUploadRequestSchema>;
