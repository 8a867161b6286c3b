import { COMMENT_TYPES, PAYLOAD_SCHEMAS } from "../../schemas/comment-payloads.ts";
import { errorEnvelopeSchema, throttledSchema } from "../../schemas/envelope.ts";
import { exportRequestSchema } from "../../schemas/export-request.ts";
import { importCommentSchema } from "../../schemas/import-comments.ts";
import { importRequestSchema } from "../../schemas/import-request.ts";
import { importRoomSchema } from "../../schemas/import-rooms.ts";
import {
  importFromUploadRequestSchema,
  importUploadRequestSchema,
  importUploadSchema,
} from "../../schemas/import-upload.ts";
import { importUserSchema } from "../../schemas/import-users.ts";
import {
  exportJobSchema,
  importJobSchema,
  importRowErrorSchema,
} from "../../schemas/job-records.ts";
import { MAX_IMPORT_BYTES } from "../imports/import-jobs.ts";
import { backupPaths, backupSchemas } from "./openapi-backups.ts";
import {
  ERRORS,
  idempotencyKey,
  type Json,
  jobId,
  ok,
  page,
  ref,
  responses,
  toOpenApiSchema,
} from "./openapi-parts.ts";
import { type RestoreOpenApiParts, restorePaths, restoreSchemas } from "./openapi-restores.ts";

/** Where the API lives; every path of the document starts here. */
export const API_BASE = "/api/v2.1/rest";

const multipartImport = {
  type: "object",
  properties: {
    ...(toOpenApiSchema(importRequestSchema) as { properties: Json }).properties,
    file: {
      type: "string",
      contentMediaType: "application/json",
      maxLength: MAX_IMPORT_BYTES,
      description: `A JSON array of rows (see ImportUserRow, ImportRoomRow, ImportCommentRow), at most ${MAX_IMPORT_BYTES} bytes.`,
    },
  },
  required: ["type", "file"],
};

function restoreParts(): RestoreOpenApiParts {
  return {
    base: API_BASE,
    ref,
    ok,
    responses: (success, errors) => responses(success, errors),
    parameters: { jobId, page, idempotencyKey },
    toOpenApiSchema,
  };
}

function paths(): Json {
  const exportJob = { backup_history: ref("ExportJob") };
  const importJob = { backup_history: ref("ImportJob") };
  const list = (item: string) => ({
    type: "object",
    properties: { backup_histories: { type: "array", items: ref(item) } },
    required: ["backup_histories"],
    additionalProperties: false,
  });
  const one = (results: Json) => ({
    type: "object",
    properties: results,
    required: Object.keys(results),
    additionalProperties: false,
  });
  return {
    [`${API_BASE}/exports`]: {
      post: {
        operationId: "createExport",
        summary: "Start an export of users, rooms or comments",
        description:
          "Creates the job (`started`) and answers at once; poll `GET /exports/{id}` until `finished` (then `download_url`, `checksum_sha256`) or `failed`.",
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: ref("ExportRequest") },
            "application/x-www-form-urlencoded": { schema: ref("ExportRequest") },
            "multipart/form-data": { schema: ref("ExportRequest") },
          },
        },
        // As the seed shows it: the record itself is the results (no backup_history around it).
        responses: responses(ok("The new export job.", ref("ExportJob")), [400, 409, 415]),
      },
      get: {
        operationId: "listExports",
        summary: "This application's export jobs, newest first",
        parameters: [page],
        responses: responses(ok("One page of export jobs.", list("ExportJob")), [400]),
      },
    },
    [`${API_BASE}/exports/{id}`]: {
      get: {
        operationId: "getExport",
        summary: "One export job, with a fresh download URL when finished",
        parameters: [jobId],
        responses: responses(ok("The export job.", one(exportJob)), [404]),
      },
      delete: {
        operationId: "deleteExport",
        summary: "Delete an export's file and record (a running export is cancelled)",
        parameters: [jobId],
        responses: responses(ok("The job as it was.", one(exportJob)), [404]),
      },
    },
    [`${API_BASE}/imports`]: {
      post: {
        operationId: "createImport",
        summary: "Start an import of users, rooms or comments",
        description:
          "Either a multipart form with the file (at most 4 MiB), or JSON naming an upload made through `POST /imports/uploads`. Answers at once with the job (`started`); poll `GET /imports/{id}`. All rows are written or none.",
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: ref("ImportForm"),
              encoding: { file: { contentType: "application/json" } },
            },
            "application/json": { schema: ref("ImportFromUploadRequest") },
          },
        },
        responses: responses(ok("The new import job.", one(importJob)), [400, 409, 413, 415]),
      },
      get: {
        operationId: "listImports",
        summary: "This application's import jobs, newest first (errors as one sentence)",
        parameters: [page],
        responses: responses(ok("One page of import jobs.", list("ImportJob")), [400]),
      },
    },
    [`${API_BASE}/imports/{id}`]: {
      get: {
        operationId: "getImport",
        summary: "One import job, with every row error",
        parameters: [jobId],
        responses: responses(ok("The import job.", one(importJob)), [404]),
      },
    },
    [`${API_BASE}/imports/uploads`]: {
      post: {
        operationId: "createImportUpload",
        summary: "Ask for an upload URL for an import file of any size",
        description:
          "PUT the file (a JSON array or NDJSON, optionally gzip-compressed) to `upload_url` as the raw body, without form or auth headers, up to `max_size` bytes (exactly `size` bytes when the request gave one), before `expires_at`; then start the import with `POST /imports` and `{type, upload_id, dry_run}`.",
        requestBody: {
          required: true,
          content: { "application/json": { schema: ref("ImportUploadRequest") } },
        },
        responses: responses(
          ok("Where to upload the file.", one({ upload: ref("ImportUpload") })),
          [400, 413, 415],
        ),
      },
    },
    ...backupPaths({
      base: API_BASE,
      ref,
      ok,
      responses: (success, errors) => responses(success, errors),
      parameters: { jobId, page, idempotencyKey },
      toOpenApiSchema,
    }),
    ...restorePaths(restoreParts()),
    [`${API_BASE}/openapi.json`]: {
      get: {
        operationId: "getOpenApiDocument",
        summary: "This document",
        security: [],
        responses: responses(
          {
            description: "The OpenAPI 3.1 document of the API.",
            content: { "application/json": { schema: { type: "object", required: ["openapi"] } } },
          },
          [],
          false,
        ),
      },
    },
  };
}

