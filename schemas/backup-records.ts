import type { FromSchema } from "json-schema-to-ts";

/** Body of `POST /api/v2.1/rest/backups` (optional; an empty body is `{}`). */
export const backupRequestSchema = {
  $id: "backup-request",
  type: "object",
  properties: {
    compression: {
      type: "string",
      enum: ["gzip", "none"],
      description:
        "`gzip` stores the three files gzip-compressed (`users.json.gz`, ...); default `none`.",
    },
  },
  additionalProperties: false,
} as const;

const count = { type: "integer", minimum: 0 } as const;
const sha256 = { type: "string", pattern: "^([0-9a-f]{64})?$" } as const;

/** One file of a backup set as the API shows it. */
const backupFileSchema = {
  type: "object",
  properties: {
    rows: { ...count, description: "Rows in the file (0 until the file is written)." },
    bytes: { ...count, description: "The file's bytes as stored (compressed when gzip)." },
    sha256: { ...sha256, description: "SHA-256 of the stored bytes (hex); empty until written." },
    download_url: {
      type: "string",
      description: "Presigned GET URL, fresh on every read of a finished backup; empty otherwise.",
    },
  },
  required: ["rows", "bytes", "sha256", "download_url"],
  additionalProperties: false,
} as const;

/** A backup (`POST /backups`, `GET /backups`, `GET /backups/:id`, `DELETE /backups/:id`). */
export const backupRecordSchema = {
  $id: "backup-record",
  type: "object",
  properties: {
    unique_id: { type: "string", format: "uuid" },
    created_at: {
      type: "string",
      format: "date-time",
      pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}[+-]\\d{2}:\\d{2}$",
    },
    status: { type: "string", enum: ["started", "processing", "finished", "failed"] },
    percentage: { type: "integer", minimum: 0, maximum: 100 },
    trigger: { type: "string", enum: ["api", "schedule"] },
    cut_at: {
      type: "string",
      pattern: "^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?[+-]\\d{2}:\\d{2})?$",
      description:
        "The instant the backup holds (RFC 3339, microseconds when the instant has them); empty until the backup has taken its cut.",
    },
    size: { ...count, description: "Bytes of the three files together (when finished)." },
    error_message: { type: "string", description: "Why the backup failed; empty otherwise." },
    compression: { type: "string", enum: ["gzip", "none"] },
    files: {
      type: "object",
      properties: {
        users: backupFileSchema,
        rooms: backupFileSchema,
        comments: backupFileSchema,
        manifest: {
          type: "object",
          properties: { download_url: { type: "string" } },
          required: ["download_url"],
          additionalProperties: false,
          description: "`manifest.json` of the set (format `chat-backup/1`).",
        },
      },
      required: ["users", "rooms", "comments", "manifest"],
      additionalProperties: false,
    },
    manifest_sha256: { ...sha256, description: "SHA-256 of manifest.json; empty until finished." },
  },
  required: [
    "unique_id",
    "created_at",
    "status",
    "percentage",
    "trigger",
    "cut_at",
    "size",
    "error_message",
    "compression",
    "files",
    "manifest_sha256",
  ],
  additionalProperties: false,
} as const;

export type BackupRequest = FromSchema<typeof backupRequestSchema>;
export type BackupView = FromSchema<typeof backupRecordSchema>;
