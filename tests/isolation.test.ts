import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { presignDownload, putObject } from "../lib/jobs/files.ts";
import { call, newApp, type TestApp } from "./support/harness.ts";

const EXPORTS = "/api/v2.1/rest/exports";
const IMPORTS = "/api/v2.1/rest/imports";

async function createExport(app: TestApp): Promise<string> {
  const response = await call("POST", EXPORTS, { app, json: { type: "users" } });
  expect(response.status).toBe(200);
  return response.body.results.unique_id;
}

async function createImport(app: TestApp): Promise<string> {
  const form = new FormData();
  form.set("type", "users");
  form.set("file", new Blob(["[]"], { type: "application/json" }), "users.json");
  const response = await call("POST", IMPORTS, { app, form });
  expect(response.status).toBe(200);
  return response.body.results.backup_history.unique_id;
}

/** The answer without the per-request parts (the id in the message is the one asked for). */
function shape(response: { status: number; body: any }, id: string) {
  return {
    status: response.status,
    body: JSON.parse(JSON.stringify(response.body).replaceAll(id, "<id>")),
  };
}

describe("tenant isolation", () => {
  it("given app A's job ids, app B gets for every route and verb exactly what an unknown id gets", async () => {
    const [a, b] = [await newApp(), await newApp()];
    const exportId = await createExport(a);
    const importId = await createImport(a);
    const unknown = randomUUID();
    const cases: [string, string, string][] = [
      ["GET", `${EXPORTS}/`, exportId],
      ["DELETE", `${EXPORTS}/`, exportId],
      ["GET", `${IMPORTS}/`, importId],
      // An id of the other kind is unknown on this path, for its owner too.
      ["GET", `${IMPORTS}/`, exportId],
      ["GET", `${EXPORTS}/`, importId],
    ];
    for (const [method, path, id] of cases) {
      const foreign = await call(method, `${path}${id}`, { app: b });
      const missing = await call(method, `${path}${unknown}`, { app: b });
      expect(foreign.status, `${method} ${path}`).toBe(404);
      expect(shape(foreign, id), `${method} ${path}`).toEqual(shape(missing, unknown));
    }
    // B's lists never show A's jobs.
    expect((await call("GET", EXPORTS, { app: b })).body.results.backup_histories).toEqual([]);
    expect((await call("GET", IMPORTS, { app: b })).body.results.backup_histories).toEqual([]);
    // A still has both: B's DELETE changed nothing.
    expect((await call("GET", `${EXPORTS}/${exportId}`, { app: a })).status).toBe(200);
    expect((await call("GET", `${IMPORTS}/${importId}`, { app: a })).status).toBe(200);
  });

  it("a wrong secret for a real app is a 401 that reveals nothing about its jobs", async () => {
    const a = await newApp();
    const exportId = await createExport(a);
    const response = await call("GET", `${EXPORTS}/${exportId}`, {
      headers: { "QISCUS-SDK-APP-ID": a.appId, "QISCUS-SDK-SECRET": `${a.secret}x` },
    });
    expect(response.status).toBe(401);
    expect(JSON.stringify(response.body)).not.toContain(exportId);
  });

  it("download URLs point at the application's own prefix and stop working after they expire", async () => {
    const a = await newApp();
    const key = `exports/${a.appId}/${randomUUID()}.json`;
    const url = await presignDownload(key, "file.json");
    expect(new URL(url).pathname).toContain(`/exports/${a.appId}/`);
    expect(Number(new URL(url).searchParams.get("X-Amz-Expires"))).toBe(3600);

    await putObject(key, Buffer.from("[]\n"));
    const shortLived = await presignDownload(key, "file.json", 1);
    const fresh = await fetch(shortLived);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("content-disposition")).toContain('filename="file.json"');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await fetch(shortLived)).status).toBe(403);
  });
});
