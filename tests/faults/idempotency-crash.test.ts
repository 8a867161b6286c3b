import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newApp, type TestApp } from "../support/harness.ts";

const EXPORTS = "/api/v2.1/rest/exports";

/** An SQS endpoint that takes connections and never answers: a request sending a job message hangs. */
let blackHole: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  blackHole = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => blackHole.close(resolve));
});

function apiEvent(app: TestApp, method: string, key?: string): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: `${method} ${EXPORTS}`,
    rawPath: EXPORTS,
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      "qiscus-sdk-app-id": app.appId,
      "qiscus-sdk-secret": app.secret,
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: method === "POST" ? JSON.stringify({ type: "users" }) : undefined,
    isBase64Encoded: false,
    requestContext: {
      http: { method, path: EXPORTS, sourceIp: "127.0.0.1" },
      requestId: randomUUID(),
    },
  } as unknown as APIGatewayProxyEventV2;
}

/** Starts POST /exports in a container of its own, waits until it is half-way, then kills it. */
async function killHalfWay(app: TestApp, key: string, budgetMs: number): Promise<number> {
  const { port } = blackHole.address() as { port: number };
  const child = fork(join(import.meta.dirname, "request-child.ts"), {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", () => reject(new Error("the request container ended early")));
    });
    // A warm container, as the one a retry would meet: modules, clients and the secret ready.
    child.send({ functionName: "exportsList", event: apiEvent(app, "GET"), budgetMs: 29_000 });
    await new Promise((resolve) => child.once("message", resolve));
    let answered = false;
    child.on("message", () => {
      answered = true;
    });
    const sentAt = Date.now();
    child.send({ functionName: "exportsCreate", event: apiEvent(app, "POST", key), budgetMs });
    // Half-way: the key is taken and the job record written; the message to the queue hangs.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await call("GET", EXPORTS, { app });
      if (list.body.results.backup_histories.length > 0) break;
      if (answered) throw new Error("the request finished although its queue never answers");
      if (Date.now() > deadline) throw new Error("the request never got half-way");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return sentAt;
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

describe("a request killed half-way with an Idempotency-Key", () => {
  it("given a POST /exports killed mid-way, when the client retries with the same key after the invocation's time, then it gets a real answer, and then the same one again", async () => {
    const app = await newApp();
    const key = `crash-${randomUUID()}`;
    const budgetMs = 3_000;
    const startedAt = await killHalfWay(app, key, budgetMs);

    // While the dead invocation could still be running, the key is honestly "in progress".
    if (Date.now() - startedAt < budgetMs - 1_500) {
      const early = await call("POST", EXPORTS, {
        app,
        json: { type: "users" },
        headers: { "Idempotency-Key": key },
      });
      expect(early.status).toBe(409);
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, startedAt + budgetMs - Date.now()) + 200),
    );

    const retry = await call("POST", EXPORTS, {
      app,
      json: { type: "users" },
      headers: { "Idempotency-Key": key },
    });
    expect(retry.status).toBe(200);
    expect(retry.body.results.unique_id).toEqual(expect.any(String));
    const again = await call("POST", EXPORTS, {
      app,
      json: { type: "users" },
      headers: { "Idempotency-Key": key },
    });
    expect(again.status).toBe(200);
    expect(again.body.results.unique_id).toBe(retry.body.results.unique_id);
  });
});
