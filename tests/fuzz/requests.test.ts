import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { call, drainQueue, newApp, type TestApp } from "../support/harness.ts";

/** Routes whose handler parses a request body (with valid credentials and POST). */
const BODY_ROUTES = [
  "/api/v2.1/rest/exports",
  "/api/v2.1/rest/imports",
  "/api/v2.1/rest/imports/uploads",
];

const OTHER_ROUTES = ["/api/v2.1/rest/exports/", "/api/v2.1/rest/imports/"];

async function chatRowCounts(): Promise<string> {
  const { rows } = await chatDb().query(
    "SELECT (SELECT count(*) FROM users) u, (SELECT count(*) FROM rooms) r, (SELECT count(*) FROM comments) c, (SELECT count(*) FROM room_participants) p",
  );
  return JSON.stringify(rows[0]);
}

const BOUNDARY = "fuzzboundary";

/** Multipart bodies cut, mismatched or mangled the ways uploads break in transit. */
function brokenMultipart(): fc.Arbitrary<{ contentType?: string; body: Uint8Array | string }> {
  const part = (name: string, value: string, filename?: string) =>
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n${filename ? "Content-Type: application/json\r\n" : ""}\r\n${value}\r\n`;
  const whole = fc
    .tuple(
      fc.constantFrom("users", "rooms", "comments", "bogus", ""),
      fc.string({ maxLength: 200 }),
      fc.constantFrom("u.json", "../../x.json", "", "a\u0000b.json"),
    )
    .map(
      ([type, file, name]) => `${part("type", type)}${part("file", file, name)}--${BOUNDARY}--\r\n`,
    );
  return fc.oneof(
    // cut anywhere: a file part that never ends, a header cut in half, ...
    whole.chain((text) =>
      fc.integer({ min: 1, max: Math.max(1, text.length - 1) }).map((at) => ({
        contentType: `multipart/form-data; boundary=${BOUNDARY}`,
        body: text.slice(0, at),
      })),
    ),
    // a boundary that matches nothing in the body
    whole.map((body) => ({ contentType: "multipart/form-data; boundary=elsewhere", body })),
    // no boundary at all, or an empty one
    whole.map((body) => ({ contentType: "multipart/form-data", body })),
    whole.map((body) => ({ contentType: 'multipart/form-data; boundary=""', body })),
    // random bytes in the middle of the file part
    fc.tuple(whole, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([text, bytes]) => ({
      contentType: `multipart/form-data; boundary=${BOUNDARY}`,
      body: Buffer.concat([
        Buffer.from(text.slice(0, text.length / 2)),
        Buffer.from(bytes),
        Buffer.from(text.slice(text.length / 2)),
      ]),
    })),
  );
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
        upload_id: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
        filename: fc.oneof(fc.string(), fc.constant("../../etc/passwd")),
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
  const nul = fc.constantFrom('{"type":"users\\u0000"}', '{"type":"\\ud800","upload_id":"x"}');
  return fc.oneof(
    fc.record({
      contentType: fc.constant("application/json"),
      body: fc.oneof(
        deepJson,
        duplicateKeys,
        wrongTypes,
        hugeString,
        truncated,
        nul,
        fc.constant(""),
      ),
    }),
    fc.record({
      contentType: fc.constantFrom(
        "application/json",
        "application/json; charset=utf-16",
        "application/json; charset=latin1",
        "multipart/form-data",
        undefined,
      ),
      body: fc.oneof(invalidUtf8, wrongTypes),
    }),
    brokenMultipart(),
    fc.record({
      contentType: fc.constantFrom(
        "text/plain",
        "application/xml",
        "image/png",
        "application/x-www-form-urlencoded",
        "",
      ),
      body: fc.oneof(fc.string(), truncated, wrongTypes),
    }),
  );
}

interface FuzzCase {
  method: string;
  route: string;
  id: string;
  auth: "valid" | "underscore" | "missing" | "wrong-secret";
  query: string;
  body: { contentType?: string; body: Uint8Array | string };
}

/**
 * Most cases are authenticated POSTs to a route that parses its body, so that the parsers (not
 * the authentication in front of them) are what the bad bodies meet; the rest spread over every
 * verb, route and credential.
 */
function fuzzCase(): fc.Arbitrary<FuzzCase> {
  const query = fc.oneof(
    fc.constant(""),
    fc.string({ maxLength: 20 }).map((page) => `?page=${encodeURIComponent(page)}`),
  );
  const toBody = fc.record({
    method: fc.constant("POST"),
    route: fc.constantFrom(...BODY_ROUTES),
    id: fc.constant(""),
    auth: fc.constantFrom("valid" as const, "underscore" as const),
    query,
    body: malformedBody(),
  });
  const anywhere = fc.record({
    method: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
    route: fc.constantFrom(...BODY_ROUTES, ...OTHER_ROUTES),
    id: fc.oneof(fc.constant(""), fc.uuid(), fc.string({ maxLength: 80 }).map(encodeURIComponent)),
    auth: fc.constantFrom(
      "valid" as const,
      "missing" as const,
      "wrong-secret" as const,
      "underscore" as const,
    ),
    query,
    body: malformedBody(),
  });
  return fc.oneof({ arbitrary: toBody, weight: 3 }, { arbitrary: anywhere, weight: 1 });
}

describe("bad input never breaks the service", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await newApp();
  });

  it("given 1,000 generated malformed requests, most of them authenticated bodies, then never a 5xx, always the envelope, chat data unchanged once the workers ran", async () => {
    const before = await chatRowCounts();
    let cases = 0;
    let parsedBodies = 0;
    await fc.assert(
      fc.asyncProperty(fuzzCase(), async ({ method, route, id, auth, query, body }) => {
        cases += 1;
        const headers: Record<string, string> = {};
        if (body.contentType !== undefined) headers["content-type"] = body.contentType;
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
          body: sendsBody ? body.body : undefined,
        });
        expect(response.status, `${method} ${path}${query}`).toBeLessThan(500);
        expect(response.body.status).toBe(response.status);
        const credentialed = auth === "valid" || auth === "underscore";
        if (credentialed && method === "POST" && BODY_ROUTES.includes(path)) {
          // The handler read the body: the answer is about the body, never about the caller.
          expect([200, 400, 409, 413, 415]).toContain(response.status);
          parsedBodies += 1;
        }
        if (response.status >= 400) {
          expect(typeof response.body.error.message).toBe("string");
          expect(Array.isArray(response.body.error.detailed_messages)).toBe(true);
          expect(JSON.stringify(response.body)).not.toContain(app.secret);
          expect(JSON.stringify(response.body)).not.toMatch(/at .+\.ts:\d+/);
        } else {
          expect(response.body.results).toBeDefined();
        }
      }),
      { numRuns: 1000, seed: Number(process.env.FUZZ_SEED ?? 20261128) },
    );
    expect(cases).toBeGreaterThanOrEqual(1000);
    expect(parsedBodies).toBeGreaterThanOrEqual(cases / 2);
    // Whatever the requests started runs now: none of it may have written chat data.
    await drainQueue("ImportQueue");
    await drainQueue("ExportQueue");
    expect(await chatRowCounts()).toBe(before);
  }, 300000);
});
