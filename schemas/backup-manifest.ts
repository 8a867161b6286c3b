import type { FromSchema } from "json-schema-to-ts";

/** One file of a backup: what `restore` checks before it imports anything. */
const backupFile = {
  type: "object",
  properties: {
    file: {
      type: "string",
      pattern: "^(?!\\.\\.?$)[^/\\\\]+$",
      description: "Name of the file in the backup's directory.",
    },
    rows: { type: "integer", minimum: 0 },
    bytes: { type: "integer", minimum: 0 },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
    export_id: { type: "string" },
  },
  required: ["file", "rows", "bytes", "sha256"],
} as const;

/** `manifest.json` of a directory written by `chat-backup backup`. */
export const backupManifestSchema = {
  $id: "backup-manifest",
  type: "object",
  properties: {
    format: { const: "chat-backup/1" },
    app_id: { type: "string", minLength: 1 },
    created_at: { type: "string", format: "date-time" },
    url: { type: "string" },
    files: {
      type: "object",
      properties: { users: backupFile, rooms: backupFile, comments: backupFile },
      required: ["users", "rooms", "comments"],
    },
  },
  required: ["format", "app_id", "created_at", "files"],
} as const;

export type BackupManifest = FromSchema<typeof backupManifestSchema>;
