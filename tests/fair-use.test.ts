import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { setApplicationLimits } from "../lib/chat-db/applications.ts";
import { ThrottledError, UnauthorizedError } from "../lib/errors.ts";
import { authenticateFairly } from "../lib/http/fair-use.ts";
import { postImport } from "./imports/support.ts";
import { type ApiResponse, call, drainQueue, newApp, type TestApp } from "./support/harness.ts";

const EXPORTS = "/api/v2.1/rest/exports";

async function appWithLimits(limits: {
  requestsPerSecond?: number;
  maxOpenJobs?: number;
}): Promise<TestApp> {
  const app = await newApp();
  await setApplicationLimits(app.appId, limits);
  return app;
}

function expectThrottled(response: ApiResponse) {
  expect(response.status).toBe(429);
  expect(response.body.status).toBe(429);
  expect(response.body.error.message).toEqual(expect.any(String));
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

describe("requests per second of one application", () => {
  it("given an application allowed 2 requests per second, when it sends 30 at once, then at most 2 per second are served and the rest are 429 with Retry-After, while another application is served", async () => {
    const noisy = await appWithLimits({ requestsPerSecond: 2 });
    const quiet = await newApp();
    // Both secrets verified once, so that the burst measures the limit and not the first hash.
    await call("GET", EXPORTS, { app: noisy });
    await call("GET", EXPORTS, { app: quiet });
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 10));

    const started = Date.now();
    const [noisyAnswers, quietAnswers] = await Promise.all([
      Promise.all(Array.from({ length: 30 }, () => call("GET", EXPORTS, { app: noisy }))),
      Promise.all(Array.from({ length: 4 }, () => call("GET", EXPORTS, { app: quiet }))),
    ]);
    // The one-second windows the burst can have touched (a slow machine spreads it out).
    const windows = Math.floor(Date.now() / 1000) - Math.floor(started / 1000) + 1;
    const served = noisyAnswers.filter((answer) => answer.status === 200).length;
    const throttled = noisyAnswers.filter((answer) => answer.status === 429);
    expect(served + throttled.length).toBe(30);
    expect(served).toBeLessThanOrEqual(2 * windows);
    expect(throttled.length).toBeGreaterThanOrEqual(30 - 2 * windows);
    expect(throttled.length).toBeGreaterThan(0);
    for (const answer of throttled) expectThrottled(answer);
    expect(throttled[0]?.headers.get("retry-after")).toBe("1");
    expect(quietAnswers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);

    // The next second, the application is served again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await call("GET", EXPORTS, { app: noisy })).status).toBe(200);
  });
});

describe("open jobs of one application", () => {
  it("given an application allowed 2 open exports, when it asks for a third, then 429 with Retry-After and no job; imports and other applications are not held up; once its exports end it may start more", async () => {
    const app = await appWithLimits({ maxOpenJobs: 2 });
    const other = await appWithLimits({ maxOpenJobs: 2 });
    const key = { "Idempotency-Key": `first-${randomBytes(4).toString("hex")}` };
    const first = await call("POST", EXPORTS, { app, json: { type: "users" }, headers: key });
    expect(first.status).toBe(200);
    expect((await call("POST", EXPORTS, { app, json: { type: "rooms" } })).status).toBe(200);

    const third = await call("POST", EXPORTS, { app, json: { type: "comments" } });
    expectThrottled(third);
    expect(third.body.error.detailed_messages.join(" ")).toContain("2 exports");
    const listed = await call("GET", EXPORTS, { app });
    expect(listed.body.results.backup_histories).toHaveLength(2);

    // A retry of a request that got its job is answered as before, not refused.
    const replay = await call("POST", EXPORTS, { app, json: { type: "users" }, headers: key });
    expect(replay.status).toBe(200);
    expect(replay.body.results.unique_id).toBe(first.body.results.unique_id);

    // The cap is per kind and per application.
    const users = JSON.stringify([{ email: "a@example.com", username: "a", password: "pw-1" }]);
    expect((await postImport(app, "users", users)).status).toBe(200);
    expect((await call("POST", EXPORTS, { app: other, json: { type: "users" } })).status).toBe(200);

    await drainQueue("ExportQueue");
    expect((await call("POST", EXPORTS, { app, json: { type: "comments" } })).status).toBe(200);
  });
});

describe("wrong secrets", () => {
  const source = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;

  async function refusal(appId: string, secret: string): Promise<{ error: unknown; ms: number }> {
    const started = performance.now();
    try {
      await authenticateFairly(appId, secret, source, 3);
      return { error: undefined, ms: performance.now() - started };
    } catch (error) {
      return { error, ms: performance.now() - started };
    }
  }

  it("given a source guessing secrets, when it passes its allowance, then it is refused with 429 without a hash or a query, while a secret verified before still works", async () => {
    const app = await newApp();
    await authenticateFairly(app.appId, app.secret, source, 3);

    const first = await refusal(app.appId, "wrong-1");
    expect(first.error).toBeInstanceOf(UnauthorizedError);
    // The same wrong pair again: refused from memory, no scrypt.
    const repeated = await refusal(app.appId, "wrong-1");
    expect(repeated.error).toBeInstanceOf(UnauthorizedError);
    expect(repeated.ms).toBeLessThan(first.ms / 4);

    expect((await refusal(app.appId, "wrong-2")).error).toBeInstanceOf(UnauthorizedError);
    expect((await refusal(app.appId, "wrong-3")).error).toBeInstanceOf(UnauthorizedError);
    const blocked = await refusal(app.appId, "wrong-4");
    expect(blocked.error).toBeInstanceOf(ThrottledError);
    expect((blocked.error as ThrottledError).status).toBe(429);
    const retryAfter = Number((blocked.error as ThrottledError).headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.ms).toBeLessThan(first.ms / 4);

    // The application's own client, verified before, is not locked out by the guessing.
    await expect(authenticateFairly(app.appId, app.secret, source, 3)).resolves.toMatchObject({
      appId: app.appId,
    });
    // Another source is not blocked by this one.
    const elsewhere = await authenticateFairly(app.appId, "wrong-5", "203.0.113.9", 3).catch(
      (error: unknown) => error,
    );
    expect(elsewhere).toBeInstanceOf(UnauthorizedError);
  });
});
