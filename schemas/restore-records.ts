import type { FromSchema } from "json-schema-to-ts";
import { importRowErrorSchema } from "./job-records.ts";

/**
 * Restores (`/api/v2.1/rest/restores`): a finished backup of the application restored into it
 * straight from storage, users then rooms then comments.
 */

/** Body of `POST /api/v2.1/rest/restores`. */
export const restoreRequestSchema = {
  $id: "restore-request",
  type: "object",
  properties: {
    backup_id: {
      type: "string",
      format: "uuid",
      description: "A finished backup of this application (`GET /backups`).",
    },
    dry_run: {
      type: "boolean",
      description: "Check every row of the backup against the application, write nothing.",
    },
  },
  required: ["backup_id"],
  additionalProperties: false,
} as const;

const jobStatus = {
  type: "string",
  enum: ["started", "processing", "finished", "failed"],
} as const;
const count = { type: "integer", minimum: 0 } as const;
const percentage = { type: "integer", minimum: 0, maximum: 100 } as const;

/** One type's step of a restore. */
const restoreTypeSchema = {
  type: "object",
  properties: {
    status: {
      ...jobStatus,
      description: "`started` until the step begins (and for good when an earlier type failed).",
    },
    percentage,
    total_rows: { ...count, description: "Rows written (on a dry run: that would be)." },
    skipped_rows: {
      ...count,
      description: "Rows skipped because the application already holds them with the same content.",
    },
    errors: {
      description:
        "Why the step failed, in the import error shape: `Message` and every offending row in `Data` (at most 1,000); `{}` when there is nothing to say.",
      oneOf: [
        { type: "object", maxProperties: 0 },
        {
          type: "object",
          properties: {
            Message: { type: "string" },
            Data: { oneOf: [{ type: "array", items: importRowErrorSchema }, { type: "null" }] },
          },
          required: ["Message", "Data"],
          additionalProperties: false,
        },
      ],
    },
  },
  required: ["status", "percentage", "total_rows", "skipped_rows", "errors"],
  additionalProperties: false,
} as const;

/** A restore (`POST /restores`, `GET /restores`, `GET /restores/:id`). */
export const restoreRecordSchema = {
  $id: "restore-record",
  type: "object",
  properties: {
    unique_id: { type: "string", format: "uuid" },
    backup_id: { type: "string", format: "uuid" },
    created_at: {
      type: "string",
      format: "date-time",
      pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[+-]\\d{2}:\\d{2}$",
    },
    status: jobStatus,
    percentage,
    dry_run: { type: "boolean" },
    total_rows: { ...count, description: "Rows written over the three types." },
    skipped_rows: { ...count, description: "Rows skipped over the three types." },
    error_message: { type: "string", description: "Why the restore failed; empty otherwise." },
    types: {
      type: "object",
      properties: {
        users: restoreTypeSchema,
        rooms: restoreTypeSchema,
        comments: restoreTypeSchema,
      },
      required: ["users", "rooms", "comments"],
      additionalProperties: false,
    },
  },
  required: [
    "unique_id",
    "backup_id",
    "created_at",
    "status",
    "percentage",
    "dry_run",
    "total_rows",
    "skipped_rows",
    "error_message",
    "types",
  ],
  additionalProperties: false,
} as const;

export type RestoreRequest = FromSchema<typeof restoreRequestSchema>;
export type RestoreRecord = FromSchema<typeof restoreRecordSchema>;
