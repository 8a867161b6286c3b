import { apiHandler } from "../../lib/http/api.ts";
import { openApiDocument } from "../../lib/http/openapi.ts";

/** GET /api/v2.1/rest/openapi.json: the API's OpenAPI 3.1 document, without authentication. */
export const handler = apiHandler(
  async () => ({
    statusCode: 200,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(openApiDocument()),
  }),
  { authenticate: false },
);
