import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { call, newApp, type TestApp } from "../support/harness.ts";

const ROUTES = [
  "/api/v2.1/rest/exports",
  "/api/v2.1/rest/imports",
  "/api/v2.1/rest/exports/",
  "/api/v2.1/rest/imports/",
];

async function chatRowCounts(): Promise<string> {
  const { rows } = await chatDb().query(
    "SELECT (SELECT count(*) FROM users) u, (SELECT count(*) FROM rooms) r, (SELECT count(*) FROM comments) c, (SELECT count(*) FROM room_participants) p",
  );
  return JSON.stringify(rows[0]);
}

/** Bodies that are wrong in the ways clients get them wrong. */
function malformedBody(): fc.Arbitrary<{ contentType?: string; body: Uint8Array | string }> {
  const deepJson = fc
    .integer({ min: 50, max: 5000 })
    .map((depth) => "[".repeat(depth) + "]".repeat(depth));
  const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => {
    const out = new Uint8Array(bytes.length + 2);
    out.set([0xc3, 0x28]);
    out.set(bytes, 2);
    return out;
  });
  const duplicateKeys = fc.constantFrom(
    '{"type":"users","type":"rooms"}',
    '{"type":"users","type":5}',
  );
  const wrongTypes = fc
    .record(
      {
        type: fc.oneof(
          fc.string(),
          fc.integer(),
          fc.constant(null),
          fc.array(fc.string()),
          fc.constant("users"),
        ),
        start_date: fc.oneof(
          fc.string(),
          fc.integer(),
          fc.constantFrom("2017-02-30", "2017-13-01", "17-1-1", "2017-01-01T00:00:00Z"),
        ),
        end_date: fc.oneof(fc.string(), fc.constantFrom("2016-01-01", "0000-00-00")),
        timezone: fc.oneof(fc.string(), fc.constant("Mars/Olympus")),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value));
  const hugeString = fc
    .integer({ min: 10000, max: 200000 })
    .map((n) => JSON.stringify({ type: "x".repeat(n) }));
  const truncated = fc.jsonValue().map((value) => {
    const text = JSON.stringify({ type: "users", value });
    return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
  });
  const multipartWithoutBoundary = fc.constant(
    '--x\r\nContent-Disposition: form-data; name="type"\r\n\r\nusers',
  );
  return fc.oneof(
    fc.record({
      contentType: fc.constant("application/json"),
      body: fc.oneof(deepJson, duplicateKeys, wrongTypes, hugeString, truncated, fc.constant("")),
    }),
    fc.record({
      contentType: fc.constantFrom("application/json", "multipart/form-data", undefined),
      body: invalidUtf8,
    }),
    fc.record({
      contentType: fc.constantFrom(
        "text/plain",
        "application/xml",
        "image/png",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
        "application/json; charset=utf-16",
      ),
      body: fc.oneof(fc.string(), truncated, multipartWithoutBoundary, wrongTypes),
    }),
  );
}

describe("bad input never breaks the service", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await newApp();
  });

  it("given 1,000 generated malformed requests, then never a 5xx, always the envelope, chat data unchanged", async () => {
    const before = await chatRowCounts();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
        fc.constantFrom(...ROUTES),
        fc.oneof(fc.constant(""), fc.uuid(), fc.string({ maxLength: 80 }).map(encodeURIComponent)),
        fc.constantFrom("valid", "missing", "wrong-secret", "underscore"),
        fc.oneof(
          fc.constant(""),
          fc.string({ maxLength: 20 }).map((page) => `?page=${encodeURIComponent(page)}`),
        ),
        malformedBody(),
        async (method, route, id, auth, query, { contentType, body }) => {
          cases += 1;
          const headers: Record<string, string> = {};
          if (contentType !== undefined) headers["content-type"] = contentType;
          if (auth === "valid")
            Object.assign(headers, {
              "QISCUS-SDK-APP-ID": app.appId,
              "QISCUS-SDK-SECRET": app.secret,
            });
          if (auth === "wrong-secret")
            Object.assign(headers, { "QISCUS-SDK-APP-ID": app.appId, "QISCUS-SDK-SECRET": "nope" });
          if (auth === "underscore")
            Object.assign(headers, { QISCUS_SDK_APP_ID: app.appId, QISCUS_SDK_SECRET: app.secret });
          const path = route.endsWith("/") ? `${route}${id}` : route;
          const sendsBody = method !== "GET" && method !== "DELETE";
          const response = await call(method, `${path}${query}`, {
            headers,
            body: sendsBody ? body : undefined,
          });
          expect(response.status, `${method} ${path}${query}`).toBeLessThan(500);
          expect(response.body.status).toBe(response.status);
          if (response.status >= 400) {
            expect(typeof response.body.error.message).toBe("string");
            expect(Array.isArray(response.body.error.detailed_messages)).toBe(true);
            expect(JSON.stringify(response.body)).not.toContain(app.secret);
            expect(JSON.stringify(response.body)).not.toMatch(/at .+\.ts:\d+/);
          } else {
            expect(response.body.results).toBeDefined();
          }
        },
      ),
      { numRuns: 1000, seed: Number(process.env.FUZZ_SEED ?? 20261128) },
    );
    expect(cases).toBeGreaterThanOrEqual(1000);
    expect(await chatRowCounts()).toBe(before);
  }, 240000);
});
