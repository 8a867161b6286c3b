import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { presignDownload } from "../lib/jobs/files.ts";
import { deliverExport, getExport, insertUser, requestExport } from "./exports/export-fixtures.ts";
import { apiFetch } from "./support/api-fetch.ts";
import { call, newApp, type TestApp } from "./support/harness.ts";

const EXPORTS = "/api/v2.1/rest/exports";
const IMPORTS = "/api/v2.1/rest/imports";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

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

  it("given a finished export of app A, the download URL the server gives points at A's own file, which B cannot ask for", async () => {
    const [a, b] = [await newApp(), await newApp()];
    await insertUser(a, { email: `only-in-a@${a.appId}.example.com` });
    const id = await requestExport(a, { type: "users" });
    expect(await deliverExport(id)).toEqual([]);

    const record = await getExport(a, id);
    expect(record.status).toBe("finished");
    const url = new URL(record.download_url);
    // The server's choice: the file lies under A's prefix, named after the job, for an hour.
    expect(decodeURIComponent(url.pathname)).toMatch(
      new RegExp(`/exports/${escapeRegExp(encodeURIComponent(a.appId))}/${id}\\.json$`),
    );
    expect(Number(url.searchParams.get("X-Amz-Expires"))).toBe(3600);
    const file = await apiFetch(url);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-disposition")).toContain(
      `filename="${record.original_filename}"`,
    );
    const rows = (await file.json()) as { Email: string }[];
    expect(rows.map((row) => row.Email)).toEqual([`only-in-a@${a.appId}.example.com`]);
    // B is told the job does not exist, so it never gets a URL for it.
    const asB = await call("GET", `${EXPORTS}/${id}`, { app: b });
    expect(asB.status).toBe(404);
    expect(JSON.stringify(asB.body)).not.toContain(url.pathname);
  });

  it("a download URL stops working once its lifetime has passed", async () => {
    const a = await newApp();
    const id = await requestExport(a, { type: "users" });
    expect(await deliverExport(id)).toEqual([]);
    const record = await getExport(a, id);
    const key = decodeURIComponent(new URL(record.download_url).pathname).replace(/^\/[^/]+\//, "");
    // The same presigning as the server's, with a lifetime of one second. X-Amz-Date has whole
    // seconds, so the URL is certainly expired two seconds after the second it names: the wait
    // is measured from the URL itself, never from when this test happened to run.
    const shortLived = new URL(await presignDownload(key, record.original_filename, 1));
    const signedAt = Date.parse(
      (shortLived.searchParams.get("X-Amz-Date") as string).replace(
        /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
        "$1-$2-$3T$4:$5:$6Z",
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, signedAt + 2_100 - Date.now())));
    expect((await apiFetch(shortLived)).status).toBe(403);
    // The server's own URL, an hour long, still works.
    expect((await apiFetch(record.download_url)).status).toBe(200);
  });
});
