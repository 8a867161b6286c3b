import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { loadServiceDefinition } from "../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../scripts/local/stack.ts";
import { call, newApp } from "./support/harness.ts";
import { assertDocumentedResponse } from "./support/openapi-check.ts";

const DOCUMENT = "/api/v2.1/rest/openapi.json";

describe("the OpenAPI document", () => {
  it("is served without authentication and an independent validator accepts it as OpenAPI 3.1", async () => {
    const response = await call("GET", DOCUMENT);
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe("3.1.0");
    // validate() dereferences in place: give it a copy.
    const api = await SwaggerParser.validate(structuredClone(response.body));
    expect(api.info.title).toBe("Chat data backup & import");
  });

  it("describes every route serverless.yml declares", async () => {
    const { body } = await call("GET", DOCUMENT);
    const documented = body.paths as Record<string, Record<string, unknown>>;
    const routes = loadServiceDefinition(ROOT_DIR).functions.flatMap((fn) => fn.httpRoutes);
    expect(routes.length).toBeGreaterThan(8);
    for (const { method, path } of routes) {
      if (path === "*") continue; // the catch-all: any other path is a documented 404
      expect(documented[path], `${path} is in the document`).toBeDefined();
      // ANY routes answer 405 for the verbs the path does not serve.
      if (method !== "ANY") {
        expect(documented[path]?.[method.toLowerCase()], `${method} ${path}`).toBeDefined();
      }
    }
  });

  it("answers 405 in the envelope to other verbs", async () => {
    const response = await call("POST", DOCUMENT);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });

  it("documents every error status with the envelope, and 429 with API Gateway's body", async () => {
    const { body } = await call("GET", DOCUMENT);
    type Documented = {
      content: { "application/json": { schema: { properties?: { status?: { const: number } } } } };
    };
    const errors = Object.values(body.components.responses as Record<string, Documented>);
    for (const status of [400, 401, 404, 405, 409, 413, 415, 500]) {
      const named = errors.find(
        (response) =>
          response.content["application/json"].schema.properties?.status?.const === status,
      );
      expect(named, `error ${status}`).toBeDefined();
    }
    expect(body.paths["/api/v2.1/rest/exports"].post.responses["429"]).toEqual({
      $ref: "#/components/responses/TooManyRequests",
    });
  });

  it("makes the suite fail on a response that breaks it", async () => {
    const app = await newApp();
    const real = await call("GET", "/api/v2.1/rest/exports", { app });
    const headers = real.headers;
    expect(() =>
      assertDocumentedResponse("GET", "/api/v2.1/rest/exports", {
        status: 200,
        headers,
        body: { results: { backup_histories: [{ unique_id: "nope" }] }, status: 200 },
      }),
    ).toThrow(/does not match the OpenAPI document/);
    expect(() =>
      assertDocumentedResponse("GET", "/api/v2.1/rest/exports", {
        status: 418,
        headers,
        body: real.body,
      }),
    ).toThrow(/does not list/);
    expect(() =>
      assertDocumentedResponse("GET", "/api/v2.1/rest/exports", {
        status: 401,
        headers,
        body: { error: { message: "x" }, status: 401 },
      }),
    ).toThrow(/detailed_messages/);
  });
});
