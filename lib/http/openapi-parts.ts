import { successEnvelopeSchema } from "../../schemas/envelope.ts";

/**
 * Building blocks of the OpenAPI document, shared by every group of routes (jobs, backups,
 * restores): schema conversion, references, the error responses and the common parameters.
 */

export type Json = Record<string, unknown>;

/**
 * The schemas in `schemas/` are written for ajv (JSON Schema draft-07 plus ajv's `nullable`);
 * OpenAPI 3.1 speaks JSON Schema 2020-12. `$id`s are dropped (a component is named by its key)
 * and `nullable: true` becomes a `null` member of `type`.
 */
export function toOpenApiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApiSchema);
  if (!schema || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$id" || key === "nullable") continue;
    out[key] = key === "const" || key === "enum" ? value : toOpenApiSchema(value);
  }
  const source = schema as Json;
  if (source.nullable === true && typeof source.type === "string") {
    out.type = [source.type, "null"];
  }
  return out;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

export const ERRORS = {
  400: ["BadRequest", "Bad input: the message and `detailed_messages` say what is wrong."],
  401: ["Unauthorized", "The application id or secret is missing or wrong."],
  404: ["NotFound", "No such job in this application (another application's id looks the same)."],
  405: [
    "MethodNotAllowed",
    "The path exists but not with this verb; the `Allow` header lists the verbs.",
  ],
  409: [
    "Conflict",
    "The `Idempotency-Key` was used with other parameters, or the upload already started an import.",
  ],
  413: ["PayloadTooLarge", "The file is larger than the limit."],
  415: ["UnsupportedMediaType", "The body has a content type this route does not take."],
  500: ["InternalError", "The request was not completed; no details are shown."],
} as const;

export type ErrorStatus = keyof typeof ERRORS;

/** The responses an operation can give besides its success. */
export function responses(success: Json, errors: ErrorStatus[], authenticated = true) {
  const all: ErrorStatus[] = [...(authenticated ? [401 as const] : []), ...errors, 500];
  const out: Json = { 200: success };
  for (const status of [...new Set(all)].sort()) out[status] = responseRef(ERRORS[status][0]);
  out[429] = responseRef("TooManyRequests");
  return out;
}

export function ok(description: string, results: Json): Json {
  return {
    description,
    content: { "application/json": { schema: successEnvelopeSchema(results) } },
  };
}

export const jobId = {
  name: "id",
  in: "path",
  required: true,
  description: "The job's `unique_id`.",
  schema: { type: "string" },
};
export const page = {
  name: "page",
  in: "query",
  required: false,
  description: "1-based page of 20 jobs, newest first; a page past the end is empty.",
  schema: { type: "integer", minimum: 1, maximum: 10000, default: 1 },
};
export const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "The same key within 24 hours returns the same job; the same key with other parameters is a 409.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};
