import type { FromSchema } from "json-schema-to-ts";

/**
 * The job records as the API shows them (`backup_history`). The OpenAPI document is built from
 * these, and the test suite checks every response it receives against that document.
 */

const resourceName = { type: "string", enum: ["users", "rooms", "comments"] } as const;
const jobStatus = {
  type: "string",
  enum: ["started", "processing", "finished", "failed"],
} as const;
const uniqueId = { type: "string", format: "uuid" } as const;
/** RFC 3339 with a numeric offset, e.g. `2017-07-17T10:19:44+07:00`. */
const displayTime = {
  type: "string",
  format: "date-time",
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[+-]\\d{2}:\\d{2}$",
} as const;
const count = { type: "integer", minimum: 0 } as const;
const percentage = { type: "integer", minimum: 0, maximum: 100 } as const;

/** An export job (`POST /exports`, `GET /exports`, `GET /exports/:id`, `DELETE /exports/:id`). */
export const exportJobSchema = {
  $id: "export-job",
  type: "object",
  properties: {
    created_at: displayTime,
    download_url: {
      type: "string",
      description: "Presigned GET URL of the file, valid for a limited time; empty until finished.",
    },
    error_message: { type: "string", description: "Why the export failed; empty otherwise." },
    original_filename: { type: "string" },
    percentage,
    resource_name: resourceName,
    size: { ...count, description: "The file's bytes (when finished)." },
    status: jobStatus,
    total_rows: { ...count, description: "Rows in the file (when finished)." },
    unique_id: uniqueId,
    start_date: {
      type: "string",
      pattern: "^(\\d{4}-\\d{2}-\\d{2})?$",
      description: "First day exported (inclusive), or empty for no lower bound.",
    },
    end_date: {
      type: "string",
      pattern: "^(\\d{4}-\\d{2}-\\d{2})?$",
      description: "Last day exported (inclusive), or empty for no upper bound.",
    },
    timezone: { type: "string", description: "IANA time zone of start_date and end_date." },
    checksum_sha256: {
      type: "string",
      pattern: "^([0-9a-f]{64})?$",
      description: "SHA-256 of the file (hex) when finished, otherwise empty.",
    },
    trigger: { type: "string", enum: ["api", "schedule"] },
  },
  required: [
    "created_at",
    "download_url",
    "error_message",
    "original_filename",
    "percentage",
    "resource_name",
    "size",
    "status",
    "total_rows",
    "unique_id",
    "start_date",
    "end_date",
    "timezone",
    "checksum_sha256",
    "trigger",
  ],
  additionalProperties: false,
} as const;

/** One offending row of a failed import. */
export const importRowErrorSchema = {
  $id: "import-row-error",
  type: "object",
  properties: {
    row: { type: "integer", minimum: 0, description: "0-based index of the row in the file." },
    field: { type: "string", description: "The row's key (e.g. `Email`, `Payload.text`)." },
    message: { type: "string" },
  },
  required: ["row", "field", "message"],
  additionalProperties: false,
} as const;

/** An import job (`POST /imports`, `GET /imports`, `GET /imports/:id`). */
export const importJobSchema = {
  $id: "import-job",
  type: "object",
  properties: {
    created_at: displayTime,
    errors: {
      description:
        "Why the import failed. `GET /imports/:id` has every offending row in `Data` (at most 1,000); lists carry only the sentence (`Data` null), or `{}` when there is nothing to say.",
      oneOf: [
        { type: "object", maxProperties: 0 },
        {
          type: "object",
          properties: {
            Message: { type: "string" },
            Data: {
              oneOf: [{ type: "array", items: importRowErrorSchema }, { type: "null" }],
            },
          },
          required: ["Message", "Data"],
          additionalProperties: false,
        },
      ],
    },
    original_filename: { type: "string" },
    percentage,
    resource_name: resourceName,
    size: { ...count, description: "The uploaded file's bytes." },
    status: jobStatus,
    total_rows: { ...count, description: "Rows written (or, on a dry run, that would be)." },
    unique_id: uniqueId,
    dry_run: { type: "boolean" },
    on_existing: {
      type: "string",
      enum: ["fail", "skip"],
      description: "What rows already in the application did (see the request's `on_existing`).",
    },
    skipped_rows: {
      ...count,
      description:
        "Rows skipped because the application already holds them with the same content (`on_existing: skip`); not in `total_rows`.",
    },
  },
  required: [
    "created_at",
    "errors",
    "original_filename",
    "percentage",
    "resource_name",
    "size",
    "status",
    "total_rows",
    "unique_id",
    "dry_run",
    "on_existing",
    "skipped_rows",
  ],
  additionalProperties: false,
} as const;

export type ExportJob = FromSchema<typeof exportJobSchema>;
export type ImportJob = FromSchema<typeof importJobSchema>;
export type ImportRowError = FromSchema<typeof importRowErrorSchema>;
