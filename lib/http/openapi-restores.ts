import { restoreRecordSchema, restoreRequestSchema } from "../../schemas/restore-records.ts";

type Json = Record<string, unknown>;

/** What the main document lends the restore routes, so that every route is described alike. */
export interface RestoreOpenApiParts {
  base: string;
  ref(name: string): Json;
  ok(description: string, results: Json): Json;
  responses(success: Json, errors: (400 | 404 | 409 | 415)[]): Json;
  parameters: { jobId: Json; page: Json; idempotencyKey: Json };
  toOpenApiSchema(schema: unknown): unknown;
}

/** The `/restores` paths of the OpenAPI document (SPEC 10). */
export function restorePaths(parts: RestoreOpenApiParts): Json {
  const { base, ref, ok, responses, parameters } = parts;
  const one = {
    type: "object",
    properties: { restore: ref("Restore") },
    required: ["restore"],
    additionalProperties: false,
  };
  const list = {
    type: "object",
    properties: { restores: { type: "array", items: ref("Restore") } },
    required: ["restores"],
    additionalProperties: false,
  };
  return {
    [`${base}/restores`]: {
      post: {
        operationId: "createRestore",
        summary: "Restore one of this application's finished backups into it",
        description:
          "Straight from storage: users, then rooms, then comments, each with the import rules and `on_existing: skip` (rows already there with the same content are skipped and counted), each all or nothing. Answers at once with the restore (`started`); poll `GET /restores/{id}`. A backup that is missing, another application's or not finished is a 404.",
        parameters: [parameters.idempotencyKey],
        requestBody: {
          required: true,
          content: { "application/json": { schema: ref("RestoreRequest") } },
        },
        responses: responses(ok("The new restore.", one), [400, 404, 409, 415]),
      },
      get: {
        operationId: "listRestores",
        summary: "This application's restores, newest first (row errors as one sentence)",
        parameters: [parameters.page],
        responses: responses(ok("One page of restores.", list), [400]),
      },
    },
    [`${base}/restores/{id}`]: {
      get: {
        operationId: "getRestore",
        summary: "One restore, with each type's progress, rows written and skipped, row errors",
        parameters: [parameters.jobId],
        responses: responses(ok("The restore.", one), [404]),
      },
    },
  };
}

/** The components the `/restores` paths refer to. */
export function restoreSchemas(parts: Pick<RestoreOpenApiParts, "toOpenApiSchema">): Json {
  return {
    RestoreRequest: parts.toOpenApiSchema(restoreRequestSchema),
    Restore: parts.toOpenApiSchema(restoreRecordSchema),
  };
}
