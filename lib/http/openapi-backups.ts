import { backupRecordSchema, backupRequestSchema } from "../../schemas/backup-records.ts";

type Json = Record<string, unknown>;

/** What the main document lends the backup routes, so that every route is described alike. */
export interface OpenApiParts {
  base: string;
  ref(name: string): Json;
  ok(description: string, results: Json): Json;
  responses(success: Json, errors: (400 | 404 | 409 | 415)[]): Json;
  parameters: { jobId: Json; page: Json; idempotencyKey: Json };
  toOpenApiSchema(schema: unknown): unknown;
}

/** The `/backups` paths of the OpenAPI document (SPEC 10). */
export function backupPaths(parts: OpenApiParts): Json {
  const { base, ref, ok, responses, parameters } = parts;
  const one = {
    type: "object",
    properties: { backup: ref("Backup") },
    required: ["backup"],
    additionalProperties: false,
  };
  const list = {
    type: "object",
    properties: { backups: { type: "array", items: ref("Backup") } },
    required: ["backups"],
    additionalProperties: false,
  };
  return {
    [`${base}/backups`]: {
      post: {
        operationId: "createBackup",
        summary: "Start a backup of every user, room and comment of this application",
        description:
          "Creates the backup (`started`) and answers at once; poll `GET /backups/{id}` until `finished` (then each file's `download_url`) or `failed`. The body is optional.",
        parameters: [parameters.idempotencyKey],
        requestBody: {
          required: false,
          content: {
            "application/json": { schema: ref("BackupRequest") },
            "application/x-www-form-urlencoded": { schema: ref("BackupRequest") },
          },
        },
        responses: responses(ok("The new backup.", one), [400, 409, 415]),
      },
      get: {
        operationId: "listBackups",
        summary: "This application's backups, newest first",
        parameters: [parameters.page],
        responses: responses(ok("One page of backups.", list), [400]),
      },
    },
    [`${base}/backups/{id}`]: {
      get: {
        operationId: "getBackup",
        summary: "One backup, with fresh download URLs of its files and manifest when finished",
        parameters: [parameters.jobId],
        responses: responses(ok("The backup.", one), [404]),
      },
      delete: {
        operationId: "deleteBackup",
        summary: "Delete a backup's files and record (a running backup is cancelled)",
        parameters: [parameters.jobId],
        responses: responses(ok("The backup as it was.", one), [404]),
      },
    },
  };
}

/** The component schemas the backup paths refer to. */
export function backupSchemas(parts: Pick<OpenApiParts, "toOpenApiSchema">): Json {
  return {
    BackupRequest: parts.toOpenApiSchema(backupRequestSchema),
    Backup: parts.toOpenApiSchema(backupRecordSchema),
  };
}
