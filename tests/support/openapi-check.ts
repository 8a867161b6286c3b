import type { ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { openApiDocument } from "../../lib/http/openapi.ts";

// ajv-formats is CommonJS; its default export arrives wrapped when loaded from ESM.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

interface Operation {
  responses: Record<string, { $ref?: string }>;
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  operation: Operation;
}

const DOCUMENT_ID = "openapi.json";
const document = openApiDocument() as { paths: Record<string, Record<string, Operation>> };
// OpenAPI 3.1 schemas are JSON Schema 2020-12: the document itself is the schema registry.
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addSchema(document, DOCUMENT_ID);

const routes: Route[] = Object.entries(document.paths).flatMap(([template, item]) =>
  Object.entries(item).map(([method, operation]) => ({
    method: method.toUpperCase(),
    template,
    pattern: new RegExp(
      `^${template
        .split("/")
        .map((part) =>
          /^\{\w+\}$/.test(part) ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("/")}$`,
    ),
    params: (template.match(/\{/g) ?? []).length,
    operation,
  })),
);

const pointer = (...parts: string[]) =>
  `#/${parts.map((part) => part.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;

const validators = new Map<string, ValidateFunction>();
function validatorAt(schemaPointer: string): ValidateFunction {
  let validate = validators.get(schemaPointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOCUMENT_ID}${schemaPointer}` });
    validators.set(schemaPointer, validate);
  }
  return validate;
}

/**
 * The documented response for a request, chosen as API Gateway chooses a route: the operation
 * of the most specific path (fewest path parameters) with this verb; that path with another verb
 * is a 405, any other path a 404 (both described in the document's components).
 */
function documentedResponse(method: string, path: string, status: number): string {
  if (status === 429) return pointer("components", "responses", "TooManyRequests");
  // The most specific path wins first (`/imports/uploads` over `/imports/{id}`), then the verb.
  const all = routes.filter((route) => route.pattern.test(path));
  const fewest = Math.min(...all.map((route) => route.params));
  const matching = all.filter((route) => route.params === fewest);
  const route = matching.find((candidate) => candidate.method === method);
  if (!route) {
    const name = matching.length ? "MethodNotAllowed" : "NotFound";
    const expected = matching.length ? 405 : 404;
    if (status !== expected) {
      throw new Error(`${method} ${path} is not in the OpenAPI document, yet answered ${status}`);
    }
    return pointer("components", "responses", name);
  }
  const response = route.operation.responses[String(status)];
  if (!response) {
    throw new Error(
      `${method} ${route.template} answered ${status}, a status the OpenAPI document does not list`,
    );
  }
  return response.$ref
    ? response.$ref
    : pointer("paths", route.template, route.method.toLowerCase(), "responses", String(status));
}

/**
 * Fails when a response of the API does not match the OpenAPI document served at
 * `/api/v2.1/rest/openapi.json`: an undocumented status, a body that is not JSON, or a body
 * that breaks the documented schema.
 */
export function assertDocumentedResponse(
  method: string,
  pathAndQuery: string,
  response: { status: number; headers: Headers; body: unknown },
): void {
  const path = pathAndQuery.split("?")[0] as string;
  const at = documentedResponse(method.toUpperCase(), path, response.status);
  const where = `${method} ${path} -> ${response.status}`;
  if (!/^application\/json/.test(response.headers.get("content-type") ?? "")) {
    throw new Error(`${where}: content-type ${response.headers.get("content-type")} is not JSON`);
  }
  if (typeof response.body === "string") throw new Error(`${where}: the body is not JSON`);
  const validate = validatorAt(`${at}/content/application~1json/schema`);
  if (!validate(response.body)) {
    throw new Error(
      `${where} does not match the OpenAPI document: ${ajv.errorsText(validate.errors, { dataVar: "body" })}`,
    );
  }
}
