import { type AddressInfo, connect } from "node:net";
import { describe, expect, it } from "vitest";
import { startHttpGateway } from "../scripts/local/http-gateway.ts";
import { loadServiceDefinition } from "../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../scripts/local/stack.ts";
import { apiFetch } from "./support/api-fetch.ts";
import { call, newApp, runtime, stack } from "./support/harness.ts";

describe("authentication and envelope", () => {
  it("given demo-style credentials, when listing exports, then an empty list in the success envelope", async () => {
    const app = await newApp();
    const response = await call("GET", "/api/v2.1/rest/exports", { app });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ results: { backup_histories: [] }, status: 200 });
  });

  it("accepts the underscore spellings of the headers", async () => {
    const app = await newApp();
    const response = await call("GET", "/api/v2.1/rest/imports", {
      headers: { QISCUS_SDK_APP_ID: app.appId, QISCUS_SDK_SECRET: app.secret },
    });
    expect(response.status).not.toBe(401);
  });

  it.each([
    ["no headers", {}],
    ["a wrong secret", { "QISCUS-SDK-APP-ID": "x", "QISCUS-SDK-SECRET": "y" }],
  ])("answers 401 in the error envelope for %s", async (_name, headers) => {
    const response = await call("GET", "/api/v2.1/rest/exports", { headers });
    expect(response.status).toBe(401);
    expect(response.body.status).toBe(401);
    expect(typeof response.body.error.message).toBe("string");
    expect(Array.isArray(response.body.error.detailed_messages)).toBe(true);
  });

  it("answers 401 for a right app id with another app's secret", async () => {
    const [a, b] = [await newApp(), await newApp()];
    const response = await call("GET", "/api/v2.1/rest/exports", {
      headers: { "QISCUS-SDK-APP-ID": a.appId, "QISCUS-SDK-SECRET": b.secret },
    });
    expect(response.status).toBe(401);
  });

  it("answers 405 with an Allow header for a wrong verb, and 404 for an unknown path", async () => {
    const wrongVerb = await call("PUT", "/api/v2.1/rest/exports");
    expect(wrongVerb.status).toBe(405);
    expect(wrongVerb.headers.get("allow")).toBe("GET, POST");
    expect(wrongVerb.body.status).toBe(405);
    const unknown = await call("GET", "/api/v2.1/rest/nothing");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBeTruthy();
  });
});

describe("local API gateway", () => {
  it("given the stage throttle of serverless.yml, when loaded, then the gateway knows its limits", () => {
    const definition = loadServiceDefinition(ROOT_DIR, "local", {});
    expect(definition.httpApiThrottle).toEqual({ rateLimit: 100, burstLimit: 200 });
  });

  it("given a burst above the throttle, then the requests past the burst get API Gateway's own 429", async () => {
    // A refill of one token per 1,000 s: however slowly this machine sends the five requests,
    // no token comes back meanwhile, so exactly the burst is let through, in order.
    const server = await startHttpGateway(runtime, 0, {
      throttle: { rateLimit: 0.001, burstLimit: 3 },
    });
    try {
      const { port } = server.address() as AddressInfo;
      const responses: Response[] = [];
      for (let request = 0; request < 5; request += 1) {
        responses.push(await apiFetch(`http://127.0.0.1:${port}/api/v2.1/rest/exports`));
      }
      const statuses = responses.map((response) => response.status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const throttled = responses.find((response) => response.status === 429) as Response;
      expect(await throttled.json()).toEqual({ message: "Too Many Requests" });
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });
  it.each([
    ["a body shorter than its Content-Length", "content-length: 100\r\n\r\n[1,2,3]"],
    ["a whole JSON body that is not JSON", 'content-length: 5\r\n\r\n{"a":'],
    ["a broken chunk", "transfer-encoding: chunked\r\n\r\nzz\r\n[1]\r\n0\r\n\r\n"],
  ])(
    "given %s, when the client half-closes, then the answer is a 400 in the envelope",
    async (_name, rest) => {
      const app = await newApp();
      const { hostname, port } = new URL(stack.url);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => {
          socket.end(
            "POST /api/v2.1/rest/imports HTTP/1.1\r\nhost: localhost\r\n" +
              `qiscus-sdk-app-id: ${app.appId}\r\nqiscus-sdk-secret: ${app.secret}\r\n` +
              `content-type: application/json\r\n${rest}`,
          );
        });
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString("utf8");
        });
        socket.on("close", () => resolve(text));
        socket.on("error", reject);
      });
      const [head, body] = reply.split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(body as string)).toMatchObject({
        status: 400,
        error: { message: expect.any(String) },
      });
    },
  );
});