function components(): Json {
  const schemas: Json = {
    ExportRequest: toOpenApiSchema(exportRequestSchema),
    ImportForm: multipartImport,
    ImportUploadRequest: toOpenApiSchema(importUploadRequestSchema),
    ImportUpload: toOpenApiSchema(importUploadSchema),
    ImportFromUploadRequest: toOpenApiSchema(importFromUploadRequestSchema),
    ExportJob: toOpenApiSchema(exportJobSchema),
    ImportJob: toOpenApiSchema(importJobSchema),
    ImportRowError: toOpenApiSchema(importRowErrorSchema),
    Throttled: toOpenApiSchema(throttledSchema),
    ImportUserRow: toOpenApiSchema(importUserSchema),
    ImportRoomRow: toOpenApiSchema(importRoomSchema),
    ImportCommentRow: toOpenApiSchema(importCommentSchema),
    ...backupSchemas({ toOpenApiSchema }),
    ...restoreSchemas({ toOpenApiSchema }),
  };
  for (const type of COMMENT_TYPES) {
    schemas[`CommentPayload_${type}`] = toOpenApiSchema(PAYLOAD_SCHEMAS[type]);
  }
  const errorResponses: Json = {};
  for (const [status, [name, description]] of Object.entries(ERRORS)) {
    const response: Json = {
      description,
      content: { "application/json": { schema: errorEnvelopeSchema(Number(status)) } },
    };
    if (status === "405") {
      response.headers = {
        Allow: { description: "The verbs the path serves.", schema: { type: "string" } },
      };
    }
    errorResponses[name] = response;
  }
  errorResponses.TooManyRequests = {
    description:
      "Too many requests. From the service, in the error envelope with `Retry-After`: the " +
      "application is above its requests per second, has its cap of open jobs of this kind, or " +
      "its source sent too many wrong secrets. From API Gateway above the stage's rate, with " +
      "its own body and no `Retry-After`. Wait and retry.",
    headers: {
      "Retry-After": {
        description: "Seconds to wait before the same request may succeed (service answers only).",
        schema: { type: "integer", minimum: 1 },
      },
    },
    content: {
      "application/json": {
        schema: { oneOf: [errorEnvelopeSchema(429), ref("Throttled")] },
      },
    },
  };
  return {
    schemas,
    responses: errorResponses,
    securitySchemes: {
      AppId: { type: "apiKey", in: "header", name: "QISCUS-SDK-APP-ID" },
      Secret: { type: "apiKey", in: "header", name: "QISCUS-SDK-SECRET" },
    },
  };
}

let document: Json | undefined;

/**
 * The OpenAPI 3.1 document of the API, built from the JSON Schemas the handlers validate with
 * (requests, file rows) and the schemas of the records they answer with.
 */
export function openApiDocument(): Json {
  document ??= {
    openapi: "3.1.0",
    info: {
      title: "Chat data backup & import",
      version: "2.1.0",
      description:
        'Export and import an application\'s users, rooms and comments as JSON files. Every request but this document\'s carries `QISCUS-SDK-APP-ID` and `QISCUS-SDK-SECRET` (the underscore spellings work too). Success: `{"results": ..., "status": 200}`; errors: `{"error": {"message", "detailed_messages"}, "status": <code>}`. A path asked with a verb it does not serve answers 405 (MethodNotAllowed), an unknown path 404 (NotFound), both in the error envelope.',
    },
    servers: [{ url: "/", description: "The API's own host" }],
    security: [{ AppId: [], Secret: [] }],
    paths: paths(),
    components: components(),
  };
  return document;
}
