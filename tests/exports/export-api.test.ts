import { describe, expect, it } from "vitest";
import { apiFetch } from "../support/api-fetch.ts";
import { call, newApp } from "../support/harness.ts";
import { deliverExport, getExport, insertUser, requestExport, sha256 } from "./export-fixtures.ts";

describe("export download and isolation", () => {
  it("given a finished export, when downloading its presigned URL with a plain fetch, then the JSON array arrives under the original filename", async () => {
    const app = await newApp();
    await insertUser(app, { email: "one@example.com", createdAt: "2024-01-01T00:00:00Z" });
    await insertUser(app, { email: "two@example.com", createdAt: "2024-01-02T00:00:00Z" });
    const id = await requestExport(app, { type: "users" });
    expect(await deliverExport(id)).toEqual([]);

    const record = await getExport(app, id);
    const response = await apiFetch(record.download_url);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toContain(record.original_filename);
    const bytes = Buffer.from(await response.arrayBuffer());
    const rows = JSON.parse(bytes.toString("utf8")) as { Email: string }[];
    expect(rows.map((row) => row.Email)).toEqual(["one@example.com", "two@example.com"]);
    expect(record).toMatchObject({ size: bytes.length, checksum_sha256: sha256(bytes) });

    const list = await call("GET", "/api/v2.1/rest/exports", { app });
    expect(list.body.results.backup_histories[0]).toMatchObject({
      unique_id: id,
      status: "finished",
      total_rows: 2,
    });
  });

  it("given two applications, when B asks for or deletes A's export, then B gets 404 and A's export and file stay", async () => {
    const a = await newApp();
    const b = await newApp();
    await insertUser(a, { email: "a@example.com" });
    await insertUser(b, { email: "b@example.com" });
    const id = await requestExport(a, { type: "users" });
    expect(await deliverExport(id)).toEqual([]);

    const foreignGet = await call("GET", `/api/v2.1/rest/exports/${id}`, { app: b });
    const foreignDelete = await call("DELETE", `/api/v2.1/rest/exports/${id}`, { app: b });
    const foreignList = await call("GET", "/api/v2.1/rest/exports", { app: b });

    expect(foreignGet.status).toBe(404);
    expect(foreignDelete.status).toBe(404);
    expect(foreignList.body.results.backup_histories).toEqual([]);
    const record = await getExport(a, id);
    expect(record.status).toBe("finished");
    const rows = (await (await apiFetch(record.download_url)).json()) as { Email: string }[];
    expect(rows.map((row) => row.Email)).toEqual(["a@example.com"]);
  });

  it("given a finished export, when its owner deletes it, then the record and the file are gone", async () => {
    const app = await newApp();
    await insertUser(app);
    const id = await requestExport(app, { type: "users" });
    expect(await deliverExport(id)).toEqual([]);
    const url = (await getExport(app, id)).download_url as string;

    const deleted = await call("DELETE", `/api/v2.1/rest/exports/${id}`, { app });

    expect(deleted.status).toBe(200);
    expect(deleted.body.results.backup_history).toMatchObject({
      unique_id: id,
      status: "finished",
    });
    expect((await call("GET", `/api/v2.1/rest/exports/${id}`, { app })).status).toBe(404);
    expect((await apiFetch(url)).status).toBe(404);
  });
});
